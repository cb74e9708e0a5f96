//! Upgrade prompts: the per-customer state the widget's caps read, and conversion stats.

use holdfast_core::caps::History;
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{
    LIVE_APP, LIVE_KID, ORIGIN, TEST_APP, TestApp, assert_refused, customer, event, json_of, now,
    refusal, signed, spawn_app, token_with, uuid,
};

const DAY: i64 = 86_400;

async fn prompt_state(app: &TestApp, app_id: &str, customer: Value) -> Response {
    app.post(&format!("/v1/apps/{app_id}/prompts/state"))
        .header("origin", ORIGIN)
        .json(&json!({ "customer": customer }))
        .send()
        .await
        .unwrap()
}

async fn state_of(app: &TestApp, customer_id: &str) -> Value {
    let (status, body) = json_of(prompt_state(app, TEST_APP, customer(customer_id)).await).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn send(app: &TestApp, customer_id: &str, events: Vec<Value>) -> Value {
    let body = json!({ "customer": customer(customer_id), "events": events });
    let (status, body) = json_of(app.post_events(TEST_APP, &body).await).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn shown(session: &str, at_s: i64, prompt: &str, trigger: &str) -> Value {
    event(
        "prompt_shown",
        session,
        at_s * 1000,
        json!({ "prompt": prompt, "trigger": trigger }),
    )
}

async fn upgrade(app: &TestApp, customer_id: &str, at: i64) {
    let r = app
        .admin(
            Method::POST,
            TEST_APP,
            &format!("/customers/{customer_id}/lifecycle"),
        )
        .json(&json!({ "type": "upgraded", "at": at, "plan": "team" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn prompt_stats(app: &TestApp, query: &str) -> Value {
    let r = app
        .admin(Method::GET, TEST_APP, &format!("/prompts/stats?{query}"))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn shown_prompts_and_gate_hits_come_back_as_the_customers_state() {
    let app = spawn_app().await;
    let t = now() - 3 * DAY;
    send(
        &app,
        "cus_1",
        vec![
            shown(&uuid(), t + 60, "seats", "seats"),
            shown(&uuid(), t, "usage", "usage:projects:90:none"),
            event("gate_hit", &uuid(), t * 1000, json!({ "feature": "sso" })),
            event("gate_hit", &uuid(), t * 1000, json!({ "feature": "sso" })),
            event("gate_hit", &uuid(), t * 1000, json!({ "feature": "audit" })),
        ],
    )
    .await;
    let state = state_of(&app, "cus_1").await;
    assert_eq!(
        state,
        json!({
            "impressions": [
                { "prompt": "usage", "at": t, "trigger_key": "usage:projects:90:none" },
                { "prompt": "seats", "at": t + 60, "trigger_key": "seats" },
            ],
            "snoozes": [],
            "gate_hits": { "audit": 1, "sso": 2 },
        })
    );
    let history: History = serde_json::from_value(json!({
        "impressions": state["impressions"],
        "snoozes": state["snoozes"],
    }))
    .expect("the state is core's History");
    assert_eq!(history.impressions.len(), 2);
    assert!(
        state_of(&app, "cus_2").await["impressions"]
            .as_array()
            .unwrap()
            .is_empty(),
        "another customer's history is their own"
    );
}

#[tokio::test]
async fn an_unknown_customer_has_an_empty_state() {
    let app = spawn_app().await;
    assert_eq!(
        state_of(&app, "cus_never_seen").await,
        json!({ "impressions": [], "snoozes": [], "gate_hits": {} })
    );
}

#[tokio::test]
async fn remind_me_in_7_days_snoozes_the_prompt_until_then() {
    let app = spawn_app().await;
    let t = now() - 60;
    let s = uuid();
    send(
        &app,
        "cus_1",
        vec![
            shown(&s, t, "usage", "usage:projects:75:none"),
            event(
                "prompt_dismissed",
                &s,
                t * 1000 + 500,
                json!({ "prompt": "usage", "snooze_days": 7 }),
            ),
        ],
    )
    .await;
    let state = state_of(&app, "cus_1").await;
    assert_eq!(
        state["snoozes"],
        json!([{ "prompt": "usage", "until": t + 7 * DAY }])
    );
    assert_eq!(
        state["impressions"].as_array().unwrap().len(),
        1,
        "a dismissal is not a second impression"
    );
}

#[tokio::test]
async fn a_retried_prompt_batch_changes_neither_state_nor_stats() {
    let app = spawn_app().await;
    let t = now() - 60;
    let s = uuid();
    let batch = json!({
        "customer": customer("cus_1"),
        "events": [
            shown(&s, t, "gate", "gate:sso"),
            event("prompt_clicked", &s, t * 1000 + 100, json!({ "prompt": "gate" })),
            event("gate_hit", &uuid(), t * 1000, json!({ "feature": "sso" })),
            event("prompt_dismissed", &uuid(), t * 1000, json!({ "prompt": "gate", "snooze_days": 3 })),
        ],
    });
    assert_eq!(app.post_events(TEST_APP, &batch).await.status(), 200);
    let state = state_of(&app, "cus_1").await;
    let stats = prompt_stats(&app, "").await;
    let (status, retry) = json_of(app.post_events(TEST_APP, &batch).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        retry,
        json!({ "accepted": 4 }),
        "received, dropped when folded"
    );
    assert_eq!(state_of(&app, "cus_1").await, state);
    // The default range follows the clock: compare what was counted, not the range's ends.
    let again = prompt_stats(&app, "").await;
    assert_eq!(
        (&again["totals"], &again["breakdowns"]),
        (&stats["totals"], &stats["breakdowns"])
    );
    assert_eq!(state["gate_hits"], json!({ "sso": 1 }));
    assert_eq!(stats["totals"]["shown"], 1);
    assert_eq!(stats["totals"]["clicked"], 1);
}

#[tokio::test]
async fn a_snooze_outside_1_to_90_days_is_refused_naming_the_field() {
    let app = spawn_app().await;
    for days in [0, 91] {
        let body = json!({
            "customer": customer("cus_1"),
            "events": [event("prompt_dismissed", &uuid(), now() * 1000,
                json!({ "prompt": "usage", "snooze_days": days }))],
        });
        let (status, body) = json_of(app.post_events(TEST_APP, &body).await).await;
        assert_eq!(status, 422, "{days} days");
        assert_eq!(body["error"]["field"], "events[0].snooze_days");
    }
}

#[tokio::test]
async fn a_prompt_shown_without_its_trigger_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let body = json!({
        "customer": customer("cus_1"),
        "events": [
            shown(&uuid(), now(), "usage", "usage:projects:50:none"),
            event("prompt_shown", &uuid(), now() * 1000, json!({ "prompt": "usage" })),
        ],
    });
    let (status, body) = json_of(app.post_events(TEST_APP, &body).await).await;
    assert_refused(status, &body, refusal(422).field("events[1].trigger"));
    assert!(
        state_of(&app, "cus_1").await["impressions"]
            .as_array()
            .unwrap()
            .is_empty(),
        "a refused batch records nothing"
    );
}

#[tokio::test]
async fn prompt_state_needs_a_token_signed_with_the_apps_secret() {
    let app = spawn_app().await;
    let forged = json!(token_with(
        LIVE_APP,
        "sk_other",
        Some(LIVE_KID),
        "cus_1",
        json!({})
    ));
    let (status, body) = json_of(prompt_state(&app, LIVE_APP, forged).await).await;
    assert_refused(status, &body, refusal(401).code("bad_signature"));
    assert_eq!(
        prompt_state(&app, LIVE_APP, signed("cus_1")).await.status(),
        200
    );
}

#[tokio::test]
async fn the_state_for_a_foreign_origin_is_a_403_and_an_allowed_one_gets_cors_headers() {
    let app = spawn_app().await;
    let r = app
        .post(&format!("/v1/apps/{TEST_APP}/prompts/state"))
        .header("origin", "https://evil.example")
        .json(&json!({ "customer": customer("cus_1") }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = prompt_state(&app, TEST_APP, customer("cus_1")).await;
    assert_eq!(r.headers()["access-control-allow-origin"], ORIGIN);
    let preflight = app
        .client
        .request(
            Method::OPTIONS,
            format!("{}/v1/apps/{TEST_APP}/prompts/state", app.url),
        )
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
}

#[tokio::test]
async fn an_upgrade_within_30_days_converts_the_latest_prompt_shown_before_it() {
    let app = spawn_app().await;
    let t = now();
    // cus_1: two prompts, then an upgrade 5 days after the second: the second converted.
    let s1 = uuid();
    send(
        &app,
        "cus_1",
        vec![
            shown(&uuid(), t - 20 * DAY, "usage", "usage:projects:75:none"),
            shown(&s1, t - 10 * DAY, "seats", "seats"),
            event("prompt_clicked", &s1, (t - 10 * DAY) * 1000 + 1, json!({})),
        ],
    )
    .await;
    upgrade(&app, "cus_1", t - 5 * DAY).await;
    // cus_2: shown 45 days before upgrading: outside the window.
    let s2 = uuid();
    send(
        &app,
        "cus_2",
        vec![
            shown(&s2, t - 50 * DAY, "usage", "usage:projects:90:none"),
            event(
                "prompt_dismissed",
                &s2,
                (t - 50 * DAY) * 1000 + 1,
                json!({}),
            ),
        ],
    )
    .await;
    upgrade(&app, "cus_2", t - 5 * DAY).await;

    let stats = prompt_stats(&app, &format!("from={}&to={}", t - 60 * DAY, t)).await;
    assert_eq!(
        stats["totals"],
        json!({
            "shown": 3, "clicked": 1, "dismissed": 1, "trials": 0, "upgraded": 1,
            "conversion": 1.0 / 3.0,
        })
    );
    let by_prompt = &stats["breakdowns"]["prompt"];
    assert_eq!(by_prompt[0]["key"], "seats");
    assert_eq!(by_prompt[0]["upgraded"], 1);
    assert_eq!(by_prompt[0]["conversion"], 1.0);
    assert_eq!(by_prompt[1]["key"], "usage");
    assert_eq!(by_prompt[1]["shown"], 2);
    assert_eq!(by_prompt[1]["upgraded"], 0);
    let thresholds: Vec<&Value> = stats["breakdowns"]["threshold"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["key"])
        .collect();
    assert_eq!(thresholds, [&json!("75"), &json!("90"), &json!("none")]);
    assert_eq!(stats["breakdowns"]["trigger"][0]["key"], "seats");
    assert_eq!(stats["breakdowns"]["trigger"][1]["key"], "usage:projects");
    assert_eq!(stats["breakdowns"]["plan"][0]["key"], "pro");
    assert_eq!(stats["breakdowns"]["variant"][0]["key"], "none");
    assert_eq!(stats["mode"], "test");
}

#[tokio::test]
async fn an_impression_that_arrives_after_the_upgrade_report_still_converts() {
    let app = spawn_app().await;
    let t = now();
    upgrade(&app, "cus_1", t - DAY).await;
    send(
        &app,
        "cus_1",
        vec![shown(&uuid(), t - 2 * DAY, "gate", "gate:sso")],
    )
    .await;
    let totals = &prompt_stats(&app, "").await["totals"];
    assert_eq!(
        (&totals["shown"], &totals["upgraded"]),
        (&json!(1), &json!(1))
    );
}

#[tokio::test]
async fn an_action_counts_for_the_latest_matching_prompt_of_the_page_session_before_it() {
    let app = spawn_app().await;
    let t = now() - 3600;
    let page = uuid();
    let on = |kind: &str, at: i64, prompt: &str, trigger: &str| {
        event(
            kind,
            &page,
            at * 1000,
            json!({ "prompt": prompt, "trigger": trigger }),
        )
    };
    send(
        &app,
        "cus_1",
        vec![
            shown(&page, t, "usage", "usage:projects:50:none"),
            on("prompt_dismissed", t + 1, "usage", "usage:projects:50:none"),
            shown(&page, t + 100, "gate", "gate:sso"),
            shown(&page, t + 200, "gate", "gate:sso"),
            on("trial_started", t + 201, "gate", "gate:sso"),
        ],
    )
    .await;
    let stats = prompt_stats(&app, "").await;
    let row = |key: &str| {
        stats["breakdowns"]["prompt"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (&row("usage")["dismissed"], &row("usage")["trials"]),
        (&json!(1), &json!(0))
    );
    assert_eq!(
        (
            &row("gate")["shown"],
            &row("gate")["dismissed"],
            &row("gate")["trials"]
        ),
        (&json!(2), &json!(0), &json!(1)),
        "the trial belongs to the second gate prompt only"
    );
}

#[tokio::test]
async fn prompt_stats_need_the_apps_key() {
    let app = spawn_app().await;
    let r = app
        .get(&format!("/v1/admin/apps/{TEST_APP}/prompts/stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn every_prompt_id_of_core_is_accepted_and_any_other_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let ids = holdfast_server::funnel::PROMPT_IDS;
    let events = ids
        .iter()
        .map(|id| shown(&uuid(), now() - 60, id, "seats"))
        .collect();
    assert_eq!(send(&app, "cus_1", events).await["accepted"], ids.len());
    let body = json!({
        "customer": customer("cus_1"),
        "events": [shown(&uuid(), now(), "banner", "seats")],
    });
    let (status, body) = json_of(app.post_events(TEST_APP, &body).await).await;
    assert_refused(status, &body, refusal(422).field("events[0].prompt"));
}

#[tokio::test]
async fn of_two_prompts_shown_within_one_second_the_later_one_converts() {
    let app = spawn_app().await;
    let t = now() - DAY;
    let session = uuid();
    // The 50% banner and the 90% comparison 400 ms apart, in reverse order in the batch.
    send(
        &app,
        "cus_fast",
        vec![
            event(
                "prompt_shown",
                &session,
                t * 1000 + 900,
                json!({ "prompt": "usage_compare", "trigger": "usage:projects:90:none" }),
            ),
            event(
                "prompt_shown",
                &session,
                t * 1000 + 500,
                json!({ "prompt": "usage", "trigger": "usage:projects:50:none" }),
            ),
        ],
    )
    .await;
    upgrade(&app, "cus_fast", t + 60).await;
    let stats = prompt_stats(&app, &format!("from={}&to={}", t - DAY, t + DAY)).await;
    let rows = stats["breakdowns"]["prompt"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let upgraded = |key: &str| {
        rows.iter()
            .find(|r| r["key"] == key)
            .map(|r| r["upgraded"].clone())
    };
    assert_eq!(upgraded("usage_compare"), Some(json!(1)), "{stats}");
    assert_eq!(upgraded("usage"), Some(json!(0)), "{stats}");
}

async fn plan(app: &TestApp, body: Value) -> (u16, Value) {
    let (status, body) = json_of(
        app.post(&format!("/v1/apps/{TEST_APP}/prompts/plan"))
            .header("origin", ORIGIN)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    (status, body)
}

/// The loader sends the host's options as they are: a test-mode customer's `created_at` may be an
/// ISO 8601 date, as the widget's API documents, and the server reads it; anything else is refused
/// naming the field.
#[tokio::test]
async fn a_customer_created_at_may_be_an_iso_8601_date() {
    let app = spawn_app().await;
    let mut c = customer("cus_iso");
    c["created_at"] = json!("2026-01-31");
    let ask =
        json!({ "customer": c, "ask": "usage", "metric": "projects", "used": 9, "limit": 10 });
    let (status, body) = plan(&app, ask.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["show"], true, "{body}");
    let mut bad = ask;
    bad["customer"]["created_at"] = json!("last tuesday");
    let (status, body) = plan(&app, bad).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "customer.created_at", "{body}");
}

#[tokio::test]
async fn a_usage_plan_below_the_first_threshold_is_a_small_no() {
    let app = spawn_app().await;
    let r = app
        .post(&format!("/v1/apps/{TEST_APP}/prompts/plan"))
        .header("origin", ORIGIN)
        .json(&json!({ "customer": customer("cus_p1"), "ask": "usage", "metric": "projects", "used": 3, "limit": 10, "onUpgrade": {} }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert_eq!(text, r#"{"show":false,"reason":"below_threshold"}"#);
}

#[tokio::test]
async fn a_usage_plan_writes_the_prompt_and_what_the_browser_showed_counts_before_it_arrives() {
    let app = spawn_app().await;
    let ask = json!({ "customer": customer("cus_p2"), "ask": "usage", "metric": "projects", "used": 9, "limit": 10, "period_end": 4_000_000_000_i64 });
    let (status, first) = plan(&app, ask.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["show"], true);
    let p = &first["prompt"];
    assert_eq!(
        (&p["id"], &p["kind"], &p["threshold"], &p["suggested_plan"]),
        (
            &json!("usage_compare"),
            &json!("compare"),
            &json!(90),
            &json!("team")
        )
    );
    assert_eq!(p["trigger"], "usage:projects:90:4000000000");
    assert_eq!(p["lines"][0], "{used} of {limit} projects used.");
    // The browser showed it; the event is still in its outbox.
    let mut pending = ask.clone();
    pending["pending"] = json!([shown(
        &uuid(),
        now(),
        "usage_compare",
        "usage:projects:90:4000000000"
    )]);
    let (_, again) = plan(&app, pending).await;
    assert_eq!(
        again,
        json!({ "show": false, "reason": "already_shown_this_period" })
    );
    // Nothing was recorded by planning: without the pending event it would show again.
    let (_, unrecorded) = plan(&app, ask).await;
    assert_eq!(unrecorded["show"], true, "{unrecorded}");
}

#[tokio::test]
async fn a_gate_plan_is_the_hit_and_offers_the_trial_from_the_third() {
    let app = spawn_app().await;
    let ask = json!({ "customer": customer("cus_p3"), "ask": "gate", "feature": "sso" });
    let mut answers = Vec::new();
    for _ in 0..3 {
        let (status, body) = plan(&app, ask.clone()).await;
        assert_eq!(status, 200, "{body}");
        answers.push(body["show"].as_bool().unwrap_or_default());
    }
    assert_eq!(answers, [false, false, true]);
    assert_eq!(
        state_of(&app, "cus_p3").await["gate_hits"]["sso"],
        3,
        "each plan recorded its hit"
    );
}

#[tokio::test]
async fn a_plan_without_its_metric_or_with_a_negative_number_names_the_field() {
    let app = spawn_app().await;
    let (status, body) = plan(
        &app,
        json!({ "customer": customer("cus_p4"), "ask": "usage", "used": 3 }),
    )
    .await;
    assert_refused(status, &body, refusal(422).field("metric"));
    let (status, body) = plan(
        &app,
        json!({ "customer": customer("cus_p4"), "ask": "usage", "metric": "projects", "used": -1 }),
    )
    .await;
    assert_refused(status, &body, refusal(422).field("used"));
    let (status, body) = plan(
        &app,
        json!({ "customer": customer("cus_p4"), "ask": "gate" }),
    )
    .await;
    assert_refused(status, &body, refusal(422).field("feature"));
}
