//! Customer tokens: every refusal names what is wrong, with a 401 and the API's error body.

use serde_json::{Value, json};

use crate::helpers::{
    LIVE_APP, LIVE_KID, LIVE_SECRET, ORIGIN, TestApp, event, json_of, now, spawn_app, token_with,
    uuid,
};

async fn prompt_state(app: &TestApp, customer: Value) -> (u16, Value) {
    let r = app
        .post(&format!("/v1/apps/{LIVE_APP}/prompts/state"))
        .header("origin", ORIGIN)
        .json(&json!({ "customer": customer }))
        .send()
        .await
        .unwrap();
    json_of(r).await
}

fn live(extra: Value) -> Value {
    json!(token_with(
        LIVE_APP,
        LIVE_SECRET,
        Some(LIVE_KID),
        "cus_1",
        extra
    ))
}

async fn refused_with(app: &TestApp, customer: Value, code: &str) {
    let (status, body) = prompt_state(app, customer).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["field"], "customer");
}

#[tokio::test]
async fn each_bad_token_is_refused_naming_what_is_wrong() {
    let app = spawn_app().await;
    let t = now();
    refused_with(
        &app,
        live(json!({ "iat": t - 7200, "exp": t - 3600 })),
        "token_expired",
    )
    .await;
    refused_with(
        &app,
        json!(token_with(
            "app_other",
            LIVE_SECRET,
            Some(LIVE_KID),
            "cus_1",
            json!({})
        )),
        "wrong_audience",
    )
    .await;
    refused_with(
        &app,
        json!(token_with(
            LIVE_APP,
            "not the secret",
            Some(LIVE_KID),
            "cus_1",
            json!({})
        )),
        "bad_signature",
    )
    .await;
    refused_with(
        &app,
        json!(token_with(
            LIVE_APP,
            LIVE_SECRET,
            Some("live_gone"),
            "cus_1",
            json!({})
        )),
        "unknown_key_id",
    )
    .await;
    refused_with(&app, live(json!({ "exp": null })), "missing_claim").await;
    refused_with(&app, live(json!({ "plan": null })), "invalid_claims").await;
    refused_with(
        &app,
        live(json!({ "exp": t + 8 * 86_400 })),
        "invalid_claims",
    )
    .await;
    refused_with(&app, json!("not.a.token"), "invalid_token").await;
}

#[tokio::test]
async fn a_token_without_a_key_id_is_tried_against_the_current_secrets() {
    let app = spawn_app().await;
    let token = json!(token_with(LIVE_APP, LIVE_SECRET, None, "cus_1", json!({})));
    assert_eq!(prompt_state(&app, token).await.0, 200);
}

#[tokio::test]
async fn a_token_within_the_clock_leeway_is_accepted() {
    let app = spawn_app().await;
    let t = now();
    assert_eq!(
        prompt_state(&app, live(json!({ "iat": t - 3600, "exp": t - 30 })))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn funnel_events_on_a_recently_expired_token_are_accepted_outcomes_are_not() {
    let app = spawn_app().await;
    let t = now();
    let expired = live(json!({ "iat": t - 3 * 86_400, "exp": t - 2 * 86_400 }));
    let s = uuid();
    let funnel = json!({ "customer": expired, "events": [
        event("flow_started", &s, (t - 2 * 86_400 - 60) * 1000, json!({})),
        event("reason_selected", &s, (t - 2 * 86_400 - 50) * 1000, json!({ "reason": "other" })),
    ]});
    let (status, body) = json_of(app.post_events(LIVE_APP, &funnel).await).await;
    assert_eq!(status, 200, "{body}");
    let outcome = json!({ "customer": expired, "events": [
        event("cancel_confirmed", &s, (t - 2 * 86_400 - 40) * 1000, json!({})),
    ]});
    let (status, body) = json_of(app.post_events(LIVE_APP, &outcome).await).await;
    assert_eq!(status, 401);
    assert_eq!(
        (&body["error"]["code"], &body["error"]["field"]),
        (&json!("token_expired"), &json!("events[0].type"))
    );
    let long_gone = live(json!({ "iat": t - 10 * 86_400, "exp": t - 8 * 86_400 }));
    let late = json!({ "customer": long_gone, "events": [event("flow_started", &uuid(), t * 1000, json!({}))] });
    assert_eq!(app.post_events(LIVE_APP, &late).await.status(), 401);
}

#[tokio::test]
async fn the_signed_claims_are_the_customer() {
    let app = spawn_app().await;
    // A token says `enterprise`; nothing the browser adds can change that: unknown fields in
    // the body are refused and the claims are all the server reads.
    let token = live(json!({ "plan": "enterprise", "mrr_cents": 60000 }));
    let r = app
        .post(&format!("/v1/apps/{LIVE_APP}/cancel-plan"))
        .header("origin", ORIGIN)
        .json(&json!({ "customer": token, "mrr_cents": 1 }))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(
        status, 422,
        "an extra field next to the token is refused: {body}"
    );
    assert_eq!(body["error"]["field"], "mrr_cents");
}
