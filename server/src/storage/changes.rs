//! Who changed what: the admin API's changes (config versions, experiment steps, keys, webhook
//! endpoints, people), each with the key or person that made it, so the dashboard can say who
//! published a version and an owner can review what happened. Append-only; both backends run
//! the same SQL.

use async_trait::async_trait;
use serde::Serialize;

/// One change, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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

/// Implements [`ChangeStore`] for a backend struct with a `pool` field.
macro_rules! impl_change_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::storage::changes::ChangeStore for $store {
            async fn record_change(
                &self,
                app_id: &str,
                c: &$crate::storage::changes::Change,
            ) -> anyhow::Result<()> {
                sqlx::query(
                    "INSERT INTO changes (app_id, at, actor, action, subject, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(app_id)
                .bind(c.at)
                .bind(&c.actor)
                .bind(&c.action)
                .bind(&c.subject)
                .bind(&c.detail)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn changes(
                &self,
                app_id: &str,
                prefix: Option<&str>,
                limit: i64,
            ) -> anyhow::Result<Vec<$crate::storage::changes::Change>> {
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
                let rows: Vec<(i64, String, String, String, String)> = sqlx::query_as(
                    "SELECT at, actor, action, subject, detail FROM changes \
                     WHERE app_id = $1 AND action LIKE $2 ESCAPE '\\' \
                     ORDER BY seq DESC LIMIT $3",
                )
                .bind(app_id)
                .bind(like)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(
                        |(at, actor, action, subject, detail)| $crate::storage::changes::Change {
                            at,
                            actor,
                            action,
                            subject,
                            detail,
                        },
                    )
                    .collect())
            }
        }
    };
}
