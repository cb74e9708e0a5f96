//! Who changed what: the admin API's changes (config versions, experiment steps, keys, webhook
//! endpoints, people), each with the key or person that made it, so the dashboard can say who
//! published a version and an owner can review what happened. Append-only; both backends run
//! the same SQL.

use async_trait::async_trait;
use serde::Serialize;

/// One change, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Change {
    /// When, Unix seconds.
    pub at: i64,
    /// Who: an admin key's id (`hfk_test_…`) or `user:` and a person's email.
    pub actor: String,
    /// What, as `area.verb`: `config.published`, `config.restored`, `experiment.created`,
    /// `experiment.started`, `experiment.stopped`, `experiment.shipped`, `key.created`,
    /// `key.revoked`, `webhook.endpoint_created`, `webhook.endpoint_deleted`,
    /// `person.invited`, `person.reset`, `person.removed`.
    pub action: String,
    /// What it was done to: the config version it made (config and experiment changes), a key's
    /// id, an endpoint's id, an email.
    pub subject: String,
    /// More, in words (`from version 3`, `variant deeper`), or empty.
    pub detail: String,
}

/// The change log of each app.
#[async_trait]
pub trait ChangeStore {
    /// Appends a change to the app's log.
    async fn record_change(&self, app_id: &str, change: &Change) -> anyhow::Result<()>;

    /// The app's latest changes, newest first, at most `limit`; only `action`s starting with
    /// `prefix` when one is given.
    async fn changes(
        &self,
        app_id: &str,
        prefix: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<Change>>;
}

/// One implementation for both backends, over their pools: the SQL is the same.
#[async_trait]
impl<S> ChangeStore for S
where
    S: super::backend::Pooled + Sync,
    for<'c> &'c sqlx::Pool<S::Db>: sqlx::Executor<'c, Database = S::Db>,
    for<'q> <S::Db as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, S::Db>,
    for<'q> &'q str: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> i64: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'r> Change: sqlx::FromRow<'r, <S::Db as sqlx::Database>::Row>,
{
    async fn record_change(&self, app_id: &str, c: &Change) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO changes (app_id, at, actor, action, subject, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(app_id)
        .bind(c.at)
        .bind(c.actor.as_str())
        .bind(c.action.as_str())
        .bind(c.subject.as_str())
        .bind(c.detail.as_str())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn changes(
        &self,
        app_id: &str,
        prefix: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<Change>> {
        // `prefix` is matched with `LIKE`: its own wildcards are escaped.
        let like = prefix.map_or_else(
            || "%".to_string(),
            |p| {
                format!(
                    "{}%",
                    p.replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_")
                )
            },
        );
        Ok(sqlx::query_as::<_, Change>(
            "SELECT at, actor, action, subject, detail FROM changes \
             WHERE app_id = $1 AND action LIKE $2 ESCAPE '\\' \
             ORDER BY seq DESC LIMIT $3",
        )
        .bind(app_id)
        .bind(like.as_str())
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}
