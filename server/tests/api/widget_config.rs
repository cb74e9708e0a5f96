//! `GET /v1/apps/{app_id}/config`: the app's public config, cacheable, CORS from the allow-list.

use holdfast_core::config::{AppConfig, PublicConfig};

use crate::helpers::{ORIGIN, TEST_APP, assert_refused, json_of, refusal, spawn_app};

#[tokio::test]
async fn the_public_config_publishes_no_rules_thresholds_or_weights_and_has_an_etag() {
    let app = spawn_app().await;
    let r = app
        .get(&format!("/v1/apps/{TEST_APP}/config"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().get("etag").is_some(),
        "a config carries an ETag"
    );
    let body: serde_json::Value = r.json().await.unwrap();
    for private in [
        "offers",
        "rules",
        "cooldowns",
        "prompts",
        "experiments",
        "policy",
    ] {
        assert!(
            body.get(private).is_none(),
            "{private} stays on the server: {body}"
        );
    }
    let config: PublicConfig = serde_json::from_value(body).unwrap();
    assert_eq!(
        config,
        PublicConfig::from(&AppConfig::default()),
        "the body is core's PublicConfig and nothing else"
    );
}

#[tokio::test]
async fn a_matching_if_none_match_gets_a_304() {
    let app = spawn_app().await;
    let path = format!("/v1/apps/{TEST_APP}/config");
    let first = app.get(&path).send().await.unwrap();
    let etag = first.headers()["etag"].clone();
    let again = app
        .get(&path)
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag);
    let stale = app
        .get(&path)
        .header("if-none-match", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
}

#[tokio::test]
async fn an_unknown_app_gets_a_404_naming_the_app_id() {
    let app = spawn_app().await;
    let (status, body) = json_of(app.get("/v1/apps/app_nope/config").send().await.unwrap()).await;
    assert_eq!(status, 404);
    insta::assert_json_snapshot!(body);
}

#[tokio::test]
async fn a_malformed_app_id_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let (status, body) = json_of(app.get("/v1/apps/bad%20id!/config").send().await.unwrap()).await;
    assert_refused(
        status,
        &body,
        refusal(400).code("invalid_id").field("app_id"),
    );
}

#[tokio::test]
async fn a_foreign_origin_gets_a_403() {
    let app = spawn_app().await;
    let r = app
        .get(&format!("/v1/apps/{TEST_APP}/config"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let (status, body) = json_of(r).await;
    assert_eq!(status, 403);
    insta::assert_json_snapshot!(body);
}

#[tokio::test]
async fn an_allowed_origin_gets_cors_headers_for_exactly_that_origin() {
    let app = spawn_app().await;
    let r = app
        .get(&format!("/v1/apps/{TEST_APP}/config"))
        .header("origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    assert_eq!(r.headers()["vary"], "Origin");
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered_and_a_foreign_one_refused() {
    let app = spawn_app().await;
    let path = format!("{}/v1/apps/{TEST_APP}/events", app.url);
    let ok = app
        .client
        .request(reqwest::Method::OPTIONS, &path)
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(ok.headers()["access-control-allow-origin"], ORIGIN);
    assert!(
        ok.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let foreign = app
        .client
        .request(reqwest::Method::OPTIONS, &path)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
}
