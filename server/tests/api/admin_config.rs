//! Admin config: bearer auth, validation by core, versions and restore.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{LIVE_APP, TEST_APP, assert_refused, json_of, refusal, spawn_app};

fn default_config() -> Value {
    serde_json::to_value(holdfast_core::config::AppConfig::default()).unwrap()
}

#[tokio::test]
async fn admin_requests_without_a_key_are_refused() {
    let app = spawn_app().await;
    let r = app
        .get(&format!("/v1/admin/apps/{TEST_APP}/config"))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(status, 401);
    insta::assert_json_snapshot!(body);
}

#[tokio::test]
async fn admin_requests_with_another_apps_key_are_refused() {
    let app = spawn_app().await;
    let r = app
        .get(&format!("/v1/admin/apps/{TEST_APP}/config"))
        .bearer_auth(crate::helpers::LIVE_SECRET)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_refused(status, &body, refusal(401).code("invalid_api_key"));
}

#[tokio::test]
async fn the_admin_reads_the_current_config_with_its_version() {
    let app = spawn_app().await;
    let (status, body) = json_of(
        app.admin(Method::GET, TEST_APP, "/config")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["version"], 1);
    assert_eq!(body["config"], default_config());
    assert_eq!(body["warnings"], json!([]));
}

#[tokio::test]
async fn a_replaced_config_is_served_to_the_widget_at_once_with_a_new_etag() {
    let app = spawn_app().await;
    let path = format!("/v1/apps/{TEST_APP}/config");
    let before = app.get(&path).send().await.unwrap().headers()["etag"].clone();
    let mut config = default_config();
    config["reasons"][0]["label"] = json!("Costs too much");
    let (status, body) = json_of(app.put_config(TEST_APP, &config).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["version"], 2);
    let after = app.get(&path).send().await.unwrap();
    assert_ne!(
        after.headers()["etag"],
        before,
        "the cached config was invalidated"
    );
    let served: Value = after.json().await.unwrap();
    assert_eq!(served["reasons"][0]["label"], "Costs too much");
}

#[tokio::test]
async fn a_refused_config_gets_a_422_with_every_problem_and_its_path() {
    let app = spawn_app().await;
    let mut config = default_config();
    config["offers"][0]["terms"]["percent"] = json!(60);
    config["offers"][2]["terms"]["months"] = json!(6);
    let (status, body) = json_of(app.put_config(TEST_APP, &config).await).await;
    assert_eq!(status, 422);
    insta::assert_json_snapshot!(body);
    let (_, current) = json_of(
        app.admin(Method::GET, TEST_APP, "/config")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(current["version"], 1, "a refused config changes nothing");
}

#[tokio::test]
async fn a_config_with_a_warning_is_saved_and_the_warning_returned() {
    let app = spawn_app().await;
    let mut config = default_config();
    config["offers"][0]["terms"]["percent"] = json!(40);
    let (status, body) = json_of(app.put_config(TEST_APP, &config).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["version"], 2);
    insta::assert_json_snapshot!(body["warnings"]);
}

#[tokio::test]
async fn a_config_with_an_unknown_field_is_refused_naming_it() {
    let app = spawn_app().await;
    let mut config = default_config();
    config["offers"][1]["sneaky"] = json!(true);
    let (status, body) = json_of(app.put_config(TEST_APP, &config).await).await;
    assert_refused(status, &body, refusal(422).field("offers[1].sneaky"));
}

#[tokio::test]
async fn a_config_with_a_wrong_type_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let mut config = default_config();
    config["plans"][0]["price_cents"] = json!("cheap");
    let (status, body) = json_of(app.put_config(TEST_APP, &config).await).await;
    assert_refused(status, &body, refusal(422).field("plans[0].price_cents"));
}

#[tokio::test]
async fn every_accepted_version_is_kept_and_an_earlier_one_can_be_restored() {
    let app = spawn_app().await;
    let mut config = default_config();
    config["theme"]["primary"] = json!("#112233");
    assert_eq!(app.put_config(TEST_APP, &config).await.status(), 200);
    let (_, versions) = json_of(
        app.admin(Method::GET, TEST_APP, "/config/versions")
            .send()
            .await
            .unwrap(),
    )
    .await;
    insta::assert_json_snapshot!(versions, { ".versions[].created_at" => "[time]" });

    let (status, restored) = json_of(
        app.admin(Method::POST, TEST_APP, "/config/versions/1/restore")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(restored["version"], 3, "a restore is a new version");
    assert_eq!(restored["config"], default_config());
    let served: Value = app
        .get(&format!("/v1/apps/{TEST_APP}/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        served,
        serde_json::to_value(holdfast_core::config::PublicConfig::from(
            &holdfast_core::config::AppConfig::default()
        ))
        .unwrap(),
        "the public config is the restored one's"
    );
}

#[tokio::test]
async fn restoring_a_version_that_does_not_exist_is_a_404() {
    let app = spawn_app().await;
    let (status, body) = json_of(
        app.admin(Method::POST, LIVE_APP, "/config/versions/42/restore")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(
        status,
        &body,
        refusal(404).code("version_not_found").field("version"),
    );
}

#[tokio::test]
async fn restoring_a_version_that_is_not_a_number_is_a_400() {
    let app = spawn_app().await;
    let (status, body) = json_of(
        app.admin(Method::POST, TEST_APP, "/config/versions/latest/restore")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(status, &body, refusal(400).field("version"));
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_400() {
    let app = spawn_app().await;
    let r = app
        .admin(Method::PUT, TEST_APP, "/config")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_refused(status, &body, refusal(400).code("invalid_json"));
}
