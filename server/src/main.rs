//! `holdfast-server`: run the Holdfast server. Every flag is also an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use holdfast_core::config::Audience;
use holdfast_server::keys::Mode;
use holdfast_server::storage::apps::AppSettings;
use holdfast_server::{AppState, DEMO_APP_ID, Settings, Storage, clock, demo, operator, serve};
use tracing_subscriber::EnvFilter;

/// Holdfast's server: widget config, events, offers, stats, and the built widget. Without a
/// subcommand it starts the server; `apps` manages apps and keys on the same database.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// The server's flags.
#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HOLDFAST_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Database URL: `sqlite://FILE` (created on first start) or `postgres://...`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://holdfast.db",
        global = true
    )]
    database_url: String,
    /// Directory with the built widget and demo page (Trunk's output).
    #[arg(long, env = "HOLDFAST_DIST", default_value = "dist")]
    dist: PathBuf,
    /// Create the demo app (`app_demo`, this server's origin allowed) with the default config and
    /// a few thousand historical sessions.
    #[arg(long, env = "HOLDFAST_DEMO")]
    demo: bool,
    /// Log one JSON object per line (for log shippers) instead of human-readable lines.
    #[arg(long, env = "HOLDFAST_LOG_JSON")]
    log_json: bool,
    /// Reverse proxies in front of the server (comma-separated addresses): requests from them are
    /// rate limited by the client address they report in `X-Forwarded-For`.
    #[arg(long, env = "HOLDFAST_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// Webhook retry waits, comma-separated (`5s,5m,30m,2h,...`): the first after the first
    /// failure, and so on; after the last the message is given up. The default retries for more
    /// than three days.
    #[arg(long, env = "HOLDFAST_WEBHOOKS_RETRY_SCHEDULE", default_value = holdfast_server::webhooks::DEFAULT_RETRY_SCHEDULE)]
    webhooks_retry_schedule: String,
    /// Allow webhook URLs over plain http and to private, loopback or link-local addresses
    /// (on with `--demo`).
    #[arg(long, env = "HOLDFAST_WEBHOOKS_ALLOW_PRIVATE")]
    webhooks_allow_private: bool,
    /// Requests per second a client may make to one app, sustained (four times that across apps).
    #[arg(long, env = "HOLDFAST_RATE_LIMIT_PER_SECOND", default_value_t = 50.0)]
    rate_limit_per_second: f64,
    /// Requests a client may make to one app in a burst.
    #[arg(long, env = "HOLDFAST_RATE_LIMIT_BURST", default_value_t = 200.0)]
    rate_limit_burst: f64,
    /// The demo app's test-mode signing secret and admin key; both generated when unset.
    #[arg(long, env = "HOLDFAST_DEMO_SECRET", hide_env_values = true)]
    demo_secret: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Create, list, show and update apps, and manage their keys.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Create people who sign in to the dashboard, and give them roles on apps.
    #[command(subcommand)]
    Users(UsersCommand),
}

#[derive(clap::Subcommand, Debug)]
enum UsersCommand {
    /// Create a person (or reset their password) with a role on an app; prints a generated
    /// password once unless `HOLDFAST_USER_PASSWORD` gives one.
    Create {
        /// Their sign-in email.
        #[arg(long)]
        email: String,
        /// The app they may open.
        #[arg(long)]
        app: String,
        /// viewer (reads), editor (also config and experiments) or owner (also keys, webhooks,
        /// settings and people).
        #[arg(long, value_parser = ["viewer", "editor", "owner"])]
        role: String,
        /// The password, from the environment (never a command-line argument, which other
        /// users of the machine can read).
        #[arg(long = "password-env", default_value = "HOLDFAST_USER_PASSWORD")]
        password_env: String,
    },
}

#[derive(clap::Subcommand, Debug)]
enum AppsCommand {
    /// Create an app; prints its id and, once, its signing secrets and admin keys.
    Create {
        /// What you call it.
        #[arg(long)]
        name: String,
        /// A browser origin allowed to call the public API (repeat for several).
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// Subscriptions sold to companies (default: to consumers).
        #[arg(long)]
        business: bool,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// List every app.
    List {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Show one app's settings and keys (keys by id only).
    Show {
        /// The app id.
        app_id: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Change an app's name, origins or audience.
    Update {
        /// The app id.
        app_id: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// The allowed origins (replaces the list; repeat for several).
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// Remove every allowed origin.
        #[arg(long, conflicts_with = "origins")]
        no_origins: bool,
        /// Consumer or business subscriptions (a config change: a new config version).
        #[arg(long, value_parser = ["consumer", "business"])]
        audience: Option<String>,
    },
    /// Admin API keys and signing secrets.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(clap::Subcommand, Debug)]
enum KeysCommand {
    /// Create an admin API key; prints it once.
    Create {
        /// The app id.
        app_id: String,
        /// The mode the key acts in.
        #[arg(long)]
        mode: Mode,
        /// What the key is for (`ci`, `billing-sync`).
        #[arg(long)]
        name: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// List an app's admin keys and signing secrets (by id, never the secrets).
    List {
        /// The app id.
        app_id: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an admin key by its id.
    Revoke {
        /// The app id.
        app_id: String,
        /// The key's id (its first characters, as listed).
        key_id: String,
    },
    /// Start a new signing secret; the current one keeps verifying tokens for the grace period.
    RotateSigning {
        /// The app id.
        app_id: String,
        /// The mode whose secret to rotate.
        #[arg(long)]
        mode: Mode,
        /// How long the current secret stays valid: `0`, `90s`, `30m`, `24h`, `7d`.
        #[arg(long, default_value = "24h", value_parser = parse_duration)]
        grace: i64,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// Seconds from `0`, `90s`, `30m`, `24h` or `7d`.
fn parse_duration(s: &str) -> Result<i64, String> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and a unit, like 24h"))?;
    let unit = match unit {
        "" if n == 0 => 0,
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: the unit is s, m, h or d")),
    };
    n.checked_mul(unit)
        .filter(|g| *g <= 365 * 86_400)
        .ok_or_else(|| format!("{s:?}: at most a year"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Some(Command::Apps(command)) => apps(&args.serve.database_url, command).await,
        Some(Command::Users(command)) => users(&args.serve.database_url, command).await,
        None => run_server(args.serve).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line that says what failed and why, not a backtrace.
            eprintln!("holdfast-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run_server(args: ServeArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.rate_limit_per_second > 0.0 && args.rate_limit_burst >= 1.0,
        "--rate-limit-per-second must be above 0 and --rate-limit-burst at least 1"
    );
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
        // The demo page is served by this server, so its own origin is the one to allow.
        let mut origins = vec![format!("http://{addr}")];
        if addr.ip().is_loopback() {
            origins.push(format!("http://localhost:{}", addr.port()));
        }
        if let Some(keys) =
            demo::ensure_demo_app(&storage, args.demo_secret.as_deref(), origins).await?
        {
            println!(
                "demo app {DEMO_APP_ID} (test mode): signing secret {} admin key {}",
                keys.signing_secret, keys.admin_key
            );
        }
        holdfast_server::routes::demo::ensure_inbox(&storage, &format!("http://{addr}")).await?;
        println!("demo webhooks arrive at http://{addr}/demo/webhooks");
        // The demo's owner: its password is HOLDFAST_DEMO_PASSWORD, or a new one each start.
        let owner = holdfast_server::operator::create_user(
            &storage,
            "demo@holdfast.local",
            DEMO_APP_ID,
            "owner",
            std::env::var("HOLDFAST_DEMO_PASSWORD").ok(),
            clock::now(),
        )
        .await?;
        match owner.generated_password {
            Some(password) => println!(
                "the dashboard is at http://{addr}/dashboard/: sign in as {} with password {password}",
                owner.email
            ),
            None => println!(
                "the dashboard is at http://{addr}/dashboard/: sign in as {} with HOLDFAST_DEMO_PASSWORD",
                owner.email
            ),
        }
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
                rate_limit: holdfast_server::RateLimit {
                    per_second: args.rate_limit_per_second,
                    burst: args.rate_limit_burst,
                },
                webhooks: holdfast_server::webhooks::WebhookSettings {
                    retry_schedule: holdfast_server::webhooks::parse_schedule(
                        &args.webhooks_retry_schedule,
                    )
                    .map_err(|e| anyhow::anyhow!("HOLDFAST_WEBHOOKS_RETRY_SCHEDULE: {e}"))?,
                    allow_private: args.webhooks_allow_private || args.demo,
                    ..holdfast_server::webhooks::WebhookSettings::default()
                },
                demo: args.demo,
                ..Settings::default()
            },
        ),
        shutdown_signal(),
    )
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// `holdfast-server apps ...`: works on the database directly, where the server runs.
async fn users(database_url: &str, command: UsersCommand) -> anyhow::Result<()> {
    let storage = Storage::open_admin(database_url)
        .await
        .context("opening the database named by DATABASE_URL")?;
    let UsersCommand::Create {
        email,
        app,
        role,
        password_env,
    } = command;
    let created = holdfast_server::operator::create_user(
        &storage,
        &email,
        &app,
        &role,
        std::env::var(&password_env).ok(),
        clock::now(),
    )
    .await?;
    println!("{} is {role} of {app}", created.email);
    if let Some(password) = created.generated_password {
        println!("  password  {password}  (shown once: pass it on)");
    }
    Ok(())
}

async fn apps(database_url: &str, command: AppsCommand) -> anyhow::Result<()> {
    let storage = Storage::open_admin(database_url)
        .await
        .context("opening the database named by DATABASE_URL")?;
    let now = clock::now();
    match command {
        AppsCommand::Create {
            name,
            origins,
            business,
            json,
        } => {
            let settings = AppSettings {
                name: name.clone(),
                origins,
            };
            let mut config = holdfast_core::config::AppConfig::default();
            if business {
                config.policy.audience = Audience::Business;
            }
            let config = serde_json::to_string(&config)?;
            let created = operator::create_app(&storage, settings, config, now).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&created)?);
            } else {
                println!("Created app {} ({name})", created.app_id);
                for (mode, keys) in [("test", &created.test), ("live", &created.live)] {
                    println!("  {mode} mode");
                    println!(
                        "    signing secret  {}  (kid {})",
                        keys.signing_secret, keys.kid
                    );
                    println!("    admin key       {}", keys.admin_key);
                }
                println!(
                    "These are shown once. Keep the signing secrets on your backend: they sign customer tokens."
                );
            }
        }
        AppsCommand::List { json } => {
            let apps = storage.apps().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&apps)?);
            } else {
                for app in apps {
                    println!(
                        "{}  {}  origins: {}",
                        app.id,
                        app.settings.name,
                        app.settings.origins.join(" ")
                    );
                }
            }
        }
        AppsCommand::Show { app_id, json } => {
            let app = storage
                .app(&app_id)
                .await?
                .with_context(|| format!("no app {app_id}"))?;
            let keys = key_listing(&storage, &app_id).await?;
            let audience =
                serde_json::from_str::<holdfast_core::config::AppConfig>(&app.config_json)
                    .map(|c| c.policy.audience)
                    .unwrap_or(Audience::Consumer);
            let audience = if audience == Audience::Business {
                "business"
            } else {
                "consumer"
            };
            if json {
                let out = serde_json::json!({
                    "app_id": app.id,
                    "name": app.settings.name,
                    "origins": app.settings.origins,
                    "audience": audience,
                    "config_version": app.config_version,
                    "keys": keys,
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("{}  {}", app.id, app.settings.name);
                println!("  audience  {audience}");
                println!("  origins   {}", app.settings.origins.join(" "));
                println!("  config    version {}", app.config_version);
                print_keys(&keys);
            }
        }
        AppsCommand::Update {
            app_id,
            name,
            origins,
            no_origins,
            audience,
        } => {
            let app = storage
                .app(&app_id)
                .await?
                .with_context(|| format!("no app {app_id}"))?;
            let mut settings = app.settings;
            if let Some(name) = name {
                settings.name = name;
            }
            if no_origins {
                settings.origins.clear();
            } else if !origins.is_empty() {
                settings.origins = origins;
            }
            operator::check_settings(&settings).map_err(anyhow::Error::msg)?;
            storage.update_app(&app_id, &settings).await?;
            if let Some(audience) = audience {
                let audience = if audience == "business" {
                    Audience::Business
                } else {
                    Audience::Consumer
                };
                let version = operator::set_audience(&storage, &app_id, audience, now).await?;
                println!("Config version {version} sells to {audience:?} subscribers.");
            }
            println!("Updated {app_id}: {}", serde_json::to_string(&settings)?);
        }
        AppsCommand::Keys(command) => keys(&storage, command, now).await?,
    }
    Ok(())
}

async fn keys(storage: &Storage, command: KeysCommand, now: i64) -> anyhow::Result<()> {
    let exists = |app: Option<holdfast_server::storage::AppRecord>, id: &str| {
        app.map(|_| ()).with_context(|| format!("no app {id}"))
    };
    match command {
        KeysCommand::Create {
            app_id,
            mode,
            name,
            json,
        } => {
            exists(storage.app(&app_id).await?, &app_id)?;
            let key = operator::create_admin_key(storage, &app_id, mode, &name, now).await?;
            if json {
                let out = serde_json::json!({ "id": key.stored.id, "mode": mode, "name": name, "admin_key": key.key });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "Admin key {} ({mode} mode, {name}): {}",
                    key.stored.id, key.key
                );
                println!("It is shown once.");
            }
        }
        KeysCommand::List { app_id, json } => {
            exists(storage.app(&app_id).await?, &app_id)?;
            let keys = key_listing(storage, &app_id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                print_keys(&keys);
            }
        }
        KeysCommand::Revoke { app_id, key_id } => {
            if storage.revoke_admin_key(&app_id, &key_id, now).await? {
                println!("Revoked {key_id}");
            } else {
                anyhow::bail!("{app_id} has no admin key {key_id}");
            }
        }
        KeysCommand::RotateSigning {
            app_id,
            mode,
            grace,
            json,
        } => {
            exists(storage.app(&app_id).await?, &app_id)?;
            let secret = operator::rotate_signing(storage, &app_id, mode, grace, now).await?;
            if json {
                let out = serde_json::json!({ "mode": mode, "kid": secret.kid, "signing_secret": secret.secret, "previous_valid_until": now + grace });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "New {mode} signing secret {} (kid {}); the previous one verifies tokens for {grace} s more.",
                    secret.secret, secret.kid
                );
            }
        }
    }
    Ok(())
}

/// Keys as listed: ids, names, modes and dates, never a secret.
async fn key_listing(storage: &Storage, app_id: &str) -> anyhow::Result<serde_json::Value> {
    let admin: Vec<_> = storage
        .admin_keys(app_id)
        .await?
        .into_iter()
        .map(|k| {
            serde_json::json!({
                "id": k.id, "mode": k.mode, "name": k.name,
                "created_at": k.created_at, "revoked_at": k.revoked_at,
            })
        })
        .collect();
    let signing: Vec<_> = storage
        .signing_secrets(app_id)
        .await?
        .into_iter()
        .map(|s| {
            serde_json::json!({
                "kid": s.kid, "mode": s.mode, "created_at": s.created_at, "retires_at": s.retires_at,
            })
        })
        .collect();
    Ok(serde_json::json!({ "admin_keys": admin, "signing_secrets": signing }))
}

fn print_keys(keys: &serde_json::Value) {
    println!("  admin keys");
    for k in keys["admin_keys"].as_array().into_iter().flatten() {
        let state = if k["revoked_at"].is_null() {
            "active"
        } else {
            "revoked"
        };
        println!(
            "    {}  {}  {}  {state}",
            k["id"].as_str().unwrap_or_default(),
            k["mode"].as_str().unwrap_or_default(),
            k["name"].as_str().unwrap_or_default()
        );
    }
    println!("  signing secrets");
    for s in keys["signing_secrets"].as_array().into_iter().flatten() {
        let state = match s["retires_at"].as_i64() {
            None => "current".to_string(),
            Some(t) => format!("retires at {t}"),
        };
        println!(
            "    {}  {}  {state}",
            s["kid"].as_str().unwrap_or_default(),
            s["mode"].as_str().unwrap_or_default()
        );
    }
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
