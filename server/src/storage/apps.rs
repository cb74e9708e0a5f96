//! Apps and their keys: what an operator creates, lists, updates and rotates (see `crate::keys`
//! for the two kinds of key and `crate::operator` for the use cases that generate them).
//!
//! One plain generic implementation of [`AppStore`] serves both backends, in the SQL both speak.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::keys::{AdminKey, SigningSecret};

/// An app's settings: what `apps update` and the admin API change besides the config (whose
/// `audience` says whether it sells to consumers or businesses). They serve both modes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppSettings {
    /// What the operator calls it.
    pub name: String,
    /// Browser origins allowed to call the public endpoints (`https://app.example.com`).
    pub origins: Vec<String>,
}

/// An app to create, with its first keys.
#[derive(Debug, Clone)]
pub struct CreateApp {
    /// Public id, as in the script tag.
    pub id: String,
    /// Name, origins, audience.
    pub settings: AppSettings,
    /// The config to start with, as JSON.
    pub config_json: String,
    /// Creation time, Unix seconds.
    pub now: i64,
    /// One per mode.
    pub signing_secrets: Vec<SigningSecret>,
    /// One per mode.
    pub admin_keys: Vec<AdminKey>,
}

/// One line of `apps list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AppSummary {
    /// Public id.
    pub id: String,
    /// Name and origins.
    #[serde(flatten)]
    pub settings: AppSettings,
    /// When it was created, Unix seconds.
    pub created_at: i64,
    /// The current config's version.
    pub config_version: i64,
}

/// The app and key use cases; a supertrait of [`super::Store`], so every backend has them.
#[async_trait]
pub trait AppStore: Send + Sync {
    /// Creates an app with its first config version and keys, in one transaction. Fails if the
    /// id is taken.
    async fn create_app(&self, app: &CreateApp) -> anyhow::Result<()>;

    /// Every app, oldest first.
    async fn apps(&self) -> anyhow::Result<Vec<AppSummary>>;

    /// Replaces an app's settings; false when there is no such app.
    async fn update_app(&self, app_id: &str, settings: &AppSettings) -> anyhow::Result<bool>;

    /// The app's signing secrets, current and retiring, both modes.
    async fn signing_secrets(&self, app_id: &str) -> anyhow::Result<Vec<SigningSecret>>;

    /// Adds a signing secret (or replaces the one with its key id). With `retire_current_at`,
    /// the mode's current secrets retire then: a rotation with a grace period.
    async fn add_signing_secret(
        &self,
        app_id: &str,
        secret: &SigningSecret,
        retire_current_at: Option<i64>,
    ) -> anyhow::Result<()>;

    /// Stores an admin key (a key with the same id already stored is left as it is).
    async fn add_admin_key(&self, key: &AdminKey) -> anyhow::Result<()>;

    /// The app's admin keys, revoked ones too, oldest first.
    async fn admin_keys(&self, app_id: &str) -> anyhow::Result<Vec<AdminKey>>;

    /// Revokes an admin key; false when the app has no such key.
    async fn revoke_admin_key(&self, app_id: &str, key_id: &str, now: i64) -> anyhow::Result<bool>;

    /// The app's admin key with this hash, if any (revoked or not: the caller decides).
    async fn admin_key(&self, app_id: &str, hash: &str) -> anyhow::Result<Option<AdminKey>>;

    /// Apps created before keys existed had one secret and one mode: it becomes that mode's
    /// signing secret (key id `legacy`) and an admin key of that mode, stored hashed, and is
    /// then cleared. Runs at every start; returns how many apps it moved.
    async fn adopt_legacy_secrets(&self, now: i64) -> anyhow::Result<usize>;
}

/// A stored admin key row.
pub type AdminKeyRow = (String, String, bool, String, String, i64, Option<i64>);

/// Turns a row into an [`AdminKey`].
pub fn admin_key_of(
    (id, app_id, live, name, hash, created_at, revoked_at): AdminKeyRow,
) -> AdminKey {
    AdminKey {
        id,
        app_id,
        mode: crate::keys::Mode::from_live(live),
        name,
        hash,
        created_at,
        revoked_at,
    }
}

/// One implementation for both backends, over their pools: the SQL is the same.
#[async_trait::async_trait]
impl<S> AppStore for S
where
    S: super::backend::Pooled + Send + Sync,
    for<'c> &'c sqlx::Pool<S::Db>: sqlx::Executor<'c, Database = S::Db>,
    for<'c> &'c mut <S::Db as sqlx::Database>::Connection: sqlx::Executor<'c, Database = S::Db>,
    for<'q> <S::Db as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, S::Db>,
    for<'q> &'q str: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> i64: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> String: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> bool: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    usize: sqlx::ColumnIndex<<S::Db as sqlx::Database>::Row>,
    for<'q> Option<i64>: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
{
    async fn create_app(&self, app: &crate::storage::apps::CreateApp) -> anyhow::Result<()> {
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        sqlx::query(
            "INSERT INTO apps (id, secret, live, origins, config, config_version, \
             created_at, name) VALUES ($1, '', $2, $3, $4, 1, $5, $6)",
        )
        .bind(&app.id)
        .bind(false)
        .bind(serde_json::to_string(&app.settings.origins)?)
        .bind(&app.config_json)
        .bind(app.now)
        .bind(&app.settings.name)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO config_versions (app_id, version, config, created_at) \
             VALUES ($1, 1, $2, $3)",
        )
        .bind(&app.id)
        .bind(&app.config_json)
        .bind(app.now)
        .execute(&mut *tx)
        .await?;
        for s in &app.signing_secrets {
            insert_signing_secret(&mut tx, &app.id, s).await?;
        }
        for k in &app.admin_keys {
            insert_admin_key(&mut tx, k).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn apps(&self) -> anyhow::Result<Vec<crate::storage::apps::AppSummary>> {
        let rows: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT id, name, origins, created_at, config_version FROM apps \
             ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(id, name, origins, created_at, config_version)| {
                Ok(crate::storage::apps::AppSummary {
                    id,
                    settings: crate::storage::apps::AppSettings {
                        name,
                        origins: serde_json::from_str(&origins)?,
                    },
                    created_at,
                    config_version,
                })
            })
            .collect()
    }

    async fn update_app(
        &self,
        app_id: &str,
        settings: &crate::storage::apps::AppSettings,
    ) -> anyhow::Result<bool> {
        let updated = S::rows_affected(
            &sqlx::query("UPDATE apps SET name = $1, origins = $2 WHERE id = $3")
                .bind(&settings.name)
                .bind(serde_json::to_string(&settings.origins)?)
                .bind(app_id)
                .execute(self.pool())
                .await?,
        );
        Ok(updated == 1)
    }

    async fn signing_secrets(
        &self,
        app_id: &str,
    ) -> anyhow::Result<Vec<crate::keys::SigningSecret>> {
        let rows: Vec<(String, bool, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT kid, live, secret, created_at, retires_at FROM signing_secrets \
             WHERE app_id = $1 ORDER BY created_at DESC, kid",
        )
        .bind(app_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(kid, live, secret, created_at, retires_at)| crate::keys::SigningSecret {
                    mode: crate::keys::Mode::from_live(live),
                    kid,
                    secret,
                    created_at,
                    retires_at,
                },
            )
            .collect())
    }

    async fn add_signing_secret(
        &self,
        app_id: &str,
        secret: &crate::keys::SigningSecret,
        retire_current_at: Option<i64>,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        if let Some(at) = retire_current_at {
            sqlx::query(
                "UPDATE signing_secrets SET retires_at = $1 WHERE app_id = $2 \
                 AND live = $3 AND retires_at IS NULL AND kid <> $4",
            )
            .bind(at)
            .bind(app_id)
            .bind(secret.mode.is_live())
            .bind(&secret.kid)
            .execute(&mut *tx)
            .await?;
        }
        insert_signing_secret(&mut tx, app_id, secret).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_admin_key(&self, key: &crate::keys::AdminKey) -> anyhow::Result<()> {
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        insert_admin_key(&mut tx, key).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn admin_keys(&self, app_id: &str) -> anyhow::Result<Vec<crate::keys::AdminKey>> {
        let rows: Vec<crate::storage::apps::AdminKeyRow> = sqlx::query_as(
            "SELECT id, app_id, live, name, key_hash, created_at, revoked_at \
             FROM admin_keys WHERE app_id = $1 ORDER BY created_at, id",
        )
        .bind(app_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(crate::storage::apps::admin_key_of)
            .collect())
    }

    async fn revoke_admin_key(&self, app_id: &str, key_id: &str, now: i64) -> anyhow::Result<bool> {
        let updated = S::rows_affected(
            &sqlx::query(
                "UPDATE admin_keys SET revoked_at = COALESCE(revoked_at, $1) \
             WHERE app_id = $2 AND id = $3",
            )
            .bind(now)
            .bind(app_id)
            .bind(key_id)
            .execute(self.pool())
            .await?,
        );
        Ok(updated == 1)
    }

    async fn admin_key(
        &self,
        app_id: &str,
        hash: &str,
    ) -> anyhow::Result<Option<crate::keys::AdminKey>> {
        let row: Option<crate::storage::apps::AdminKeyRow> = sqlx::query_as(
            "SELECT id, app_id, live, name, key_hash, created_at, revoked_at \
             FROM admin_keys WHERE app_id = $1 AND key_hash = $2",
        )
        .bind(app_id)
        .bind(hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(crate::storage::apps::admin_key_of))
    }

    async fn adopt_legacy_secrets(&self, now: i64) -> anyhow::Result<usize> {
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        let legacy: Vec<(String, String, bool)> =
            sqlx::query_as("SELECT id, secret, live FROM apps WHERE secret <> ''")
                .fetch_all(&mut *tx)
                .await?;
        for (app_id, secret, live) in &legacy {
            let mode = crate::keys::Mode::from_live(*live);
            insert_signing_secret(
                &mut tx,
                app_id,
                &crate::keys::SigningSecret {
                    mode,
                    kid: "legacy".into(),
                    secret: secret.clone(),
                    created_at: now,
                    retires_at: None,
                },
            )
            .await?;
            let key = crate::keys::admin_key_from(app_id, mode, "migrated", secret, now);
            insert_admin_key(&mut tx, &key.stored).await?;
            sqlx::query("UPDATE apps SET secret = '' WHERE id = $1")
                .bind(app_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(legacy.len())
    }
}

async fn insert_signing_secret<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    app_id: &str,
    s: &crate::keys::SigningSecret,
) -> anyhow::Result<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO signing_secrets (app_id, kid, live, secret, created_at, retires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (app_id, kid) DO UPDATE SET \
         live = excluded.live, secret = excluded.secret, retires_at = excluded.retires_at",
    )
    .bind(app_id)
    .bind(&s.kid)
    .bind(s.mode.is_live())
    .bind(&s.secret)
    .bind(s.created_at)
    .bind(s.retires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_admin_key<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    k: &crate::keys::AdminKey,
) -> anyhow::Result<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO admin_keys (id, app_id, live, name, key_hash, created_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(&k.id)
    .bind(&k.app_id)
    .bind(k.mode.is_live())
    .bind(&k.name)
    .bind(&k.hash)
    .bind(k.created_at)
    .bind(k.revoked_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
