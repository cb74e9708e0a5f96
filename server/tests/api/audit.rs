//! The evidence for every cancellation: the audit export (JSON lines and CSV, streamed a page at
//! a time) and the per-profile evidence summary, built by the server from the steps it accepted,
//! replayed through core's flow, and the outcomes it recorded. Runs on SQLite and on the real
//! PostgreSQL of `scripts/test`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    ORIGIN, TEST_APP, TestApp, customer, event, json_of, now, spawn_app, spawn_app_on_postgres,
    uuid,
};

/// A test-mode customer billed in `country`/`region`.
fn placed(id: &str, country: &str, region: Option<&str>) -> Value {
    let mut c = customer(id);
    c["country"] = json!(country);
    c["region"] = json!(region);
    c
}

async fn cancel(app: &TestApp, session: &str, body: Value) {
    let r = app
        .post(&format!("/v1/apps/{TEST_APP}/sessions/{session}/cancel"))
        .header("origin", ORIGIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let r = app.admin(Method::GET, TEST_APP, path).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Three sessions: a standard one declined and cancelled, a standard one saved, and a German
/// one (no survey, no offer, a receipt). Returns their session ids in that order.
async fn three_sessions(app: &TestApp, t0: i64) -> [String; 3] {
    let ny = placed(&format!("cus_ny_{}", uuid()), "US", Some("NY"));
    let declined = uuid();
    let ms = t0 * 1000;
    app.play(TEST_APP, &json!({ "customer": ny, "events": [
        event("flow_started", &declined, ms, json!({ "profile": "standard", "locale": "en" })),
        event("reason_selected", &declined, ms + 4_000, json!({ "reason": "too_expensive" })),
        event("offer_shown", &declined, ms + 4_100, json!({ "offer_id": "discount_25" })),
        event("offer_declined", &declined, ms + 9_000, json!({ "offer_id": "discount_25" })),
        event("cancel_confirmed", &declined, ms + 12_000, json!({ "profile": "standard", "reason": "too_expensive" })),
    ]}))
    .await;
    cancel(app, &declined, json!({ "customer": ny, "reason": "too_expensive", "profile": "standard", "period_end": 1_893_456_000 })).await;

    let saved = uuid();
    let other = placed(&format!("cus_ny2_{}", uuid()), "US", Some("NY"));
    app.play(
        TEST_APP,
        &json!({ "customer": other, "events": [
            event("flow_started", &saved, ms + 1_000, json!({ "profile": "standard" })),
            event("reason_selected", &saved, ms + 3_000, json!({ "reason": "too_expensive" })),
            event("offer_shown", &saved, ms + 3_100, json!({ "offer_id": "discount_25" })),
            event("offer_accepted", &saved, ms + 5_000, json!({ "offer_id": "discount_25" })),
        ]}),
    )
    .await;

    let german = uuid();
    let de = placed(&format!("cus_de_{}", uuid()), "DE", None);
    app.play(TEST_APP, &json!({ "customer": de, "events": [
        event("flow_started", &german, ms + 2_000, json!({ "profile": "germany", "locale": "de" })),
        event("cancel_confirmed", &german, ms + 8_000, json!({ "profile": "germany" })),
    ]}))
    .await;
    cancel(
        app,
        &german,
        json!({ "customer": de, "profile": "germany", "period_end": 1_893_456_000 }),
    )
    .await;
    [declined, saved, german]
}

async fn the_audit_record_shows_each_step_the_profile_and_the_recorded_outcome(app: TestApp) {
    // A moment of its own in the past: the PostgreSQL database outlives one run of the tests.
    let t0 = now() - 3_600 - i64::from(uuid::Uuid::new_v4().as_fields().0 % 10_000_000);
    let [declined, saved, german] = three_sessions(&app, t0).await;
    let range = format!("from={}&to={}", t0 - 10, t0 + 10);

    let (status, body) = get(&app, &format!("/audit?{range}")).await;
    assert_eq!(status, 200, "{body}");
    let records: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = records
        .iter()
        .map(|r| r["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [&declined, &saved, &german], "oldest first");

    let d = &records[0];
    let steps: Vec<(&str, i64, bool)> = d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap(),
                s["at"].as_i64().unwrap(),
                s["cancel_control_visible"].as_bool().unwrap(),
            )
        })
        .collect();
    let ms = t0 * 1000;
    assert_eq!(
        steps,
        [
            ("survey", ms, true),
            ("offer", ms + 4_000, true),
            ("confirm", ms + 9_000, true),
            ("done", ms + 12_000, false),
        ]
    );
    assert_eq!(
        (
            &d["profile"]["applied"],
            &d["profile"]["basis"],
            &d["profile"]["place"],
            &d["profile"]["offer_limit"]
        ),
        (
            &json!("standard"),
            &json!("billing_place"),
            &json!("US-NY"),
            &json!(1)
        )
    );
    assert_eq!(
        d["offers"],
        json!([{ "offer_id": "discount_25", "shown_at": ms + 4_100, "answer": "declined" }])
    );
    assert_eq!(
        (&d["clicks_to_cancel"], &d["seconds_to_cancel"]),
        (&json!(3), &json!(12.0))
    );
    assert_eq!(
        (&d["outcome"], &d["effective_date"]),
        (&json!("cancelled"), &json!("2030-01-01"))
    );
    assert!(
        d["received_at"].as_i64().unwrap() >= now() - 60,
        "received by the server now, not at the client's `at`"
    );
    assert_eq!(
        d["trail"].as_array().unwrap().len(),
        5,
        "every accepted step is in the trail"
    );

    let s = &records[1];
    assert_eq!(
        (&s["outcome"], &s["offers"][0]["answer"]),
        (&json!("saved"), &json!("accepted"))
    );
    assert_eq!(s["accepted_offer"]["id"], json!("discount_25"));
    assert!(s["clicks_to_cancel"].is_null());

    let g = &records[2];
    let steps: Vec<&str> = g["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["confirm", "done"],
        "Germany asks no survey and shows no offer"
    );
    assert_eq!(
        (&g["profile"]["applied"], &g["profile"]["basis"]),
        (&json!("germany"), &json!("billing_place"))
    );
    assert!(
        g["receipt"].is_object(),
        "the receipt Germany requires: {g}"
    );
    assert_eq!(g["clicks_to_cancel"], json!(1));

    // The same records as CSV, with a header line.
    let r = app
        .admin(Method::GET, TEST_APP, &format!("/audit?{range}&format=csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .ends_with(".csv\"")
    );
    let csv = r.text().await.unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3);
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let first: Vec<&str> = rows[0].split(',').collect();
    assert_eq!(first[column("session_id")], declined);
    assert_eq!(first[column("outcome")], "cancelled");
    assert_eq!(
        first[column("cancel_control_visible_before_cancellation")],
        "true"
    );
    assert_eq!(
        first[column("steps")],
        format!(
            "survey@{ms}|offer@{}|confirm@{}|done@{}",
            ms + 4_000,
            ms + 9_000,
            ms + 12_000
        )
    );

    // The evidence summary over the same range.
    let (status, body) = get(&app, &format!("/evidence?{range}")).await;
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    let profiles = report["profiles"].as_array().unwrap();
    let by = |name: &str| {
        profiles
            .iter()
            .find(|p| p["profile"] == name)
            .unwrap()
            .clone()
    };
    let standard = by("standard");
    assert_eq!(
        [
            &standard["sessions"],
            &standard["cancellations"],
            &standard["steps_before_cancel"],
            &standard["cancel_control_visible_share"]
        ],
        [&json!(2), &json!(1), &json!(3), &json!(1.0)]
    );
    assert_eq!(
        [
            &standard["median_clicks_to_cancel"],
            &standard["median_seconds_to_cancel"],
            &standard["offers_per_session"],
            &standard["offer_limit"],
            &standard["sessions_over_limit"]
        ],
        [&json!(3.0), &json!(12.0), &json!(1.0), &json!(1), &json!(0)]
    );
    let germany = by("germany");
    assert_eq!(
        [
            &germany["sessions"],
            &germany["median_clicks_to_cancel"],
            &germany["median_seconds_to_cancel"],
            &germany["offer_limit"]
        ],
        [&json!(1), &json!(1.0), &json!(6.0), &json!(0)]
    );
}

#[tokio::test]
async fn the_audit_record_is_built_from_what_the_server_accepted_and_recorded() {
    the_audit_record_shows_each_step_the_profile_and_the_recorded_outcome(spawn_app().await).await;
}

#[tokio::test]
async fn the_audit_record_is_the_same_on_postgres() {
    let Some(app) = spawn_app_on_postgres().await else {
        eprintln!("HOLDFAST_TEST_POSTGRES_URL unset: the PostgreSQL audit test is skipped here");
        return;
    };
    the_audit_record_shows_each_step_the_profile_and_the_recorded_outcome(app).await;
}

#[tokio::test]
async fn an_export_larger_than_a_page_streams_every_session_once_in_order() {
    let app = spawn_app().await;
    let t0 = now() - 7_200;
    let c = customer("cus_many");
    // 1,234 sessions: more than two pages of the export, several sharing one second.
    for batch in 0..13 {
        let events: Vec<Value> = (0..95)
            .map(|i| {
                let at = (t0 + (batch * 95 + i) / 3) * 1000;
                event(
                    "flow_started",
                    &uuid(),
                    at,
                    json!({ "profile": "standard" }),
                )
            })
            .collect();
        app.play(TEST_APP, &json!({ "customer": c, "events": events }))
            .await;
    }
    let (status, body) = get(&app, &format!("/audit?from={}&to={}", t0, t0 + 3_600)).await;
    assert_eq!(status, 200);
    let keys: Vec<(i64, String)> = body
        .lines()
        .map(|l| {
            let r: Value = serde_json::from_str(l).unwrap();
            (
                r["started_at"].as_i64().unwrap(),
                r["session_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(keys.len(), 13 * 95);
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "ordered by start then id, none repeated"
    );

    // Through the compression layer too: the whole export arrives (it once stopped after the
    // first page, when the layer polled the finished stream again).
    let r = app
        .admin(
            Method::GET,
            TEST_APP,
            &format!("/audit?from={}&to={}&format=csv", t0, t0 + 3_600),
        )
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let compressed = r.bytes().await.expect("the whole body");
    let mut csv = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&compressed[..]), &mut csv)
        .unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + 13 * 95,
        "a header and every session"
    );
}

#[tokio::test]
async fn audit_and_evidence_refuse_a_bad_range_format_key_or_mode() {
    let app = spawn_app().await;
    for path in ["/audit", "/evidence"] {
        let (status, body) = get(&app, &format!("{path}?from=100&to=100")).await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains("\"from\""), "{body}");
        let (status, body) = get(&app, &format!("{path}?mode=live")).await;
        assert_eq!(status, 403, "a test key reads test data only: {body}");
        let r = app
            .client
            .get(format!("{}/v1/admin/apps/{TEST_APP}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    for path in ["/audit", "/evidence", "/stats", "/prompts/stats"] {
        let (status, body) = get(&app, &format!("{path}?to=-9223372036854775808")).await;
        assert_eq!(
            status, 422,
            "an extreme bound is refused, not overflowed: {body}"
        );
        assert!(body.contains("\"to\""), "{body}");
        let (status, body) = get(&app, &format!("{path}?to=0")).await;
        assert_eq!(status, 422, "the default `from` stays in range: {body}");
    }
    let (status, body) = get(&app, "/audit?format=xml").await;
    assert!(matches!(status, 400 | 422), "{status} {body}");
    assert!(body.contains("format"), "names the parameter: {body}");
    let (status, body) = json_of(
        app.admin(Method::GET, TEST_APP, "/audit?to=abc")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}
