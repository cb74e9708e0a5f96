//! `POST /v1/apps/{app_id}/offers/accept`: core re-checks eligibility; the server never trusts the
//! browser's claim.

use serde_json::{Value, json};

use crate::helpers::{
    LIVE_APP, LIVE_KID, LIVE_SECRET, TEST_APP, assert_refused, customer, json_of, refusal, signed,
    spawn_app, token_with, uuid,
};

fn acceptance(customer_id: &str, reason: Option<&str>, offer: &str) -> Value {
    json!({
        "customer": customer(customer_id),
        "session_id": uuid(),
        "event_id": uuid(),
        "reason": reason,
        "offer_id": offer,
    })
}

#[tokio::test]
async fn an_eligible_offer_is_accepted_with_the_rule_that_selected_it() {
    let app = spawn_app().await;
    let (status, body) = json_of(
        app.accept(
            TEST_APP,
            &acceptance("cus_1", Some("too_expensive"), "discount_25"),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    insta::assert_json_snapshot!(body, { ".received_at" => "[time]" });
}

#[tokio::test]
async fn an_offer_for_another_reason_is_refused_as_not_selected() {
    let app = spawn_app().await;
    let (status, body) = json_of(
        app.accept(
            TEST_APP,
            &acceptance("cus_1", Some("not_using"), "discount_25"),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    insta::assert_json_snapshot!(body);
}

#[tokio::test]
async fn an_offer_the_customer_is_not_eligible_for_is_refused() {
    let app = spawn_app().await;
    let mut body = acceptance("cus_1", Some("too_expensive"), "discount_25");
    body["customer"]["discounted"] = json!(true);
    let (status, body) = json_of(app.accept(TEST_APP, &body).await).await;
    assert_refused(status, &body, refusal(403).code("offer_not_eligible"));
    assert_eq!(
        body["error"]["message"],
        "the subscription is already discounted"
    );
}

#[tokio::test]
async fn a_second_discount_within_the_cooldown_is_refused_from_the_ledger() {
    let app = spawn_app().await;
    let first = acceptance("cus_1", Some("too_expensive"), "discount_25");
    assert_eq!(app.accept(TEST_APP, &first).await.status(), 200);
    let second = acceptance("cus_1", Some("switching"), "switch_discount");
    let (status, body) = json_of(app.accept(TEST_APP, &second).await).await;
    assert_refused(status, &body, refusal(403).code("offer_not_eligible"));
    let other_customer = acceptance("cus_2", Some("switching"), "switch_discount");
    assert_eq!(
        app.accept(TEST_APP, &other_customer).await.status(),
        200,
        "the ledger is per customer"
    );
}

#[tokio::test]
async fn repeating_an_acceptance_returns_the_same_answer_and_records_it_once() {
    let app = spawn_app().await;
    let body = acceptance("cus_1", Some("too_expensive"), "discount_25");
    let (_, first) = json_of(app.accept(TEST_APP, &body).await).await;
    let (status, again) = json_of(app.accept(TEST_APP, &body).await).await;
    assert_eq!(
        status, 200,
        "a retry is not refused by the cooldown it created"
    );
    assert_eq!(first, again);
    let stats = app.stats(TEST_APP, "").await;
    assert_eq!(stats["totals"]["saves"], 1);
}

#[tokio::test]
async fn an_acceptance_counts_as_the_sessions_save_without_any_event() {
    let app = spawn_app().await;
    assert_eq!(
        app.accept(TEST_APP, &acceptance("cus_1", Some("not_using"), "pause_2"))
            .await
            .status(),
        200
    );
    let stats = app.stats(TEST_APP, "").await;
    assert_eq!(stats["totals"]["sessions"], 1);
    assert_eq!(stats["totals"]["saves"], 1);
    assert_eq!(stats["totals"]["save_rate"], 1.0);
}

#[tokio::test]
async fn the_server_assigns_the_variant_itself_and_a_holdout_gets_no_offer() {
    let app = spawn_app().await;
    let mut config = serde_json::to_value(holdfast_core::config::AppConfig::default()).unwrap();
    config["experiments"] = json!([{
        "key": "offer_test",
        "variants": [
            { "key": "control", "weight": 0.0 },
            { "key": "holdout", "weight": 1.0, "holdout": true }
        ]
    }]);
    assert_eq!(app.put_config(TEST_APP, &config).await.status(), 200);
    let (status, body) = json_of(
        app.accept(
            TEST_APP,
            &acceptance("cus_1", Some("too_expensive"), "discount_25"),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403, "a holdout customer cannot claim an offer");
    assert_eq!(body["error"]["code"], "offer_not_selected");
}

#[tokio::test]
async fn the_first_exposure_is_sticky_when_the_experiment_changes() {
    let app = spawn_app().await;
    let mut config = serde_json::to_value(holdfast_core::config::AppConfig::default()).unwrap();
    let experiment = |treatment: f64| {
        json!([{ "key": "offer_test", "variants": [
            { "key": "control", "weight": 1.0 - treatment },
            { "key": "treatment", "weight": treatment, "holdout": true }
        ]}])
    };
    config["experiments"] = experiment(0.0);
    assert_eq!(app.put_config(TEST_APP, &config).await.status(), 200);
    let first = acceptance("cus_1", Some("too_expensive"), "discount_25");
    assert_eq!(app.accept(TEST_APP, &first).await.status(), 200);
    // Everyone would now be in the holdout, but cus_1 was exposed to control first. (A running
    // split is frozen: the change is made stopped, then the experiment restarts.)
    config["experiments"] = experiment(1.0);
    assert_eq!(
        app.put_config(TEST_APP, &config).await.status(),
        409,
        "not while it runs"
    );
    config["experiments"][0]["active"] = json!(false);
    assert_eq!(app.put_config(TEST_APP, &config).await.status(), 200);
    let r = app
        .admin(
            reqwest::Method::POST,
            TEST_APP,
            "/experiments/offer_test/start",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let later = acceptance("cus_1", Some("technical_issues"), "escalate_support");
    assert_eq!(
        app.accept(TEST_APP, &later).await.status(),
        200,
        "cus_1 keeps control"
    );
    let newcomer = acceptance("cus_2", Some("technical_issues"), "escalate_support");
    assert_eq!(
        app.accept(TEST_APP, &newcomer).await.status(),
        403,
        "cus_2 is assigned fresh"
    );
}

#[tokio::test]
async fn an_acceptance_with_a_token_for_another_app_is_refused() {
    let app = spawn_app().await;
    let mut body = acceptance("cus_1", Some("too_expensive"), "discount_25");
    body["customer"] = json!(token_with(
        TEST_APP,
        LIVE_SECRET,
        Some(LIVE_KID),
        "cus_1",
        json!({})
    ));
    let (status, body) = json_of(app.accept(LIVE_APP, &body).await).await;
    assert_refused(status, &body, refusal(401).code("wrong_audience"));
}

#[tokio::test]
async fn a_signed_customer_accepts_an_offer_in_live_mode() {
    let app = spawn_app().await;
    let mut body = acceptance("cus_1", Some("too_expensive"), "discount_25");
    body["customer"] = signed("cus_1");
    let (status, body) = json_of(app.accept(LIVE_APP, &body).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.stats(LIVE_APP, "").await["totals"]["saves"], 1);
}

#[tokio::test]
async fn an_acceptance_with_a_bad_event_id_is_refused_naming_it() {
    let app = spawn_app().await;
    let mut body = acceptance("cus_1", Some("too_expensive"), "discount_25");
    body["event_id"] = json!("nope");
    let (status, body) = json_of(app.accept(TEST_APP, &body).await).await;
    assert_refused(status, &body, refusal(422).field("event_id"));
}

#[tokio::test]
async fn an_acceptance_missing_a_field_is_refused_naming_it() {
    let app = spawn_app().await;
    let mut body = acceptance("cus_1", Some("too_expensive"), "discount_25");
    body.as_object_mut().unwrap().remove("offer_id");
    let (status, body) = json_of(app.accept(TEST_APP, &body).await).await;
    assert_refused(status, &body, refusal(422).field("offer_id"));
}
