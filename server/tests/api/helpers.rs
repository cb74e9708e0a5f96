//! `spawn_app()`: a real server on 127.0.0.1:0 over a fresh SQLite file, with two apps and known
//! keys (a test-mode admin key and signing secret for `TEST_APP`, live-mode ones for `LIVE_APP`),
//! customer tokens signed as a host's backend would, and a client that speaks to it.

use holdfast_core::Customer;
use holdfast_core::config::AppConfig;
use holdfast_server::keys::{Mode, SigningSecret, admin_key_from};
use holdfast_server::storage::NewApp;
use holdfast_server::{AppState, RateLimit, Settings, Storage, serve};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

/// An app tried in test mode: plain customer objects.
pub const TEST_APP: &str = "app_test";
/// Its test-mode signing secret and admin key.
pub const TEST_SECRET: &str = "sk_test_secret";
/// An app in production: customers arrive as tokens signed with its live signing secret.
pub const LIVE_APP: &str = "app_live";
/// Its live-mode signing secret and admin key.
pub const LIVE_SECRET: &str = "sk_live_secret";
/// The live signing secret's key id.
pub const LIVE_KID: &str = "live_k1";
/// A test-mode admin key of `LIVE_APP`: its staging data.
pub const LIVE_APP_TEST_KEY: &str = "sk_live_app_test_key";
/// The origin both apps allow.
pub const ORIGIN: &str = "https://shop.example";

pub struct TestApp {
    pub url: String,
    pub client: Client,
    /// The server's storage, for tests that seed history no API call can backdate.
    pub storage: Storage,
    _dir: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Settings {
        rate_limit: RateLimit {
            per_second: 10_000.0,
            burst: 10_000.0,
        },
        ..Settings::default()
    })
    .await
}

pub async fn spawn_app_with(settings: Settings) -> TestApp {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}", dir.path().join("holdfast.db").display());
    spawn_seeded(&url, dir, settings).await
}

/// A server with the test apps on the real PostgreSQL of `scripts/test`, if it is there. Tests
/// share that database, so they use customer and session ids of their own.
pub async fn spawn_app_on_postgres() -> Option<TestApp> {
    spawn_app_on_postgres_with(Settings::default()).await
}

/// As [`spawn_app_on_postgres`], with explicit settings.
pub async fn spawn_app_on_postgres_with(settings: Settings) -> Option<TestApp> {
    let url = std::env::var("HOLDFAST_TEST_POSTGRES_URL").ok()?;
    let dir = tempfile::tempdir().expect("a temp dir");
    Some(spawn_seeded(&url, dir, settings).await)
}

async fn spawn_seeded(url: &str, dir: tempfile::TempDir, settings: Settings) -> TestApp {
    let storage = Storage::open(url).await.expect("storage opens");
    seed(&storage).await;
    serve_storage(storage, dir, settings).await
}

/// The test apps and their keys.
async fn seed(storage: &Storage) {
    let config = serde_json::to_string(&AppConfig::default()).expect("config serializes");
    for (id, secret, mode) in [
        (TEST_APP, TEST_SECRET, Mode::Test),
        (LIVE_APP, LIVE_SECRET, Mode::Live),
    ] {
        storage
            .ensure_app(&NewApp {
                id: id.into(),
                name: id.into(),
                origins: vec![ORIGIN.into()],
                config_json: config.clone(),
                now: 1_700_000_000,
            })
            .await
            .expect("app created");
        let kid = if mode == Mode::Live {
            LIVE_KID
        } else {
            "test_k1"
        };
        storage
            .add_signing_secret(
                id,
                &SigningSecret {
                    mode,
                    kid: kid.into(),
                    secret: secret.into(),
                    created_at: 1_700_000_000,
                    retires_at: None,
                },
                None,
            )
            .await
            .expect("signing secret");
        storage
            .add_admin_key(&admin_key_from(id, mode, "tests", secret, 1_700_000_000).stored)
            .await
            .expect("admin key");
    }
    storage
        .add_admin_key(
            &admin_key_from(
                LIVE_APP,
                Mode::Test,
                "staging",
                LIVE_APP_TEST_KEY,
                1_700_000_000,
            )
            .stored,
        )
        .await
        .expect("admin key");
}

/// A server whose aggregator never runs, as if folding could not keep up: a backlog only grows.
pub async fn spawn_app_stalled(settings: Settings) -> TestApp {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}", dir.path().join("holdfast.db").display());
    let stalled = Storage::open_with(
        &url,
        holdfast_server::storage::IngestOptions {
            aggregate: false,
            ..holdfast_server::storage::IngestOptions::default()
        },
    )
    .await
    .expect("storage opens");
    seed(&stalled).await;
    serve_storage(stalled, dir, settings).await
}

/// A server over the database `url` as it is (no apps added), e.g. one the CLI prepared.
pub async fn spawn_app_on(url: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("a temp dir");
    let storage = Storage::open(url).await.expect("storage opens");
    serve_storage(storage, dir, Settings::default()).await
}

async fn serve_storage(storage: Storage, dir: tempfile::TempDir, settings: Settings) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = AppState::with_settings(storage.clone(), dir.path(), settings);
    tokio::spawn(serve(listener, state, std::future::pending()));
    TestApp {
        url: format!("http://{addr}"),
        client: Client::new(),
        storage,
        _dir: dir,
    }
}

impl TestApp {
    /// The directory the server serves static files from.
    pub fn dist(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(format!("{}{path}", self.url))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(format!("{}{path}", self.url))
    }

    pub fn admin(&self, method: reqwest::Method, app: &str, path: &str) -> RequestBuilder {
        let secret = if app == LIVE_APP {
            LIVE_SECRET
        } else {
            TEST_SECRET
        };
        self.client
            .request(method, format!("{}/v1/admin/apps/{app}{path}", self.url))
            .bearer_auth(secret)
    }

    /// An admin request with a given key.
    pub fn admin_with(
        &self,
        method: reqwest::Method,
        app: &str,
        key: &str,
        path: &str,
    ) -> RequestBuilder {
        self.client
            .request(method, format!("{}/v1/admin/apps/{app}{path}", self.url))
            .bearer_auth(key)
    }

    pub async fn post_events(&self, app: &str, body: &Value) -> Response {
        self.post(&format!("/v1/apps/{app}/events"))
            .header("origin", ORIGIN)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Plays a [`session`] as the widget does: its events, and for a save the acceptance call
    /// that records it (a cancellation is recorded from its `cancel_confirmed` event).
    pub async fn play(&self, app: &str, body: &Value) {
        let r = self.post_events(app, body).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        let events = body["events"].as_array().expect("events");
        let last = events.last().expect("an event");
        if last["type"] == "offer_accepted" {
            let accept = json!({
                "customer": body["customer"],
                "session_id": last["session_id"],
                "event_id": uuid(),
                "reason": events.iter().find_map(|e| e.get("reason").cloned()),
                "offer_id": last["offer_id"],
            });
            let r = self.accept(app, &accept).await;
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        }
    }

    pub async fn accept(&self, app: &str, body: &Value) -> Response {
        self.post(&format!("/v1/apps/{app}/offers/accept"))
            .header("origin", ORIGIN)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn put_config(&self, app: &str, config: &Value) -> Response {
        self.admin(reqwest::Method::PUT, app, "/config")
            .json(config)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn stats(&self, app: &str, query: &str) -> Value {
        let r = self
            .admin(reqwest::Method::GET, app, &format!("/stats?{query}"))
            .send()
            .await
            .expect("request sent");
        assert_eq!(r.status(), 200);
        r.json().await.expect("json")
    }
}

pub async fn json_of(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let body = r.json().await.expect("a JSON body");
    (status, body)
}

/// What a refused request must have answered: its status, and the error body's `code` and `field`
/// (`{ "error": { "code", "message", "field" } }`). A part not given is not checked, so a test
/// states exactly what it refuses: `refusal(422).field("period_end")`,
/// `refusal(404).code("version_not_found").field("version")`.
#[derive(Debug, Clone, Copy)]
pub struct Refusal<'a> {
    status: u16,
    code: Option<&'a str>,
    field: Option<&'a str>,
}

/// A refusal with this status; add `.code(..)` and `.field(..)` to check those too.
pub fn refusal<'a>(status: u16) -> Refusal<'a> {
    Refusal {
        status,
        code: None,
        field: None,
    }
}

impl<'a> Refusal<'a> {
    /// The error code the body must carry (`invalid_id`, `token_expired`).
    pub fn code(self, code: &'a str) -> Self {
        Self {
            code: Some(code),
            ..self
        }
    }

    /// The field the body must name (`period_end`, `events[0].prompt`).
    pub fn field(self, field: &'a str) -> Self {
        Self {
            field: Some(field),
            ..self
        }
    }
}

/// Asserts that `(status, body)` is the refusal `expected`, showing the whole body when it is not.
#[track_caller]
pub fn assert_refused(status: u16, body: &Value, expected: Refusal<'_>) {
    assert_eq!(status, expected.status, "status of {body}");
    if let Some(code) = expected.code {
        assert_eq!(body["error"]["code"], code, "error code of {body}");
    }
    if let Some(field) = expected.field {
        assert_eq!(body["error"]["field"], field, "error field of {body}");
    }
}

/// A pro-plan customer of a year's tenure.
pub fn customer(id: &str) -> Value {
    serde_json::to_value(Customer::new(id, "pro", 4900, now() - 365 * 86_400)).expect("customer")
}

pub fn now() -> i64 {
    holdfast_server::clock::now()
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An event of `kind` in `session` at `at_ms`, with extra fields merged in.
pub fn event(kind: &str, session: &str, at_ms: i64, extra: Value) -> Value {
    let mut e = json!({ "id": uuid(), "type": kind, "at": at_ms, "session_id": session });
    if let (Some(e), Some(extra)) = (e.as_object_mut(), extra.as_object()) {
        e.extend(extra.clone());
    }
    e
}

/// A whole cancel session: started, reason, offer shown, then `ending` (with the offer for
/// `offer_accepted`).
pub fn session(customer_id: &str, reason: &str, offer: &str, ending: &str, at_s: i64) -> Value {
    let s = uuid();
    let ms = at_s * 1000;
    let mut events = vec![
        event("flow_started", &s, ms, json!({})),
        event(
            "reason_selected",
            &s,
            ms + 1000,
            json!({ "reason": reason }),
        ),
        event("offer_shown", &s, ms + 2000, json!({ "offer_id": offer })),
    ];
    let extra = if ending == "offer_accepted" {
        json!({ "offer_id": offer })
    } else {
        json!({})
    };
    events.push(event(ending, &s, ms + 3000, extra));
    json!({ "customer": customer(customer_id), "events": events })
}

/// A customer token for `app`, signed with `secret` as a host's backend would: the claims of
/// [`customer`] `id`, valid for an hour, with `extra` claims merged over them (`null` removes one).
pub fn token_with(app: &str, secret: &str, kid: Option<&str>, id: &str, extra: Value) -> String {
    let mut claims = json!({
        "sub": id,
        "aud": app,
        "iat": now(),
        "exp": now() + 3600,
        "plan": "pro",
        "mrr_cents": 4900,
        "created_at": now() - 365 * 86_400,
    });
    if let (Some(c), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            if v.is_null() {
                c.remove(k);
            } else {
                c.insert(k.clone(), v.clone());
            }
        }
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = kid.map(str::to_string);
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).expect("a secret");
    jsonwebtoken::encode(&header, &claims, &key).expect("token signs")
}

/// A live-mode token for `LIVE_APP`'s customer `id`.
pub fn signed(id: &str) -> Value {
    json!(token_with(
        LIVE_APP,
        LIVE_SECRET,
        Some(LIVE_KID),
        id,
        json!({})
    ))
}

/// `holdfast-server` as a process on the database `db`, with extra environment (so a test can
/// kill it with SIGKILL); the process and its base URL, once it says where it listens.
pub fn server_process(db: &str, env: &[(&str, &str)]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_holdfast-server"))
        .args(["--listen", "127.0.0.1:0", "--dist", "/nonexistent"])
        .env("DATABASE_URL", db)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the server starts");
    let stdout = child.stdout.take().expect("its output");
    let line = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("Holdfast is running at "))
        .expect("the server says where it listens");
    let url = line
        .trim_start_matches("Holdfast is running at ")
        .trim_end_matches('/')
        .to_string();
    (child, url)
}

/// Runs `holdfast-server` with `args` on the database `db`; its standard output.
pub fn cli(db: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_holdfast-server"))
        .args(args)
        .env("DATABASE_URL", db)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "holdfast-server {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("text")
}
