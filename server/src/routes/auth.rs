//! Signing in to the dashboard: a session cookie for a person of the instance (see
//! [`crate::accounts`]). Admin API keys keep working for scripts.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::accounts::{self, Role};
use crate::error::ApiError;
use crate::extract::parse_json;

/// Who signs in.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The email the person was created or invited with.
    #[schema(max_length = 254)]
    pub email: String,
    /// Their password.
    #[schema(max_length = 1024)]
    pub password: String,
}

/// One app the person may open, and their role on it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Membership {
    /// The app.
    pub app_id: String,
    /// `viewer`, `editor` or `owner`.
    #[schema(value_type = String)]
    pub role: Role,
}

/// The signed-in person.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// Their email.
    pub email: String,
    /// The apps they may open.
    pub apps: Vec<Membership>,
    /// What every state-changing request of this session sends in `X-CSRF-Token`.
    pub csrf_token: String,
}

async fn me_of(
    state: &AppState,
    user_id: &str,
    email: String,
    csrf: String,
) -> Result<Me, ApiError> {
    let apps = state
        .inner
        .storage
        .roles(user_id)
        .await?
        .into_iter()
        .filter_map(|(app_id, role)| Role::parse(&role).map(|role| Membership { app_id, role }))
        .collect();
    Ok(Me {
        email,
        apps,
        csrf_token: csrf,
    })
}

/// Signs a person in: a session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind https)
/// and the session's anti-forgery value. A wrong password and an unknown email get the same
/// answer; attempts are rate limited per client.
#[utoipa::path(
    post,
    path = "/v1/auth/sign-in",
    tag = "dashboard",
    request_body = SignIn,
    responses(
        (status = 200, description = "Signed in; the cookie is set", body = Me),
        (status = 401, description = "`invalid_credentials`: no such email, or a wrong password", body = crate::error::ErrorResponse),
    )
)]
pub async fn sign_in(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let client = crate::apps::client_of(&req, &state.settings().trusted_proxies);
    if !state.sign_in_allowed(client) {
        return Err(ApiError::rate_limited());
    }
    let https = accounts::is_https(req.headers());
    let bytes = axum::body::to_bytes(req.into_body(), 16 * 1024)
        .await
        .map_err(|_| ApiError::payload_too_large(16 * 1024))?;
    let body: SignIn = parse_json(&bytes)?;
    // Anything that is not a person's email is simply no person's: the same 401.
    let email = body.email.trim().to_lowercase();
    let user = state.inner.storage.user_by_email(&email).await?;
    let hash = user
        .as_ref()
        .map_or(accounts::decoy_hash(), |u| u.password_hash.as_str())
        .to_string();
    let password = body.password;
    let matches = tokio::task::spawn_blocking(move || accounts::verify_password(&password, &hash))
        .await
        .map_err(anyhow::Error::from)?;
    let Some(user) = user.filter(|_| matches) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "that email and password do not match a person of this Holdfast",
        ));
    };
    start_session(&state, &user.id, user.email, https).await
}

/// Starts a signed-in session for a person: the cookie (`Secure` behind https), and the answer
/// with their apps and the session's anti-forgery value. Sign-in and a taken-up link both end
/// here.
async fn start_session(
    state: &AppState,
    user_id: &str,
    email: String,
    https: bool,
) -> Result<Response, ApiError> {
    let token = accounts::random_token()?;
    let csrf = accounts::random_token()?;
    let now = crate::clock::now();
    state
        .inner
        .storage
        .create_user_session(
            &accounts::token_hash(&token),
            user_id,
            &csrf,
            now,
            now + accounts::SESSION_SECONDS,
        )
        .await?;
    let me = me_of(state, user_id, email, csrf).await?;
    let mut response = axum::Json(me).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&accounts::set_cookie(Some(&token), https)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The session a request carries, or 401.
async fn session_of(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<(String, crate::storage::users::SessionUser), ApiError> {
    let token = accounts::session_cookie(headers).ok_or_else(not_signed_in)?;
    let hash = accounts::token_hash(&token);
    let session = state
        .inner
        .storage
        .user_session(&hash, crate::clock::now())
        .await?
        .ok_or_else(not_signed_in)?;
    Ok((hash, session))
}

fn not_signed_in() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "not_signed_in",
        "sign in first (POST /v1/auth/sign-in)",
    )
}

/// The signed-in person, their apps and the session's anti-forgery value.
#[utoipa::path(
    get,
    path = "/v1/auth/me",
    tag = "dashboard",
    responses(
        (status = 200, description = "Signed in", body = Me),
        (status = 401, description = "`not_signed_in`", body = crate::error::ErrorResponse),
    )
)]
pub async fn me(State(state): State<AppState>, req: Request) -> Result<axum::Json<Me>, ApiError> {
    let (_, session) = session_of(&state, req.headers()).await?;
    Ok(axum::Json(
        me_of(&state, &session.user.id, session.user.email, session.csrf).await?,
    ))
}

/// Ends the session (it needs its anti-forgery value, like every change).
#[utoipa::path(
    post,
    path = "/v1/auth/sign-out",
    tag = "dashboard",
    responses(
        (status = 204, description = "Signed out; the cookie is cleared"),
        (status = 401, description = "`not_signed_in`", body = crate::error::ErrorResponse),
        (status = 403, description = "`csrf`: the anti-forgery value is missing or wrong", body = crate::error::ErrorResponse),
    )
)]
pub async fn sign_out(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let (hash, session) = session_of(&state, req.headers()).await?;
    check_csrf(req.headers(), &session.csrf)?;
    state.inner.storage.delete_user_session(&hash).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(cookie) = HeaderValue::from_str(&accounts::set_cookie(
        None,
        accounts::is_https(req.headers()),
    )) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Refuses a state-changing request whose anti-forgery value is missing or wrong.
pub fn check_csrf(headers: &axum::http::HeaderMap, expected: &str) -> Result<(), ApiError> {
    use subtle::ConstantTimeEq;
    let given = headers
        .get(accounts::CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) && !given.is_empty() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "a change made with a session needs its anti-forgery value in X-CSRF-Token",
        ))
    }
}

/// The admin caller a session makes on `app_id`, if the request carries a session: its role must
/// allow the request, and a change must carry the session's anti-forgery value.
pub async fn session_caller(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    app_id: &str,
) -> Result<Option<crate::apps::AdminCaller>, ApiError> {
    let path = uri.path();
    if accounts::session_cookie(headers).is_none() {
        return Ok(None);
    }
    let (_, session) = session_of(state, headers).await?;
    let role = state
        .inner
        .storage
        .roles(&session.user.id)
        .await?
        .into_iter()
        .find(|(app, _)| app == app_id)
        .and_then(|(_, role)| Role::parse(&role))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "not_a_member",
                format!("{} has no role on this app", session.user.email),
            )
        })?;
    let needed = Role::needed(method, path);
    if role < needed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "role",
            format!(
                "this needs the {} role; {} is {}",
                needed.as_str(),
                session.user.email,
                role.as_str()
            ),
        ));
    }
    if role_changes(method) {
        check_csrf(headers, &session.csrf)?;
    }
    // The dashboard names the mode it shows; test data unless it says live. A download link
    // (an export) cannot set a header, so a read may name it in its query instead.
    let in_query = || {
        !role_changes(method)
            && uri
                .query()
                .is_some_and(|q| q.split('&').any(|pair| pair == "mode=live"))
    };
    let mode = match headers.get("x-holdfast-mode").and_then(|v| v.to_str().ok()) {
        Some("live") => crate::keys::Mode::Live,
        None if in_query() => crate::keys::Mode::Live,
        _ => crate::keys::Mode::Test,
    };
    Ok(Some(crate::apps::AdminCaller {
        key_id: format!("user:{}", session.user.email),
        mode,
    }))
}

fn role_changes(method: &axum::http::Method) -> bool {
    !matches!(
        *method,
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    )
}

/// A one-time link taken up.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    /// The link's token.
    #[schema(min_length = 1, max_length = 256)]
    pub token: String,
    /// The password to sign in with from now on: at least 12 characters.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
}

/// Takes up an invitation or a password reset: sets the password, gives the role, signs in.
#[utoipa::path(
    post,
    path = "/v1/auth/accept",
    tag = "dashboard",
    request_body = Accept,
    responses(
        (status = 200, description = "Signed in; the cookie is set", body = Me),
        (status = 410, description = "`link_used_or_expired`: the link was used, has expired, or never was", body = crate::error::ErrorResponse),
        (status = 422, description = "`password`: not 12 to 1024 characters; `token`: not 1 to 256", body = crate::error::ErrorResponse),
    )
)]
pub async fn accept(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let client = crate::apps::client_of(&req, &state.settings().trusted_proxies);
    if !state.sign_in_allowed(client) {
        return Err(ApiError::rate_limited());
    }
    let https = accounts::is_https(req.headers());
    let bytes = axum::body::to_bytes(req.into_body(), 16 * 1024)
        .await
        .map_err(|_| ApiError::payload_too_large(16 * 1024))?;
    let body: Accept = parse_json(&bytes)?;
    if body.token.is_empty() || body.token.len() > 256 {
        return Err(ApiError::invalid("token", "1 to 256 characters"));
    }
    if !(12..=1024).contains(&body.password.chars().count()) {
        return Err(ApiError::invalid("password", "12 to 1024 characters"));
    }
    let now = crate::clock::now();
    let Some(invitation) = state
        .inner
        .storage
        .use_invitation(&accounts::token_hash(&body.token), now)
        .await?
    else {
        return Err(ApiError::new(
            StatusCode::GONE,
            "link_used_or_expired",
            "this link was used already, has expired, or never was: ask an owner for a new one",
        ));
    };
    let password = body.password;
    let hash = tokio::task::spawn_blocking(move || accounts::hash_password(&password))
        .await
        .map_err(anyhow::Error::from)??;
    let storage = &state.inner.storage;
    let user_id = storage.upsert_user(&invitation.email, &hash, now).await?;
    storage
        .set_role(&user_id, &invitation.app_id, &invitation.role, now)
        .await?;
    start_session(&state, &user_id, invitation.email, https).await
}

/// Admin routes: the app must exist and the request must carry one of its admin keys, not
/// revoked, as a bearer key; the key's mode is the call's. No CORS: the admin API is for
/// servers and the dashboard's own backend.
pub async fn admin_guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let found = match crate::apps::lookup(&state, &req) {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let app = match crate::apps::load_app(&state, found).await {
        Ok(app) => app,
        Err(e) => return e.into_response(),
    };
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    // A dashboard session (a cookie, no key) acts within its person's role on the app.
    let session = if header.is_none() {
        let (headers, method, uri) = (
            req.headers().clone(),
            req.method().clone(),
            req.uri().clone(),
        );
        match session_caller(&state, &headers, &method, &uri, &app.record.id).await {
            Ok(session) => session,
            Err(e) => return e.into_response(),
        }
    } else {
        None
    };
    let caller = match session {
        Some(caller) => caller,
        None => {
            match crate::auth::admin_caller(&state.inner.storage, &app.record.id, header.as_deref())
                .await
            {
                Ok(caller) => caller,
                Err(e) => return e.into_response(),
            }
        }
    };
    req.extensions_mut().insert(app);
    req.extensions_mut().insert(caller);
    next.run(req).await
}
