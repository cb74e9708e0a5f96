//! People of the instance, their role per app, and their signed-in sessions: what the
//! dashboard's sign-in and the admin API's session callers read. See `crate::accounts`.
//!
//! `impl_user_store!` implements [`UserStore`] once for both backends.

use async_trait::async_trait;

/// A person as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its id (`usr_...`).
    pub id: String,
    /// The sign-in name, lowercased.
    pub email: String,
    /// The Argon2id hash of the password (PHC string).
    pub password_hash: String,
}

/// A signed-in session, found by its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    /// The person.
    pub user: User,
    /// The anti-forgery value the session's state-changing requests carry.
    pub csrf: String,
    /// When the session ends, Unix seconds.
    pub expires_at: i64,
}

/// The user use cases; a supertrait of [`super::Store`].
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a person, or replaces the password of the one with this email; returns the id.
    async fn upsert_user(
        &self,
        email: &str,
        password_hash: &str,
        now: i64,
    ) -> anyhow::Result<String>;

    /// The person with this (lowercased) email.
    async fn user_by_email(&self, email: &str) -> anyhow::Result<Option<User>>;

    /// Gives a person a role on an app (replacing an earlier one).
    async fn set_role(
        &self,
        user_id: &str,
        app_id: &str,
        role: &str,
        now: i64,
    ) -> anyhow::Result<()>;

    /// A person's `(app, role)` pairs.
    async fn roles(&self, user_id: &str) -> anyhow::Result<Vec<(String, String)>>;

    /// Records a signed-in session.
    async fn create_user_session(
        &self,
        token_hash: &str,
        user_id: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> anyhow::Result<()>;

    /// The session of this cookie, while it lasts.
    async fn user_session(&self, token_hash: &str, now: i64)
    -> anyhow::Result<Option<SessionUser>>;

    /// Ends a session (signing out).
    async fn delete_user_session(&self, token_hash: &str) -> anyhow::Result<()>;

    /// The people with a role on an app: `(email, role)`, by email.
    async fn people(&self, app_id: &str) -> anyhow::Result<Vec<(String, String)>>;

    /// Takes a person's role on an app away (and their sessions end); false when they had none.
    async fn remove_role(&self, app_id: &str, email: &str) -> anyhow::Result<bool>;

    /// Records a one-time link.
    async fn create_invitation(&self, invitation: &Invitation) -> anyhow::Result<()>;

    /// Uses a one-time link: returns it if it was unused and unexpired, and marks it used, in one
    /// statement (a link works once even when used twice at the same moment).
    async fn use_invitation(
        &self,
        token_hash: &str,
        now: i64,
    ) -> anyhow::Result<Option<Invitation>>;
}

/// A one-time link: an invitation to an app with a role, or a password reset (the person's
/// current role again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// SHA-256 of the link's token.
    pub token_hash: String,
    /// The app.
    pub app_id: String,
    /// Who it is for, lowercased.
    pub email: String,
    /// The role it gives.
    pub role: String,
    /// Who made it.
    pub created_by: String,
    /// When it was made, Unix seconds.
    pub created_at: i64,
    /// When it stops working.
    pub expires_at: i64,
}

/// One implementation for both backends, over their pools: the SQL is the same.
#[async_trait::async_trait]
impl<S> UserStore for S
where
    S: super::backend::Pooled + Send + Sync,
    for<'c> &'c sqlx::Pool<S::Db>: sqlx::Executor<'c, Database = S::Db>,
    for<'c> &'c mut <S::Db as sqlx::Database>::Connection: sqlx::Executor<'c, Database = S::Db>,
    for<'q> <S::Db as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, S::Db>,
    for<'q> &'q str: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> i64: sqlx::Encode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> String: sqlx::Encode<'q, S::Db> + sqlx::Decode<'q, S::Db> + sqlx::Type<S::Db>,
    for<'q> i64: sqlx::Decode<'q, S::Db>,
    usize: sqlx::ColumnIndex<<S::Db as sqlx::Database>::Row>,
{
    async fn upsert_user(
        &self,
        email: &str,
        password_hash: &str,
        now: i64,
    ) -> anyhow::Result<String> {
        let id = format!("usr_{}", uuid::Uuid::new_v4().simple());
        let (id,): (String,) = sqlx::query_as(
            "INSERT INTO users (id, email, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (email) DO UPDATE SET \
             password_hash = excluded.password_hash, updated_at = excluded.updated_at \
             RETURNING id",
        )
        .bind(&id)
        .bind(email)
        .bind(password_hash)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    async fn user_by_email(
        &self,
        email: &str,
    ) -> anyhow::Result<Option<crate::storage::users::User>> {
        let row: Option<(String, String, String)> =
            sqlx::query_as("SELECT id, email, password_hash FROM users WHERE email = $1")
                .bind(email)
                .fetch_optional(self.pool())
                .await?;
        Ok(
            row.map(|(id, email, password_hash)| crate::storage::users::User {
                id,
                email,
                password_hash,
            }),
        )
    }

    async fn set_role(
        &self,
        user_id: &str,
        app_id: &str,
        role: &str,
        now: i64,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO memberships (user_id, app_id, role, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, app_id) DO UPDATE SET \
             role = excluded.role",
        )
        .bind(user_id)
        .bind(app_id)
        .bind(role)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn roles(&self, user_id: &str) -> anyhow::Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT app_id, role FROM memberships WHERE user_id = $1 ORDER BY app_id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    async fn create_user_session(
        &self,
        token_hash: &str,
        user_id: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO user_sessions (token_hash, user_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(now)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn user_session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> anyhow::Result<Option<crate::storage::users::SessionUser>> {
        let row: Option<(String, String, String, String, i64)> = sqlx::query_as(
            "SELECT u.id, u.email, u.password_hash, s.csrf, s.expires_at \
             FROM user_sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(id, email, password_hash, csrf, expires_at)| {
            crate::storage::users::SessionUser {
                user: crate::storage::users::User {
                    id,
                    email,
                    password_hash,
                },
                csrf,
                expires_at,
            }
        }))
    }

    async fn people(&self, app_id: &str) -> anyhow::Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.app_id = $1 ORDER BY u.email",
        )
        .bind(app_id)
        .fetch_all(self.pool())
        .await?)
    }

    async fn remove_role(&self, app_id: &str, email: &str) -> anyhow::Result<bool> {
        let mut tx = self.pool().begin_with(S::BEGIN).await?;
        let user: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?;
        let Some((user_id,)) = user else {
            return Ok(false);
        };
        let removed = S::rows_affected(
            &sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND app_id = $2")
                .bind(&user_id)
                .bind(app_id)
                .execute(&mut *tx)
                .await?,
        );
        let (left,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE user_id = $1")
            .bind(&user_id)
            .fetch_one(&mut *tx)
            .await?;
        if left == 0 {
            sqlx::query("DELETE FROM user_sessions WHERE user_id = $1")
                .bind(&user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(removed > 0)
    }

    async fn create_invitation(&self, i: &crate::storage::users::Invitation) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO invitations (token_hash, app_id, email, role, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&i.token_hash)
        .bind(&i.app_id)
        .bind(&i.email)
        .bind(&i.role)
        .bind(&i.created_by)
        .bind(i.created_at)
        .bind(i.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn use_invitation(
        &self,
        token_hash: &str,
        now: i64,
    ) -> anyhow::Result<Option<crate::storage::users::Invitation>> {
        let row: Option<(String, String, String, String, String, i64, i64)> = sqlx::query_as(
            "UPDATE invitations SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
             RETURNING token_hash, app_id, email, role, created_by, created_at, expires_at",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(
            |(token_hash, app_id, email, role, created_by, created_at, expires_at)| {
                crate::storage::users::Invitation {
                    token_hash,
                    app_id,
                    email,
                    role,
                    created_by,
                    created_at,
                    expires_at,
                }
            },
        ))
    }

    async fn delete_user_session(&self, token_hash: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM user_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
