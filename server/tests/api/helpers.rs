//! `spawn_app()`: a real server on 127.0.0.1:0 over a fresh SQLite file, with a test-mode app and
//! a live-mode app, and a client that speaks to it.

use holdfast_core::Customer;
use holdfast_core::config::AppConfig;
use holdfast_server::storage::NewApp;
use holdfast_server::{AppState, RateLimit, Settings, Storage, serve};
use reqwest::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

/// The test-mode app: unsigned customers allowed.
pub const TEST_APP: &str = "app_test";
/// Its secret.
pub const TEST_SECRET: &str = "sk_test_secret";
/// The live-mode app: customers must be signed.
pub const LIVE_APP: &str = "app_live";
/// Its secret.
pub const LIVE_SECRET: &str = "sk_live_secret";
/// The origin both apps allow.
pub const ORIGIN: &str = "https://shop.example";

pub struct TestApp {
    pub url: String,
    pub client: Client,
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
    let storage = Storage::open(&url).await.expect("storage opens");
    let config = serde_json::to_string(&AppConfig::default()).expect("config serializes");
    for (id, secret, live) in [
        (TEST_APP, TEST_SECRET, false),
        (LIVE_APP, LIVE_SECRET, true),
    ] {
        storage
            .ensure_app(&NewApp {
                id: id.into(),
                secret: secret.into(),
                live,
                origins: vec![ORIGIN.into()],
                config_json: config.clone(),
                now: 1_700_000_000,
            })
            .await
            .expect("app created");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = AppState::with_settings(storage, dir.path(), settings);
    tokio::spawn(serve(listener, state, std::future::pending()));
    TestApp {
        url: format!("http://{addr}"),
        client: Client::new(),
        _dir: dir,
    }
}

impl TestApp {
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

    pub async fn post_events(&self, app: &str, body: &Value) -> Response {
        self.post(&format!("/v1/apps/{app}/events"))
            .header("origin", ORIGIN)
            .json(body)
            .send()
            .await
            .expect("request sent")
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
