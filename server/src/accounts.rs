//! People who sign in (the growth team's dashboard): passwords, sessions and roles.
//!
//! - A password is kept as an Argon2id hash (RustCrypto's `argon2`, its default parameters); a
//!   sign-in for an unknown email still verifies against a fixed hash, so timing does not say
//!   which emails exist, and both failures get the same answer.
//! - A session is a random 32-byte cookie value (`holdfast_session`, `HttpOnly`,
//!   `SameSite=Strict`, `Secure` behind https), stored as its SHA-256 only, for 12 hours. Every
//!   state-changing request made with it carries the session's anti-forgery value in
//!   `X-CSRF-Token`.
//! - A person has a role per app: a viewer reads; an editor also changes the config and runs
//!   experiments; an owner also manages keys, webhooks, the app's settings and people. Admin API
//!   keys keep working for scripts, unchanged.

use axum::http::{HeaderMap, Method, header};

use crate::error::ApiError;

/// The session cookie's name.
pub const COOKIE: &str = "holdfast_session";
/// How long a session lasts, in seconds.
pub const SESSION_SECONDS: i64 = 12 * 3600;
/// The header a session's state-changing requests carry its anti-forgery value in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What a person may do on an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything of the app.
    Viewer,
    /// Also changes the config and runs experiments.
    Editor,
    /// Also manages keys, webhooks, the app's settings and people.
    Owner,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Owner => "owner",
        }
    }

    /// A role by its stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [Role::Viewer, Role::Editor, Role::Owner]
            .into_iter()
            .find(|r| r.as_str() == name)
    }

    /// The least role an admin request needs: reading needs a viewer; keys, webhooks, the
    /// app's settings and people need an owner; every other change (config, experiments,
    /// lifecycle events) an editor.
    pub fn needed(method: &Method, path: &str) -> Role {
        if *method == Method::GET || *method == Method::HEAD {
            return Role::Viewer;
        }
        // `/v1/admin/apps/{app}` itself, or one of the owner's resources under it.
        let rest = path
            .strip_prefix("/v1/admin/apps/")
            .and_then(|r| r.split_once('/').map(|(_, rest)| rest))
            .unwrap_or("");
        if rest.is_empty()
            || ["webhooks", "keys", "people"]
                .iter()
                .any(|p| rest.starts_with(p))
        {
            Role::Owner
        } else {
            Role::Editor
        }
    }
}

/// Hashes a password with Argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .to_string())
}

/// Whether `password` matches the stored hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash nobody's password matches, verified when the email is unknown so a failed sign-in
/// takes as long either way.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("holdfast decoy password").unwrap_or_default())
}

/// A random value for a cookie, a password or an anti-forgery value: 32 bytes, URL-safe base64.
pub fn random_token() -> anyhow::Result<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// How a session cookie is stored: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The session cookie's value in a request, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

/// The `Set-Cookie` value that starts a session (`secure` behind https) or, with `None`, ends it.
pub fn set_cookie(token: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(token) => format!(
            "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}{secure}"
        ),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// Whether the request reached the server over https (directly or as a trusted proxy says).
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// An email as stored: trimmed and lowercased; refused unless it looks like one.
pub fn normal_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        Ok(email)
    } else {
        Err(ApiError::invalid("email", "expected an email address"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", decoy_hash()));
    }

    #[test]
    fn each_request_needs_its_least_role() {
        let needed = |m: Method, p: &str| Role::needed(&m, p);
        assert_eq!(
            needed(Method::GET, "/v1/admin/apps/a/webhooks/endpoints"),
            Role::Viewer
        );
        assert_eq!(needed(Method::PUT, "/v1/admin/apps/a/config"), Role::Editor);
        assert_eq!(
            needed(Method::POST, "/v1/admin/apps/a/experiments/x/ship"),
            Role::Editor
        );
        assert_eq!(
            needed(Method::POST, "/v1/admin/apps/a/webhooks/endpoints"),
            Role::Owner
        );
        assert_eq!(needed(Method::PATCH, "/v1/admin/apps/a"), Role::Owner);
        assert!(Role::Owner > Role::Editor && Role::Editor > Role::Viewer);
    }

    #[test]
    fn the_session_cookie_is_found_among_others_and_set_strictly() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; holdfast_session=tok; b=2".parse().unwrap(),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("tok"));
        let set = set_cookie(Some("tok"), true);
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set_cookie(Some("tok"), false).contains("Secure"));
    }
}
