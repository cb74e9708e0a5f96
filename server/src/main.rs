//! `holdfast-server`: run the Holdfast server. Every flag is also an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use holdfast_server::{AppState, DEMO_APP_ID, Settings, Storage, clock, demo, serve};
use tracing_subscriber::EnvFilter;

/// Holdfast's server: widget config, events, offers, stats, and the built widget.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "HOLDFAST_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Database URL: `sqlite://FILE` (created on first start) or `postgres://...`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://holdfast.db")]
    database_url: String,
    /// Directory with the built widget and demo page (Trunk's output).
    #[arg(long, env = "HOLDFAST_DIST", default_value = "dist")]
    dist: PathBuf,
    /// Create the demo app (`app_demo`, test mode, this server's origin allowed) with the default
    /// config and a few thousand historical sessions.
    #[arg(long, env = "HOLDFAST_DEMO")]
    demo: bool,
    /// Log one JSON object per line (for log shippers) instead of human-readable lines.
    #[arg(long, env = "HOLDFAST_LOG_JSON")]
    log_json: bool,
    /// Reverse proxies in front of the server (comma-separated addresses): requests from them are
    /// rate limited by the client address they report in `X-Forwarded-For`.
    #[arg(long, env = "HOLDFAST_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// The demo app's secret; generated when unset.
    #[arg(long, env = "HOLDFAST_DEMO_SECRET", hide_env_values = true)]
    demo_secret: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if args.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let storage = Storage::open(&args.database_url)
        .await
        .context("opening the database named by DATABASE_URL")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    if args.demo {
        let secret = match args.demo_secret {
            Some(s) => s,
            None => {
                let s = new_secret()?;
                println!("demo app {DEMO_APP_ID}: generated secret {s}");
                s
            }
        };
        // The demo page is served by this server, so its own origin is the one to allow.
        let mut origins = vec![format!("http://{addr}")];
        if addr.ip().is_loopback() {
            origins.push(format!("http://localhost:{}", addr.port()));
        }
        demo::ensure_demo_app(&storage, &secret, origins).await?;
        let seeded = demo::seed_history(&storage, clock::now()).await?;
        if seeded > 0 {
            tracing::info!(sessions = seeded, "seeded the demo app's history");
        }
    }
    tracing::info!(%addr, backend = storage.backend(), "holdfast-server listening");
    println!("Holdfast is running at http://{addr}/");
    serve(
        listener,
        AppState::with_settings(
            storage,
            args.dist,
            Settings {
                trusted_proxies: args.trusted_proxy,
                ..Settings::default()
            },
        ),
        shutdown_signal(),
    )
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// A new app secret: 24 bytes from the operating system's CSPRNG, hex-encoded.
fn new_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    Ok(bytes.iter().fold(String::from("sk_test_"), |mut s, b| {
        use std::fmt::Write;
        let _ = write!(s, "{b:02x}");
        s
    }))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
