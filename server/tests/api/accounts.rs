//! People who sign in (the dashboard): Argon2id passwords, a strict session cookie, roles per
//! app on the admin API, anti-forgery values on every change, rate-limited sign-in. Admin keys
//! keep working beside sessions.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TEST_APP, TestApp, assert_refused, json_of, refusal, spawn_app};

const PASSWORD: &str = "correct horse battery staple";

async fn person(app: &TestApp, email: &str, role: &str) {
    holdfast_server::operator::create_user(
        &app.storage,
        email,
        TEST_APP,
        role,
        Some(PASSWORD.into()),
        holdfast_server::clock::now(),
    )
    .await
    .unwrap();
}

/// Signs in; returns the cookie header value and the anti-forgery value.
async fn sign_in(app: &TestApp, email: &str) -> (String, String) {
    let r = app
        .post("/v1/auth/sign-in")
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    let cookie = set.split(';').next().unwrap().to_string();
    let me: Value = r.json().await.unwrap();
    (cookie, me["csrf_token"].as_str().unwrap().to_string())
}

fn with_session(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
) -> reqwest::RequestBuilder {
    app.client
        .request(
            method,
            format!("{}/v1/admin/apps/{TEST_APP}{path}", app.url),
        )
        .header("cookie", cookie)
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    person(&app, "Owner@Acme.example", "owner").await;
    for body in [
        json!({ "email": "owner@acme.example", "password": "not it" }),
        json!({ "email": "nobody@acme.example", "password": PASSWORD }),
    ] {
        let (status, body) = json_of(
            app.post("/v1/auth/sign-in")
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_refused(status, &body, refusal(401).code("invalid_credentials"));
    }
    // Emails are kept lowercased: the mixed-case one signs in.
    let (cookie, _) = sign_in(&app, "OWNER@acme.example").await;
    let (status, me) = json_of(
        app.client
            .get(format!("{}/v1/auth/me", app.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (&me["email"], &me["apps"]),
        (
            &json!("owner@acme.example"),
            &json!([{ "app_id": TEST_APP, "role": "owner" }])
        )
    );
}

#[tokio::test]
async fn a_session_acts_within_its_role_and_every_change_needs_its_anti_forgery_value() {
    let app = spawn_app().await;
    person(&app, "viewer@acme.example", "viewer").await;
    person(&app, "editor@acme.example", "editor").await;
    let config = serde_json::to_value(holdfast_core::config::AppConfig::default()).unwrap();

    let (viewer, viewer_csrf) = sign_in(&app, "viewer@acme.example").await;
    let r = with_session(&app, Method::GET, "/stats", &viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a viewer reads");
    let (status, body) = json_of(
        with_session(&app, Method::PUT, "/config", &viewer)
            .header("x-csrf-token", &viewer_csrf)
            .json(&config)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(status, &body, refusal(403).code("role"));

    let (editor, editor_csrf) = sign_in(&app, "editor@acme.example").await;
    let (status, body) = json_of(
        with_session(&app, Method::PUT, "/config", &editor)
            .json(&config)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("csrf")),
        "no anti-forgery value: {body}"
    );
    let r = with_session(&app, Method::PUT, "/config", &editor)
        .header("x-csrf-token", &editor_csrf)
        .json(&config)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "an editor changes the config");
    let (status, body) = json_of(
        with_session(&app, Method::POST, "/webhooks/endpoints", &editor)
            .header("x-csrf-token", &editor_csrf)
            .json(&json!({ "url": "https://billing.acme.example/hook" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("role")),
        "webhooks are the owner's: {body}"
    );

    // Another app is not the person's.
    let r = app
        .client
        .get(format!(
            "{}/v1/admin/apps/{}/stats",
            app.url,
            crate::helpers::LIVE_APP
        ))
        .header("cookie", &editor)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Signing out ends the session.
    let r = app
        .post("/v1/auth/sign-out")
        .header("cookie", &editor)
        .header("x-csrf-token", &editor_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, body) = json_of(
        with_session(&app, Method::GET, "/stats", &editor)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(status, &body, refusal(401).code("not_signed_in"));

    // Admin keys keep working beside sessions.
    assert_eq!(
        app.admin(Method::GET, TEST_APP, "/stats")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited() {
    let app = spawn_app().await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let r = app
            .post("/v1/auth/sign-in")
            .json(&json!({ "email": "guess@acme.example", "password": "guess" }))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..10], &[401; 10]);
    assert_eq!(statuses[11], 429, "{statuses:?}");
}

#[test]
fn the_cli_creates_a_person_with_a_generated_password() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let created = crate::helpers::cli(&db, &["apps", "create", "--name", "Acme", "--json"]);
    let app: Value = serde_json::from_str(&created).unwrap();
    let out = crate::helpers::cli(
        &db,
        &[
            "users",
            "create",
            "--email",
            "ana@acme.example",
            "--app",
            app["app_id"].as_str().unwrap(),
            "--role",
            "owner",
        ],
    );
    assert!(out.contains("ana@acme.example is owner of"), "{out}");
    assert!(out.contains("password "), "printed once: {out}");
}

#[tokio::test]
async fn admin_keys_are_created_listed_and_revoked_through_the_api() {
    let app = spawn_app().await;
    let (status, created) = json_of(
        app.admin(Method::POST, TEST_APP, "/keys")
            .json(&json!({ "name": "billing-sync" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["mode"], "test", "the caller's mode");
    let key = created["key"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    let with_new = |method: Method, path: &str| {
        app.client
            .request(
                method,
                format!("{}/v1/admin/apps/{TEST_APP}{path}", app.url),
            )
            .bearer_auth(&key)
    };
    assert_eq!(
        with_new(Method::GET, "/stats")
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "the new key works"
    );

    let (_, list) = json_of(
        app.admin(Method::GET, TEST_APP, "/keys")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let listed = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (&listed["name"], &listed["revoked_at"]),
        (&json!("billing-sync"), &Value::Null)
    );
    assert!(!list.to_string().contains(&key), "a list never shows a key");

    let r = app
        .admin(Method::DELETE, TEST_APP, &format!("/keys/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        with_new(Method::GET, "/stats")
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "revoked"
    );
    let (status, body) = json_of(
        app.admin(Method::DELETE, TEST_APP, "/keys/nope")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(status, &body, refusal(404).code("no_such_key"));
    let (status, body) = json_of(
        app.admin(Method::POST, TEST_APP, "/keys")
            .json(&json!({ "name": " " }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(status, &body, refusal(422).field("name"));

    // Keys are an owner's: a viewer's session lists them but cannot create one.
    person(&app, "viewer@acme.example", "viewer").await;
    let (viewer, csrf) = sign_in(&app, "viewer@acme.example").await;
    assert_eq!(
        with_session(&app, Method::GET, "/keys", &viewer)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (status, body) = json_of(
        with_session(&app, Method::POST, "/keys", &viewer)
            .header("x-csrf-token", &csrf)
            .json(&json!({ "name": "mine" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(status, &body, refusal(403).code("role"));
}

#[tokio::test]
async fn an_owner_invites_with_a_one_time_link_and_resets_a_password_the_same_way() {
    let app = spawn_app().await;
    person(&app, "owner@acme.example", "owner").await;
    let (owner, csrf) = sign_in(&app, "owner@acme.example").await;
    let (status, link) = json_of(
        with_session(&app, Method::POST, "/people/invitations", &owner)
            .header("x-csrf-token", &csrf)
            .json(&json!({ "email": "Bea@Acme.example", "role": "editor" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{link}");
    assert!(
        link["link"]
            .as_str()
            .unwrap()
            .starts_with("/dashboard/#accept=")
    );
    let token = link["token"].as_str().unwrap().to_string();

    let accept = |token: &str, password: &str| {
        app.post("/v1/auth/accept")
            .json(&json!({ "token": token, "password": password }))
            .send()
    };
    let (status, body) = json_of(accept(&token, "short").await.unwrap()).await;
    assert_refused(status, &body, refusal(422).field("password"));
    let r = accept(&token, "a long enough password").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("HttpOnly")
    );
    let me: Value = r.json().await.unwrap();
    assert_eq!(
        me["apps"],
        json!([{ "app_id": TEST_APP, "role": "editor" }])
    );
    let (status, body) = json_of(accept(&token, "a long enough password").await.unwrap()).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (410, &json!("link_used_or_expired")),
        "once only"
    );

    let (_, people) = json_of(
        with_session(&app, Method::GET, "/people", &owner)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        people["people"],
        json!([{ "email": "bea@acme.example", "role": "editor" }, { "email": "owner@acme.example", "role": "owner" }])
    );

    // A forgotten password: the owner makes a reset link; Bea keeps her role.
    let (status, reset) = json_of(
        with_session(&app, Method::POST, "/people/bea@acme.example/reset", &owner)
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, &reset["role"]), (201, &json!("editor")), "{reset}");
    let r = accept(reset["token"].as_str().unwrap(), "a brand new password")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .post("/v1/auth/sign-in")
        .json(&json!({ "email": "bea@acme.example", "password": "a brand new password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the new password signs in");

    // Removing her role ends her access.
    let r = with_session(&app, Method::DELETE, "/people/bea@acme.example", &owner)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, body) = json_of(
        with_session(&app, Method::DELETE, "/people/bea@acme.example", &owner)
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(status, &body, refusal(404).code("no_such_person"));
    // Only an owner invites.
    let (viewer_link_status, _) = json_of(
        app.admin(Method::POST, TEST_APP, "/people/invitations")
            .json(&json!({ "email": "cy@acme.example", "role": "owner" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(viewer_link_status, 201, "an admin key may invite (scripts)");
}

#[tokio::test]
async fn a_session_reads_the_mode_its_dashboard_names_and_a_download_link_names_it_in_its_query() {
    let app = spawn_app().await;
    person(&app, "reader@example.com", "viewer").await;
    let (cookie, _) = sign_in(&app, "reader@example.com").await;
    let mode_of = |r: Value| r["mode"].as_str().unwrap_or_default().to_string();
    let r = with_session(&app, Method::GET, "/stats", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        mode_of(json_of(r).await.1),
        "test",
        "test data unless it says live"
    );
    let r = with_session(&app, Method::GET, "/stats", &cookie)
        .header("x-holdfast-mode", "live")
        .send()
        .await
        .unwrap();
    assert_eq!(mode_of(json_of(r).await.1), "live");
    // A link (an export) cannot set a header: its query names the mode.
    let r = with_session(&app, Method::GET, "/evidence?mode=live", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(mode_of(json_of(r).await.1), "live");
    // The header wins over the query, so a page cannot be tricked into the other mode.
    let r = with_session(&app, Method::GET, "/evidence?mode=live", &cookie)
        .header("x-holdfast-mode", "test")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn every_change_names_who_made_it_and_each_config_version_shows_it() {
    let app = spawn_app().await;
    person(&app, "ed@example.com", "editor").await;
    let (cookie, csrf) = sign_in(&app, "ed@example.com").await;
    let (_, current) = json_of(
        app.admin(Method::GET, TEST_APP, "/config")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let config = current["config"].clone();

    // A person publishes, a key publishes, the person restores the first version.
    let r = with_session(&app, Method::PUT, "/config", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&config)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.put_config(TEST_APP, &config).await.status(), 200);
    let r = with_session(&app, Method::POST, "/config/versions/1/restore", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let (status, body) = json_of(
        app.admin(Method::GET, TEST_APP, "/config/versions")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let by = |v: i64| {
        body["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["version"] == v)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (&by(2)["created_by"], &by(2)["change"]),
        (&json!("user:ed@example.com"), &json!("config.published"))
    );
    let key_id = by(3)["created_by"].as_str().unwrap().to_string();
    assert!(
        key_id.starts_with("hfk_test_"),
        "a key's id, never its secret: {key_id}"
    );
    assert_eq!(by(4)["change"], "config.restored");
    assert_eq!(by(4)["detail"], "from version 1");
    assert_eq!(
        by(1)["created_by"],
        Value::Null,
        "made before anyone could change it"
    );

    // Keys: created and revoked by the person (an owner's change) — the editor is refused, and
    // a refused change is not logged.
    let r = with_session(&app, Method::POST, "/keys", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({ "name": "ci" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (status, created) = json_of(
        app.admin(Method::POST, TEST_APP, "/keys")
            .json(&json!({ "name": "ci" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, keys) = json_of(
        app.admin(Method::GET, TEST_APP, "/changes?action=key.")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{keys}");
    assert_eq!(keys["changes"].as_array().unwrap().len(), 1, "{keys}");
    assert_eq!(
        (
            &keys["changes"][0]["action"],
            &keys["changes"][0]["subject"],
            &keys["changes"][0]["detail"]
        ),
        (&json!("key.created"), &created["id"], &json!("ci"))
    );

    // Newest first; a bad limit names the field.
    let (_, all) = json_of(
        app.admin(Method::GET, TEST_APP, "/changes?limit=2")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(all["changes"][0]["action"], "key.created");
    assert_eq!(all["changes"][1]["action"], "config.restored");
    let (status, body) = json_of(
        app.admin(Method::GET, TEST_APP, "/changes?limit=0")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(status, &body, refusal(422).field("limit"));
}
