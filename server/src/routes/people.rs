//! Admin: the people of an app (an owner's), and the one-time links an owner passes on: an
//! invitation with a role, or a password reset. No mail server is needed: the owner gets the
//! link and sends it however they like. A link works once, within a week.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::accounts::{self, Role};
use crate::apps::{AdminCaller, LoadedApp};
use crate::error::ApiError;
use crate::extract::Json;
use crate::storage::users::Invitation;

/// How long a one-time link works.
const LINK_SECONDS: i64 = 7 * 86_400;

/// A person of the app.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Person {
    /// Their email.
    pub email: String,
    /// `viewer`, `editor` or `owner`.
    pub role: String,
}

/// The list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct People {
    /// By email.
    pub people: Vec<Person>,
}

/// The people with a role on the app.
#[utoipa::path(
    get,
    path = "/v1/admin/apps/{app_id}/people",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id")),
    responses((status = 200, description = "The people", body = People))
)]
pub async fn list(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
) -> Result<Json<People>, ApiError> {
    let people = state
        .inner
        .storage
        .people(&app.record.id)
        .await?
        .into_iter()
        .map(|(email, role)| Person { email, role })
        .collect();
    Ok(Json(People { people }))
}

/// Whom to invite.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    /// Their email.
    #[schema(
        max_length = 254,
        pattern = r"^[^@\s\x00-\x1F\x7F-\x9F]+@[^@\s\x00-\x1F\x7F-\x9F]+\.[^@\s\x00-\x1F\x7F-\x9F]+$"
    )]
    pub email: String,
    /// `viewer`, `editor` or `owner`.
    #[schema(pattern = "^(viewer|editor|owner)$")]
    pub role: String,
}

/// A one-time link to pass on.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Link {
    /// Who it is for.
    pub email: String,
    /// The role it gives.
    pub role: String,
    /// The token: `POST /v1/auth/accept { token, password }` uses it, once.
    pub token: String,
    /// The dashboard's page that takes it.
    pub link: String,
    /// When it stops working, Unix seconds.
    pub expires_at: i64,
}

async fn link(
    state: &AppState,
    app: &LoadedApp,
    caller: &AdminCaller,
    email: String,
    role: Role,
) -> Result<Response, ApiError> {
    let token = accounts::random_token()?;
    let now = crate::clock::now();
    let invitation = Invitation {
        token_hash: accounts::token_hash(&token),
        app_id: app.record.id.clone(),
        email: email.clone(),
        role: role.as_str().to_string(),
        created_by: caller.key_id.clone(),
        created_at: now,
        expires_at: now + LINK_SECONDS,
    };
    state.inner.storage.create_invitation(&invitation).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(Link {
            email,
            role: role.as_str().to_string(),
            link: format!("/dashboard/#accept={token}"),
            token,
            expires_at: invitation.expires_at,
        }),
    )
        .into_response())
}

/// Invites a person with a role: a one-time link, shown once, to pass on.
#[utoipa::path(
    post,
    path = "/v1/admin/apps/{app_id}/people/invitations",
    tag = "admin",
    security(("admin_key" = [])),
    params(("app_id" = String, Path, description = "Public app id")),
    request_body = Invite,
    responses((status = 201, description = "The link, shown once", body = Link))
)]
pub async fn invite(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Json(body): Json<Invite>,
) -> Result<Response, ApiError> {
    let email = accounts::normal_email(&body.email)?;
    let role = Role::parse(&body.role)
        .ok_or_else(|| ApiError::invalid("role", "expected viewer, editor or owner"))?;
    let answer = link(&state, &app, &caller, email.clone(), role).await?;
    crate::changes::note(
        &state,
        &app.record.id,
        &caller,
        "person.invited",
        email,
        role.as_str(),
    )
    .await;
    Ok(answer)
}

/// A one-time link for a person of the app to choose a new password (they keep their role).
#[utoipa::path(
    post,
    path = "/v1/admin/apps/{app_id}/people/{email}/reset",
    tag = "admin",
    security(("admin_key" = [])),
    params(
        ("app_id" = String, Path, description = "Public app id"),
        ("email" = String, Path, description = "The person's email"),
    ),
    responses(
        (status = 201, description = "The link, shown once", body = Link),
        (status = 404, description = "No such person on this app", body = crate::error::ErrorResponse),
    )
)]
pub async fn reset(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Path((_, email)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let email = email.trim().to_lowercase();
    let role = state
        .inner
        .storage
        .people(&app.record.id)
        .await?
        .into_iter()
        .find(|(e, _)| *e == email)
        .and_then(|(_, role)| Role::parse(&role))
        .ok_or_else(|| {
            ApiError::not_found(
                "no_such_person",
                "nobody with that email has a role on this app",
            )
        })?;
    let answer = link(&state, &app, &caller, email.clone(), role).await?;
    crate::changes::note(&state, &app.record.id, &caller, "person.reset", email, "").await;
    Ok(answer)
}

/// Takes a person's role on the app away; their sessions end when they have no app left.
#[utoipa::path(
    delete,
    path = "/v1/admin/apps/{app_id}/people/{email}",
    tag = "admin",
    security(("admin_key" = [])),
    params(
        ("app_id" = String, Path, description = "Public app id"),
        ("email" = String, Path, description = "The person's email"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such person on this app", body = crate::error::ErrorResponse),
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    Extension(app): Extension<Arc<LoadedApp>>,
    Extension(caller): Extension<AdminCaller>,
    Path((_, email)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let email = email.trim().to_lowercase();
    if state
        .inner
        .storage
        .remove_role(&app.record.id, &email)
        .await?
    {
        crate::changes::note(&state, &app.record.id, &caller, "person.removed", email, "").await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "no_such_person",
            "nobody with that email has a role on this app",
        ))
    }
}
