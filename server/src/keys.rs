//! An app's two modes and the keys of each.
//!
//! Every app has a **test** and a **live** mode. Config and origins belong to the app and serve
//! both; data is kept apart by mode. Each mode has its own keys, of two kinds that are never one
//! secret for everything:
//!
//! - a **signing secret**, held by the host's backend, which signs customer tokens (HS256 JWTs,
//!   see `customers`). Several may be valid at once: a rotation keeps the previous one valid
//!   until the grace period the operator chose ends, so tokens already issued keep working. Each
//!   has a key id (`kid`) a token may name.
//! - **admin API keys**, several per app and mode, named, created and revoked, used as
//!   `Authorization: Bearer` on the admin API. Only their SHA-256 is stored, and a prefix to
//!   recognise them by. A key is 32 random bytes, so a fast hash is enough: nobody can guess
//!   their way to a preimage, and each admin request verifies in microseconds (a password hash
//!   such as argon2 would cost every admin call tens of milliseconds of CPU for no gain).
//!
//! Generated values carry their kind and mode in a readable prefix (`hfs_live_...`,
//! `hfk_test_...`), so a leaked string is recognisable and a mode mix-up is visible.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Test or live: which keys signed a call, and which data it reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Staging and trying out: plain customer objects are accepted, data is kept apart.
    Test,
    /// Production: customers arrive as tokens signed with the live signing secret.
    Live,
}

impl Mode {
    /// Both modes, test first.
    pub const ALL: [Mode; 2] = [Mode::Test, Mode::Live];

    /// The stored and printed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }

    /// Whether this is live mode: the storage's `live` column.
    pub fn is_live(self) -> bool {
        self == Mode::Live
    }

    /// The mode of a stored `live` flag.
    pub fn from_live(live: bool) -> Self {
        if live { Mode::Live } else { Mode::Test }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "test" => Ok(Mode::Test),
            "live" => Ok(Mode::Live),
            other => Err(format!("expected test or live, got {other:?}")),
        }
    }
}

/// A signing secret as stored. The secret is kept in the clear: the server must compute HMACs
/// with it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret {
    /// The mode whose customers it signs.
    pub mode: Mode,
    /// Its key id: a token's `kid` header may name it.
    pub kid: String,
    /// The secret, exactly as printed: the HMAC key is these bytes.
    pub secret: String,
    /// When it was created, Unix seconds.
    pub created_at: i64,
    /// When a rotation retires it, Unix seconds; `None` while it is current.
    pub retires_at: Option<i64>,
}

impl SigningSecret {
    /// Whether it still verifies tokens at `now`.
    pub fn valid_at(&self, now: i64) -> bool {
        self.retires_at.is_none_or(|t| now < t)
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningSecret")
            .field("mode", &self.mode)
            .field("kid", &self.kid)
            .field("secret", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("retires_at", &self.retires_at)
            .finish()
    }
}

/// An admin API key as stored: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminKey {
    /// Its public id: the key's first characters, shown in lists.
    pub id: String,
    /// The app it opens.
    pub app_id: String,
    /// The mode its calls act in.
    pub mode: Mode,
    /// What the operator called it (`ci`, `billing-sync`).
    pub name: String,
    /// `hex(SHA-256(key))`.
    pub hash: String,
    /// When it was created, Unix seconds.
    pub created_at: i64,
    /// When it was revoked, Unix seconds.
    pub revoked_at: Option<i64>,
}

/// A new admin key: the key itself, shown once, and what is stored of it.
#[derive(Clone)]
pub struct NewAdminKey {
    /// The whole key, for the operator to copy now.
    pub key: String,
    /// What the database keeps.
    pub stored: AdminKey,
}

/// Random bytes from the operating system, hex-encoded.
pub fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    Ok(hex::encode(buf))
}

/// A new signing secret for `mode`, current from `now`.
pub fn new_signing_secret(mode: Mode, now: i64) -> anyhow::Result<SigningSecret> {
    Ok(SigningSecret {
        mode,
        kid: format!("{mode}_{}", random_hex(4)?),
        secret: format!("hfs_{mode}_{}", random_hex(32)?),
        created_at: now,
        retires_at: None,
    })
}

/// The characters of an admin key kept as its public id: the kind, the mode and 8 hex digits.
const ADMIN_KEY_ID_LEN: usize = "hfk_test_".len() + 8;

/// A new admin key for `app_id` in `mode`.
pub fn new_admin_key(
    app_id: &str,
    mode: Mode,
    name: &str,
    now: i64,
) -> anyhow::Result<NewAdminKey> {
    let key = format!("hfk_{mode}_{}", random_hex(32)?);
    Ok(admin_key_from(app_id, mode, name, &key, now))
}

/// What is stored of a given admin key: how the demo's fixed key and migrated app secrets are
/// kept exactly like generated ones.
pub fn admin_key_from(app_id: &str, mode: Mode, name: &str, key: &str, now: i64) -> NewAdminKey {
    let id = if key.starts_with("hfk_") && key.len() > ADMIN_KEY_ID_LEN {
        key[..ADMIN_KEY_ID_LEN].to_string()
    } else {
        // A key chosen by hand (the demo's, a migrated secret): its id must not reveal it, and
        // two apps given the same value still get two ids.
        format!(
            "hfk_{mode}_{}",
            &hash_admin_key(&format!("{app_id}\n{key}"))[..8]
        )
    };
    NewAdminKey {
        key: key.to_string(),
        stored: AdminKey {
            id,
            app_id: app_id.to_string(),
            mode,
            name: name.to_string(),
            hash: hash_admin_key(key),
            created_at: now,
            revoked_at: None,
        },
    }
}

/// `hex(SHA-256(key))`: how an admin key is stored and looked up.
pub fn hash_admin_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A new public app id.
pub fn new_app_id() -> anyhow::Result<String> {
    Ok(format!("app_{}", random_hex(8)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_say_their_kind_and_mode_and_differ() {
        let a = new_admin_key("app_x", Mode::Live, "ci", 1).unwrap();
        let b = new_admin_key("app_x", Mode::Live, "ci", 1).unwrap();
        assert!(a.key.starts_with("hfk_live_") && a.key.len() == 9 + 64);
        assert_ne!(a.key, b.key);
        assert!(a.key.starts_with(&a.stored.id));
        assert_eq!(a.stored.hash, hash_admin_key(&a.key));
        let s = new_signing_secret(Mode::Test, 1).unwrap();
        assert!(s.secret.starts_with("hfs_test_") && s.kid.starts_with("test_"));
    }

    #[test]
    fn a_hand_chosen_key_is_not_revealed_by_its_id() {
        let k = admin_key_from("app_demo", Mode::Test, "demo", "demo-secret", 1);
        assert!(!k.stored.id.contains("demo-secret"));
        assert_eq!(k.stored.id.len(), ADMIN_KEY_ID_LEN);
    }

    #[test]
    fn a_retired_secret_verifies_until_its_grace_ends() {
        let mut s = new_signing_secret(Mode::Live, 0).unwrap();
        assert!(s.valid_at(1_000_000));
        s.retires_at = Some(100);
        assert!(s.valid_at(99) && !s.valid_at(100));
    }

    #[test]
    fn debug_output_never_shows_a_signing_secret() {
        let s = new_signing_secret(Mode::Live, 0).unwrap();
        assert!(!format!("{s:?}").contains(&s.secret));
    }
}
