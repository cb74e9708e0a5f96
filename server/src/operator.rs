//! What an operator does to apps and keys: the use cases behind `holdfast-server apps ...`, the
//! admin API's app settings and the demo app. Generated secrets are returned once, for the
//! caller to show; only what `keys` says is stored is kept.

use serde::Serialize;

use crate::Storage;
use crate::keys::{self, AdminKey, Mode, NewAdminKey, SigningSecret};
use crate::storage::apps::{AppSettings, CreateApp};
use holdfast_core::config::{AppConfig, Audience};

/// The keys of one mode, as printed when an app is created.
#[derive(Debug, Clone, Serialize)]
pub struct ModeKeys {
    /// Signs customer tokens: for the host's backend only.
    pub signing_secret: String,
    /// The signing secret's key id (a token's optional `kid` header).
    pub kid: String,
    /// An admin API key of this mode: `Authorization: Bearer <admin_key>`.
    pub admin_key: String,
}

/// A created app and its first keys, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedApp {
    /// The public id, for the script tag.
    pub app_id: String,
    /// Test mode's keys.
    pub test: ModeKeys,
    /// Live mode's keys.
    pub live: ModeKeys,
}

/// Checks settings as an operator gives them: a name, origins that are origins.
pub fn check_settings(settings: &AppSettings) -> Result<(), String> {
    if settings.name.trim().is_empty() || settings.name.chars().count() > 100 {
        return Err("name: 1 to 100 characters".into());
    }
    if settings.origins.len() > 50 {
        return Err("origins: at most 50".into());
    }
    for origin in &settings.origins {
        check_origin(origin)?;
    }
    Ok(())
}

/// An origin is a scheme, a host and an optional port, nothing else: what browsers send in
/// `Origin`, compared exactly.
pub fn check_origin(origin: &str) -> Result<(), String> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("origin {origin:?}: must start with https:// or http://"))?;
    let ok = !rest.is_empty()
        && rest.len() <= 253
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "origin {origin:?}: scheme, host and port only (no path, no trailing slash)"
        ))
    }
}

/// Creates an app with the default config and a signing secret and an admin key per mode.
pub async fn create_app(
    storage: &Storage,
    settings: AppSettings,
    config_json: String,
    now: i64,
) -> anyhow::Result<CreatedApp> {
    check_settings(&settings).map_err(anyhow::Error::msg)?;
    let app_id = keys::new_app_id()?;
    let mut printed = Vec::new();
    let mut signing_secrets = Vec::new();
    let mut admin_keys = Vec::new();
    for mode in Mode::ALL {
        let secret = keys::new_signing_secret(mode, now)?;
        let admin = keys::new_admin_key(&app_id, mode, "created with the app", now)?;
        printed.push(ModeKeys {
            signing_secret: secret.secret.clone(),
            kid: secret.kid.clone(),
            admin_key: admin.key.clone(),
        });
        signing_secrets.push(secret);
        admin_keys.push(admin.stored);
    }
    storage
        .create_app(&CreateApp {
            id: app_id.clone(),
            settings,
            config_json,
            now,
            signing_secrets,
            admin_keys,
        })
        .await?;
    let live = printed
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no live keys"))?;
    let test = printed
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no test keys"))?;
    Ok(CreatedApp { app_id, test, live })
}

/// Sets whether the app sells to consumers or businesses: a field of its config (which decides
/// the cancellation rules), so the change is a new config version like any other. Returns it.
pub async fn set_audience(
    storage: &Storage,
    app_id: &str,
    audience: Audience,
    now: i64,
) -> anyhow::Result<i64> {
    let app = storage
        .app(app_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no app {app_id}"))?;
    let mut config: AppConfig = serde_json::from_str(&app.config_json)?;
    if config.policy.audience == audience {
        return Ok(app.config_version);
    }
    config.policy.audience = audience;
    storage
        .replace_config(app_id, &serde_json::to_string(&config)?, now)
        .await
}

/// Starts a new signing secret for `mode`; the current ones keep verifying for `grace_secs`.
pub async fn rotate_signing(
    storage: &Storage,
    app_id: &str,
    mode: Mode,
    grace_secs: i64,
    now: i64,
) -> anyhow::Result<SigningSecret> {
    let secret = keys::new_signing_secret(mode, now)?;
    storage
        .add_signing_secret(app_id, &secret, Some(now + grace_secs.max(0)))
        .await?;
    Ok(secret)
}

/// Creates a named admin key for `mode`.
pub async fn create_admin_key(
    storage: &Storage,
    app_id: &str,
    mode: Mode,
    name: &str,
    now: i64,
) -> anyhow::Result<NewAdminKey> {
    let key = keys::new_admin_key(app_id, mode, name, now)?;
    storage.add_admin_key(&key.stored).await?;
    Ok(key)
}

/// The demo app's test-mode keys. With a chosen value (`HOLDFAST_DEMO_SECRET`) it is both the
/// signing secret and an admin key; otherwise both are generated and returned to be printed, and
/// the admin keys earlier starts generated are revoked.
pub async fn ensure_demo_keys(
    storage: &Storage,
    app_id: &str,
    chosen: Option<&str>,
    now: i64,
) -> anyhow::Result<Option<ModeKeys>> {
    let (signing, admin, generated) = match chosen {
        Some(value) => (
            value.to_string(),
            keys::admin_key_from(app_id, Mode::Test, "demo", value, now),
            false,
        ),
        None => (
            keys::new_signing_secret(Mode::Test, now)?.secret,
            keys::new_admin_key(app_id, Mode::Test, "demo", now)?,
            true,
        ),
    };
    let secret = SigningSecret {
        mode: Mode::Test,
        kid: "demo".into(),
        secret: signing.clone(),
        created_at: now,
        retires_at: None,
    };
    storage.add_signing_secret(app_id, &secret, None).await?;
    if generated {
        let earlier: Vec<AdminKey> = storage.admin_keys(app_id).await?;
        for k in earlier
            .iter()
            .filter(|k| k.name == "demo" && k.revoked_at.is_none())
        {
            storage.revoke_admin_key(app_id, &k.id, now).await?;
        }
    }
    storage.add_admin_key(&admin.stored).await?;
    Ok(generated.then(|| ModeKeys {
        signing_secret: signing,
        kid: "demo".into(),
        admin_key: admin.key,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert!(check_origin("https://app.acme.com").is_ok());
        assert!(check_origin("http://127.0.0.1:8080").is_ok());
        assert!(check_origin("https://app.acme.com/").is_err());
        assert!(check_origin("app.acme.com").is_err());
        assert!(check_origin("https://acme.com/path").is_err());
    }
}

/// A person created by [`create_user`].
#[derive(Debug, Clone)]
pub struct CreatedUser {
    /// Their email, as stored.
    pub email: String,
    /// The password generated for them, when none was given: shown once.
    pub generated_password: Option<String>,
}

/// Creates a person (or resets their password) with `role` on `app_id`; without a password one
/// is generated. Used by `holdfast-server users create` and the demo.
pub async fn create_user(
    storage: &Storage,
    email: &str,
    app_id: &str,
    role: &str,
    password: Option<String>,
    now: i64,
) -> anyhow::Result<CreatedUser> {
    let email = crate::accounts::normal_email(email)
        .map_err(|_| anyhow::anyhow!("{email:?} is not an email address"))?;
    if crate::accounts::Role::parse(role).is_none() {
        anyhow::bail!("{role:?} is not a role: viewer, editor or owner");
    }
    if storage.app(app_id).await?.is_none() {
        anyhow::bail!("there is no app {app_id:?}");
    }
    let generated = password.is_none();
    let password = match password {
        Some(p) if p.chars().count() >= 12 => p,
        Some(_) => anyhow::bail!("a password needs at least 12 characters"),
        None => crate::accounts::random_token()?,
    };
    let hash = crate::accounts::hash_password(&password)?;
    let user_id = storage.upsert_user(&email, &hash, now).await?;
    storage.set_role(&user_id, app_id, role, now).await?;
    Ok(CreatedUser {
        email,
        generated_password: generated.then_some(password),
    })
}
