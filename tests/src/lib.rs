//! # holdfast-e2e: the harness for end-to-end tests
//!
//! Real parts only: the real server (in-process, port 0, a fresh SQLite file per test) serving the
//! real Trunk build from `dist/`, driven by Debian's headless Chromium through ChromeDriver.
//! [`with_browser`] always closes the WebDriver session and stops ChromeDriver, even when a test's
//! steps panic, so a failing test never leaves a browser behind.

use std::future::Future;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::{Client, ClientBuilder};
use holdfast_server::{AppState, Storage, serve};

/// A running server and what it needs to outlive the test.
pub struct TestServer {
    /// Base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    _dir: tempfile::TempDir,
}

/// The demo app's live signing secret and live admin key in end-to-end tests.
pub const LIVE_SECRET: &str = "sk_live_e2e";

/// A live-mode customer token for the demo app, signed as a host's backend would, with `claims`
/// over a pro customer's.
pub fn live_token(claims: &serde_json::Value) -> anyhow::Result<String> {
    let now = holdfast_server::clock::now();
    let mut all = serde_json::json!({
        "sub": "cus_live_1", "aud": holdfast_server::DEMO_APP_ID, "iat": now, "exp": now + 3600,
        "plan": "pro", "mrr_cents": 4900, "created_at": now - 400 * 86_400, "currency": "USD",
    });
    if let (Some(a), Some(c)) = (all.as_object_mut(), claims.as_object()) {
        a.extend(c.clone());
    }
    let key = jsonwebtoken::EncodingKey::from_secret(LIVE_SECRET.as_bytes())?;
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &all,
        &key,
    )?)
}

/// Where Trunk puts the build that the server serves.
pub fn dist_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist")
}

/// Starts the server in-process on 127.0.0.1:0 with a fresh SQLite file and the demo app.
pub async fn spawn_server() -> anyhow::Result<TestServer> {
    start(false).await
}

/// The dashboard's people in end-to-end tests: `(email, password, role)`.
pub const PEOPLE: [(&str, &str, &str); 2] = [
    ("owner@example.com", "owner-password-1", "owner"),
    ("viewer@example.com", "viewer-password-1", "viewer"),
];

/// Like [`spawn_server`], with the demo's seeded history (so the dashboard has numbers) and the
/// [`PEOPLE`] who sign in to it.
pub async fn spawn_dashboard_server() -> anyhow::Result<TestServer> {
    start(true).await
}

async fn start(dashboard: bool) -> anyhow::Result<TestServer> {
    let dist = dist_dir();
    if !dist.join("index.html").exists() || !dist.join("holdfast.js").exists() {
        bail!(
            "{} has no Trunk build: run `trunk build` first (scripts/test does)",
            dist.display()
        );
    }
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("holdfast.db").display());
    let storage = Storage::open(&url).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    // The demo page is served by this server: its origin is the one the demo app allows.
    holdfast_server::demo::ensure_demo_app(
        &storage,
        Some("sk_test_e2e"),
        vec![format!("http://{addr}")],
    )
    .await?;
    // Live mode too, with keys the tests know: a signing secret to sign customer tokens as a
    // host's backend would, and an admin key to read live data.
    let now = holdfast_server::clock::now();
    storage
        .add_signing_secret(
            holdfast_server::DEMO_APP_ID,
            &holdfast_server::keys::SigningSecret {
                mode: holdfast_server::keys::Mode::Live,
                kid: "live_e2e".into(),
                secret: LIVE_SECRET.into(),
                created_at: now,
                retires_at: None,
            },
            None,
        )
        .await?;
    storage
        .add_admin_key(
            &holdfast_server::keys::admin_key_from(
                holdfast_server::DEMO_APP_ID,
                holdfast_server::keys::Mode::Live,
                "e2e",
                LIVE_SECRET,
                now,
            )
            .stored,
        )
        .await?;
    if dashboard {
        if !dist.join("dashboard/index.html").exists() {
            bail!(
                "{} has no dashboard build: run `scripts/build-dashboard` first (scripts/test does)",
                dist.display()
            );
        }
        holdfast_server::demo::seed_history(&storage, now).await?;
        for (email, password, role) in PEOPLE {
            holdfast_server::operator::create_user(
                &storage,
                email,
                holdfast_server::DEMO_APP_ID,
                role,
                Some(password.into()),
                now,
            )
            .await?;
        }
    }
    tokio::spawn(serve(
        listener,
        AppState::new(storage, dist),
        std::future::pending(),
    ));
    Ok(TestServer {
        url: format!("http://{addr}"),
        _dir: dir,
    })
}

/// ChromeDriver as a child process that is killed when dropped.
struct Driver {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_driver() -> anyhow::Result<Driver> {
    let port = free_port()?;
    let child =
        Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver (scripts/test installs Debian's chromium-driver)")?;
    let driver = Driver {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    // Readiness: ChromeDriver accepts connections once it serves; bounded, no fixed sleep.
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&driver.addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            bail!("chromedriver did not listen on {} within 20 s", driver.addr);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Ok(driver)
}

/// Runs `steps` against a fresh headless Chromium, then closes the session and the driver whatever
/// happened, re-raising a panic from the steps afterwards.
pub async fn with_browser<F, Fut>(steps: F) -> anyhow::Result<()>
where
    F: FnOnce(Client) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let driver = start_driver()?;
    let profile = tempfile::tempdir()?;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://{}", driver.addr))
        .await
        .context("opening a WebDriver session in headless Chromium")?;
    let session = client.clone();
    let outcome = tokio::spawn(steps(client)).await;
    let _ = session.close().await;
    drop(driver);
    match outcome {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(e.into()),
    }
}

/// Polls `script` (a function body returning a value) until it returns something truthy, for at
/// most `timeout`: readiness by observation, never a fixed sleep.
pub async fn wait_for(
    client: &Client,
    script: &str,
    timeout: Duration,
) -> anyhow::Result<serde_json::Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let value = client.execute(script, vec![]).await?;
        let truthy = !matches!(
            value,
            serde_json::Value::Null | serde_json::Value::Bool(false)
        ) && value != serde_json::json!("")
            && value != serde_json::json!(0);
        if truthy {
            return Ok(value);
        }
        if Instant::now() > deadline {
            bail!("timed out after {timeout:?} waiting for: {script}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Steps on the demo page, the way a subscriber takes them.
pub mod demo {
    use std::time::Duration;

    use fantoccini::Client;
    use serde_json::Value;

    use super::wait_for;

    /// Runs `js` with `root` bound to the widget's shadow root, returning its value.
    pub async fn in_widget(client: &Client, js: &str) -> anyhow::Result<Value> {
        let script =
            format!("const root = document.getElementById('holdfast-root').shadowRoot; {js}");
        Ok(client.execute(&script, vec![]).await?)
    }

    /// Opens the demo page, waits for the widget, and starts the cancel flow under `profile`.
    pub async fn open_flow(client: &Client, url: &str, profile: &str) -> anyhow::Result<()> {
        client.goto(url).await?;
        wait_for(
            client,
            "return document.getElementById('holdfast-status').textContent.includes('mounted');",
            Duration::from_secs(20),
        )
        .await?;
        client
            .execute(
                &format!(
                    "document.getElementById('demo-profile').value = '{profile}'; \
                     document.getElementById('demo-locale').value = 'en'; \
                     document.getElementById('cancel-subscription').click();"
                ),
                vec![],
            )
            .await?;
        wait_for(
            client,
            "return !!document.getElementById('holdfast-root').shadowRoot.querySelector('[data-testid=hf-dialog]');",
            Duration::from_secs(10),
        )
        .await?;
        Ok(())
    }

    /// Clicks the widget control with this `data-testid` once it is there and enabled, then
    /// waits two animation frames so the next step has rendered.
    pub async fn click(client: &Client, testid: &str) -> anyhow::Result<()> {
        wait_for(
            client,
            &format!(
                "const r = document.getElementById('holdfast-root'); \
                 const el = r && r.shadowRoot.querySelector('[data-testid={testid}]'); \
                 if (el && !el.disabled) {{ el.click(); return true; }} return false;"
            ),
            Duration::from_secs(10),
        )
        .await?;
        client
            .execute_async(
                "requestAnimationFrame(() => requestAnimationFrame(arguments[0]));",
                vec![],
            )
            .await?;
        Ok(())
    }

    /// The cancel dialog's current step (`survey`, `offer`, `confirm`, `done`, ...).
    pub async fn step(client: &Client) -> anyhow::Result<String> {
        let v = in_widget(
            client,
            "const d = root.querySelector('[data-testid=hf-dialog]'); return d ? d.dataset.step : '';",
        )
        .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }
}
