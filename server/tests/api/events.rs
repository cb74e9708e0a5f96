//! `POST /v1/apps/{app_id}/events`: validated, bounded, idempotent, signed in live mode, durable
//! before the 200 and visible to the next read.

use serde_json::{Value, json};

use crate::helpers::{
    LIVE_APP, LIVE_APP_TEST_KEY, ORIGIN, TEST_APP, assert_refused, customer, event, json_of, now,
    refusal, session, signed, spawn_app, token_with, uuid,
};

fn batch(events: Vec<Value>) -> Value {
    json!({ "customer": customer("cus_1"), "events": events })
}

fn started(i: i64) -> Value {
    event("flow_started", &uuid(), now() * 1000 - i, json!({}))
}

#[tokio::test]
async fn a_batch_of_events_is_accepted() {
    let app = spawn_app().await;
    let body = session(
        "cus_1",
        "too_expensive",
        "discount_25",
        "cancel_confirmed",
        now() - 60,
    );
    let (status, body) = json_of(app.post_events(TEST_APP, &body).await).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "accepted": 4 }));
}

#[tokio::test]
async fn a_retried_event_batch_changes_nothing() {
    let app = spawn_app().await;
    let body = session(
        "cus_1",
        "too_expensive",
        "discount_25",
        "cancel_confirmed",
        now() - 60,
    );
    assert_eq!(app.post_events(TEST_APP, &body).await.status(), 200);
    let before = app.stats(TEST_APP, "").await;
    let (status, retry) = json_of(app.post_events(TEST_APP, &body).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        retry,
        json!({ "accepted": 4 }),
        "received, dropped when folded"
    );
    // The default range follows the clock: compare what was counted, not the range's ends.
    let after = app.stats(TEST_APP, "").await;
    assert_eq!(
        (&after["totals"], &after["breakdowns"], &after["durability"]),
        (
            &before["totals"],
            &before["breakdowns"],
            &before["durability"]
        ),
        "stats are unchanged by a retry"
    );
    let totals = &before["totals"];
    assert_eq!(
        (&totals["sessions"], &totals["cancels"]),
        (&json!(1), &json!(1))
    );
    let metrics = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("holdfast_events_accepted_total 4\n")
            && metrics.contains("holdfast_events_duplicate_total 4\n"),
        "the aggregator counts stored and duplicate events: {metrics}"
    );
}

#[tokio::test]
async fn stats_read_right_after_a_batch_include_it() {
    let app = spawn_app().await;
    for i in 0..20 {
        let body = session(
            &format!("cus_{i}"),
            "too_expensive",
            "discount_25",
            "cancel_confirmed",
            now() - 60,
        );
        assert_eq!(app.post_events(TEST_APP, &body).await.status(), 200);
        let totals = &app.stats(TEST_APP, "").await["totals"];
        assert_eq!(totals["sessions"], i + 1, "read-your-writes, no sleep");
    }
}

#[tokio::test]
async fn a_batch_of_more_than_100_events_is_refused() {
    let app = spawn_app().await;
    let events = (0..101).map(started).collect();
    let (status, body) = json_of(app.post_events(TEST_APP, &batch(events)).await).await;
    assert_refused(status, &body, refusal(422).field("events"));
}

#[tokio::test]
async fn an_empty_batch_is_refused() {
    let app = spawn_app().await;
    let (status, body) = json_of(app.post_events(TEST_APP, &batch(vec![])).await).await;
    assert_refused(status, &body, refusal(422).field("events"));
}

#[tokio::test]
async fn an_event_with_a_bad_uuid_is_refused_naming_its_index() {
    let app = spawn_app().await;
    let mut events: Vec<Value> = (0..4).map(started).collect();
    events[3]["id"] = json!("not-a-uuid");
    let (status, body) = json_of(app.post_events(TEST_APP, &batch(events)).await).await;
    assert_eq!(status, 422);
    insta::assert_json_snapshot!(body);
}

#[tokio::test]
async fn an_event_with_a_bad_session_id_is_refused_naming_it() {
    let app = spawn_app().await;
    let mut events: Vec<Value> = (0..2).map(started).collect();
    events[1]["session_id"] = json!("42");
    let (status, body) = json_of(app.post_events(TEST_APP, &batch(events)).await).await;
    assert_refused(status, &body, refusal(422).field("events[1].session_id"));
}

#[tokio::test]
async fn an_event_from_the_far_future_is_refused() {
    let app = spawn_app().await;
    let mut events = vec![started(0)];
    events[0]["at"] = json!((now() + 2 * 86_400) * 1000);
    let (status, body) = json_of(app.post_events(TEST_APP, &batch(events)).await).await;
    assert_refused(status, &body, refusal(422).field("events[0].at"));
}

#[tokio::test]
async fn free_text_longer_than_2000_characters_is_refused() {
    let app = spawn_app().await;
    let s = uuid();
    let long = "é".repeat(2001);
    let events = vec![event(
        "reason_selected",
        &s,
        now() * 1000,
        json!({ "reason": "other", "free_text": long }),
    )];
    let (status, body) = json_of(app.post_events(TEST_APP, &batch(events)).await).await;
    assert_refused(status, &body, refusal(422).field("events[0].free_text"));
}

#[tokio::test]
async fn a_nul_in_a_reason_is_refused_naming_the_field_and_nothing_else_is_lost() {
    let app = spawn_app().await;
    let s = uuid();
    let good = batch(vec![event("flow_started", &s, now() * 1000, json!({}))]);
    assert_eq!(app.post_events(TEST_APP, &good).await.status(), 200);
    let events = vec![event(
        "reason_selected",
        &s,
        now() * 1000,
        json!({ "reason": "x\u{0}y" }),
    )];
    let (status, body) = json_of(app.post_events(TEST_APP, &batch(events)).await).await;
    assert_refused(status, &body, refusal(422).field("events[0].reason"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("U+0000"),
        "{body}"
    );
    let stats = app.stats(TEST_APP, "").await;
    assert_eq!(
        stats["totals"]["sessions"],
        json!(1),
        "the batch accepted before still counts"
    );
}

#[tokio::test]
async fn control_characters_in_customer_keys_are_refused_naming_the_field() {
    let app = spawn_app().await;
    for (field, value) in [("plan", "pro\u{1b}"), ("segment", "a\nb"), ("id", "c\u{0}")] {
        let mut customer = customer("cus_1");
        customer[field] = json!(value);
        let body = json!({ "customer": customer, "events": [started(0)] });
        let (status, body) = json_of(app.post_events(TEST_APP, &body).await).await;
        assert_eq!(status, 422, "{field}");
        assert_eq!(body["error"]["field"], format!("customer.{field}"));
    }
}

#[tokio::test]
async fn free_text_keeps_line_breaks_and_tabs_but_not_other_control_characters() {
    let app = spawn_app().await;
    let s = uuid();
    let with = |text: &str| {
        batch(vec![event(
            "reason_selected",
            &s,
            now() * 1000,
            json!({ "reason": "other", "free_text": text }),
        )])
    };
    let ok = app
        .post_events(TEST_APP, &with("first line\r\n\tsecond"))
        .await;
    assert_eq!(ok.status(), 200);
    let (status, body) = json_of(app.post_events(TEST_APP, &with("bell\u{7}")).await).await;
    assert_refused(status, &body, refusal(422).field("events[0].free_text"));
}

#[tokio::test]
async fn a_key_longer_than_128_characters_is_refused() {
    let app = spawn_app().await;
    let events = vec![event(
        "reason_selected",
        &uuid(),
        now() * 1000,
        json!({ "reason": "r".repeat(5000) }),
    )];
    let (status, body) = json_of(app.post_events(TEST_APP, &batch(events)).await).await;
    assert_refused(status, &body, refusal(422).field("events[0].reason"));
}

#[tokio::test]
async fn an_unknown_event_field_is_refused_naming_it() {
    let app = spawn_app().await;
    let mut events = vec![started(0), started(1)];
    events[1]["colour"] = json!("red");
    let (status, body) = json_of(app.post_events(TEST_APP, &batch(events)).await).await;
    assert_eq!(status, 422);
    insta::assert_json_snapshot!(body);
}

#[tokio::test]
async fn an_unknown_event_type_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let mut events = vec![started(0)];
    events[0]["type"] = json!("flow_exploded");
    let (status, body) = json_of(app.post_events(TEST_APP, &batch(events)).await).await;
    assert_refused(status, &body, refusal(422).field("events[0].type"));
}

#[tokio::test]
async fn a_wrong_type_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let mut body = batch(vec![started(0)]);
    body["customer"]["mrr_cents"] = json!("lots");
    let (status, body) = json_of(app.post_events(TEST_APP, &body).await).await;
    assert_refused(status, &body, refusal(422).field("customer.mrr_cents"));
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;
    let r = app
        .post(&format!("/v1/apps/{TEST_APP}/events"))
        .header("origin", ORIGIN)
        .body("{\"customer\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_refused(status, &body, refusal(400).code("invalid_json"));
}

#[tokio::test]
async fn an_oversized_body_is_a_413() {
    let app = spawn_app().await;
    let r = app
        .post(&format!("/v1/apps/{TEST_APP}/events"))
        .header("origin", ORIGIN)
        .header("content-type", "application/json")
        .body(format!("{{\"pad\": \"{}\"}}", "x".repeat(300 * 1024)))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_refused(status, &body, refusal(413).code("payload_too_large"));
}

#[tokio::test]
async fn events_for_an_unknown_app_are_a_404() {
    let app = spawn_app().await;
    let (status, body) = json_of(
        app.post_events("app_missing", &batch(vec![started(0)]))
            .await,
    )
    .await;
    assert_refused(status, &body, refusal(404).code("app_not_found"));
}

#[tokio::test]
async fn events_from_a_foreign_origin_are_a_403() {
    let app = spawn_app().await;
    let r = app
        .post(&format!("/v1/apps/{TEST_APP}/events"))
        .header("origin", "https://evil.example")
        .json(&batch(vec![started(0)]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn a_plain_customer_object_is_test_mode_even_on_an_app_in_production() {
    let app = spawn_app().await;
    let body = session(
        "cus_1",
        "not_using",
        "pause_2",
        "cancel_confirmed",
        now() - 60,
    );
    assert_eq!(app.post_events(LIVE_APP, &body).await.status(), 200);
    let live = app.stats(LIVE_APP, "").await;
    assert_eq!(live["mode"], "live", "a live admin key reads live data");
    assert_eq!(
        live["totals"]["sessions"], 0,
        "unsigned data never counts as live"
    );
    let test = app
        .admin_with(reqwest::Method::GET, LIVE_APP, LIVE_APP_TEST_KEY, "/stats")
        .send()
        .await
        .unwrap();
    let (_, test) = json_of(test).await;
    assert_eq!(
        (&test["mode"], &test["totals"]["sessions"]),
        (&json!("test"), &json!(1))
    );
}

#[tokio::test]
async fn a_customer_token_signed_with_another_key_is_refused() {
    let app = spawn_app().await;
    let mut body = batch(vec![started(0)]);
    body["customer"] = json!(token_with(LIVE_APP, "sk_other", None, "cus_1", json!({})));
    let (status, body) = json_of(app.post_events(LIVE_APP, &body).await).await;
    assert_refused(
        status,
        &body,
        refusal(401).code("bad_signature").field("customer"),
    );
}

#[tokio::test]
async fn a_signed_customer_counts_in_live_mode() {
    let app = spawn_app().await;
    let mut body = session(
        "cus_1",
        "not_using",
        "pause_2",
        "cancel_confirmed",
        now() - 60,
    );
    body["customer"] = signed("cus_1");
    let (status, answer) = json_of(app.post_events(LIVE_APP, &body).await).await;
    assert_eq!((status, &answer["accepted"]), (200, &json!(4)));
    let live = app.stats(LIVE_APP, "").await;
    assert_eq!(live["totals"]["sessions"], 1);
}

#[tokio::test]
async fn test_mode_data_is_out_of_reach_of_another_modes_key() {
    let app = spawn_app().await;
    let body = session(
        "cus_1",
        "not_using",
        "pause_2",
        "cancel_confirmed",
        now() - 60,
    );
    assert_eq!(app.post_events(TEST_APP, &body).await.status(), 200);
    let test = app.stats(TEST_APP, "").await;
    assert_eq!(test["mode"], "test", "stats are the admin key's mode");
    assert_eq!(test["totals"]["sessions"], 1);
    let r = app
        .admin(reqwest::Method::GET, TEST_APP, "/stats?mode=live")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(status, 403, "a test key never reads live data");
    assert_eq!(body["error"]["code"], "wrong_mode");
}

#[tokio::test]
async fn concurrent_retries_of_a_batch_store_each_event_once() {
    let app = spawn_app().await;
    let body = session(
        "cus_1",
        "too_expensive",
        "discount_25",
        "cancel_confirmed",
        now() - 60,
    );
    let url = format!("{}/v1/apps/{TEST_APP}/events", app.url);
    let sends: Vec<_> = (0..8)
        .map(|_| {
            let request = app.client.post(&url).header("origin", ORIGIN).json(&body);
            tokio::spawn(async move { request.send().await })
        })
        .collect();
    for send in sends {
        let (status, body) = json_of(send.await.unwrap().unwrap()).await;
        assert_eq!((status, body), (200, json!({ "accepted": 4 })));
    }
    let totals = &app.stats(TEST_APP, "").await["totals"];
    assert_eq!(
        (totals["sessions"].as_i64(), totals["cancels"].as_i64()),
        (Some(1), Some(1)),
        "each event is counted once across all retries"
    );
}

#[tokio::test]
async fn revenue_near_the_integer_limit_is_refused_and_stats_keep_answering() {
    let app = spawn_app().await;
    let mut c = customer("cus_big");
    c["mrr_cents"] = json!(i64::MAX - 1);
    let body = json!({ "customer": c, "events": [started(0)] });
    let (status, body) = json_of(app.post_events(TEST_APP, &body).await).await;
    assert_refused(status, &body, refusal(422).field("customer.mrr_cents"));
    let mut c = customer("cus_future");
    c["created_at"] = json!(now() + 10 * 86_400);
    let body = json!({ "customer": c, "events": [started(0)] });
    let (status, body) = json_of(app.post_events(TEST_APP, &body).await).await;
    assert_refused(status, &body, refusal(422).field("customer.created_at"));
    // The largest accepted revenue, many times over, still sums.
    for i in 0..3 {
        let mut c = customer(&format!("cus_{i}"));
        c["mrr_cents"] = json!(100_000_000_000_i64);
        let mut s = session(
            &format!("cus_{i}"),
            "too_expensive",
            "discount_25",
            "cancel_confirmed",
            now() - 60,
        );
        s["customer"] = c;
        assert_eq!(app.post_events(TEST_APP, &s).await.status(), 200);
    }
    assert_eq!(app.stats(TEST_APP, "").await["totals"]["cancels"], 3);
}

#[tokio::test]
async fn a_reason_or_offer_no_config_version_has_is_refused_and_an_earlier_ones_accepted() {
    let app = spawn_app().await;
    let with = |fields: Value| {
        batch(vec![event(
            "reason_selected",
            &uuid(),
            now() * 1000,
            fields,
        )])
    };
    let (status, body) = json_of(
        app.post_events(TEST_APP, &with(json!({ "reason": "made_up" })))
            .await,
    )
    .await;
    assert_refused(status, &body, refusal(422).field("events[0].reason"));
    let (status, body) = json_of(
        app.post_events(
            TEST_APP,
            &with(json!({ "reason": "other", "offer_id": "free_money" })),
        )
        .await,
    )
    .await;
    assert_refused(status, &body, refusal(422).field("events[0].offer_id"));
    // A config edit adds a reason, then a later one removes it: events queued in between still
    // name it, and are accepted.
    let mut config: Value =
        serde_json::to_value(holdfast_core::config::AppConfig::default()).unwrap();
    config["reasons"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "id": "seasonal", "free_text": false }));
    assert_eq!(app.put_config(TEST_APP, &config).await.status(), 200);
    config["reasons"].as_array_mut().unwrap().pop();
    assert_eq!(app.put_config(TEST_APP, &config).await.status(), 200);
    let r = app
        .post_events(TEST_APP, &with(json!({ "reason": "seasonal" })))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn made_up_http_methods_share_one_metrics_label() {
    let app = spawn_app().await;
    for m in ["FLOOD1", "FLOOD2", "FLOOD3"] {
        let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
        app.client
            .request(method, format!("{}/healthz", app.url))
            .send()
            .await
            .unwrap();
    }
    let metrics = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains("FLOOD"), "{metrics}");
    assert!(metrics.contains("method=\"OTHER\""), "{metrics}");
}

#[tokio::test]
async fn an_integer_written_with_a_zero_fraction_is_an_integer() {
    // JSON has one number type: `1796140800000.0` is an integer to JSON Schema and to clients
    // that serialize every number as a float.
    let app = spawn_app().await;
    let mut e = started(0);
    e["at"] = json!((now() * 1000) as f64);
    let mut c = customer("cus_float");
    c["mrr_cents"] = json!(4900.0);
    let body = json!({ "customer": c, "events": [e] });
    let (status, body) = json_of(app.post_events(TEST_APP, &body).await).await;
    assert_eq!((status, body), (200, json!({ "accepted": 1 })));
    let mut e = started(0);
    e["at"] = json!(1.5);
    let (status, body) = json_of(app.post_events(TEST_APP, &batch(vec![e])).await).await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("events[0].at")),
        "a fraction is still refused: {body}"
    );
}
