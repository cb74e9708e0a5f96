//! Probes, metrics, the OpenAPI document and rate limits.

use holdfast_server::storage::Scope;
use holdfast_server::{RateLimit, Settings};

use crate::helpers::{TEST_APP, assert_refused, json_of, refusal, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_and_readiness_probes_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").send().await.unwrap().status(), 200);
    assert_eq!(app.get("/readyz").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn metrics_are_served_in_the_prometheus_format() {
    let app = spawn_app().await;
    app.get(&format!("/v1/apps/{TEST_APP}/config"))
        .send()
        .await
        .unwrap();
    let text = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("holdfast_http_requests_total{method=\"GET\",route=\"/v1/apps/{app_id}/config\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("# TYPE holdfast_events_accepted_total counter"));
}

#[tokio::test]
async fn the_openapi_document_lists_every_api_path() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app
        .get("/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    insta::assert_json_snapshot!(paths);
    // Every public body's customer is a token or (test mode) an object.
    for body in [
        "EventBatch",
        "PlanRequest",
        "AcceptOffer",
        "StateRequest",
        "CancelBody",
    ] {
        let mut customer = &doc["components"]["schemas"][body]["properties"]["customer"];
        if let Some(name) = customer["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            customer = &doc["components"]["schemas"][name];
        }
        let kinds: Vec<&str> = customer["oneOf"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}.customer is oneOf: {customer}"))
            .iter()
            .filter_map(|k| k["type"].as_str())
            .collect();
        assert_eq!(kinds, ["string", "object"], "{body}");
    }
    // A prompt plan's body is tagged by `ask`: each call's own fields are required (so a body
    // generated from the document is one the server takes), the customer in every variant.
    let plan = &doc["components"]["schemas"]["PromptPlanRequest"]["anyOf"];
    let variants: Vec<(&str, Vec<&str>)> = plan
        .as_array()
        .unwrap_or_else(|| panic!("PromptPlanRequest is anyOf: {plan}"))
        .iter()
        .map(|v| {
            (
                v["properties"]["ask"]["enum"][0]
                    .as_str()
                    .unwrap_or_default(),
                v["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        variants,
        [
            ("usage", vec!["customer", "ask", "metric", "used"]),
            ("usage", vec!["customer", "ask", "metric"]),
            ("gate", vec!["customer", "ask", "feature"]),
        ]
    );
    assert_eq!(plan[1]["properties"]["metric"]["enum"][0], "seats");
}

#[tokio::test]
async fn a_client_over_its_rate_limit_gets_a_429() {
    let app = spawn_app_with(Settings {
        rate_limit: RateLimit {
            per_second: 0.001,
            burst: 3.0,
        },
        ..Settings::default()
    })
    .await;
    let path = format!("/v1/apps/{TEST_APP}/config");
    for _ in 0..3 {
        assert_eq!(app.get(&path).send().await.unwrap().status(), 200);
    }
    let (status, body) = json_of(app.get(&path).send().await.unwrap()).await;
    assert_refused(status, &body, refusal(429).code("rate_limited"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_rate_limit() {
    let limited = |trusted_proxies| Settings {
        rate_limit: RateLimit {
            per_second: 0.001,
            burst: 2.0,
        },
        trusted_proxies,
        ..Settings::default()
    };
    let path = format!("/v1/apps/{TEST_APP}/config");
    let from = |app: &crate::helpers::TestApp, header: &str| {
        app.get(&path).header("x-forwarded-for", header).send()
    };
    // The test client connects from 127.0.0.1, here a trusted proxy.
    let app = spawn_app_with(limited(vec!["127.0.0.1".parse().unwrap()])).await;
    for _ in 0..2 {
        assert_eq!(from(&app, "203.0.113.7").await.unwrap().status(), 200);
    }
    assert_eq!(from(&app, "203.0.113.7").await.unwrap().status(), 429);
    // Another client behind the same proxy, and the client's own (forgeable) entries to the left
    // of the one the proxy appended are not what counts.
    assert_eq!(from(&app, "198.51.100.1").await.unwrap().status(), 200);
    assert_eq!(
        from(&app, "203.0.113.7, 198.51.100.2")
            .await
            .unwrap()
            .status(),
        200,
        "the proxy's entry (the last) names the client"
    );

    // Without trusted proxies the header is ignored: everyone from this address shares a bucket.
    let app = spawn_app_with(limited(Vec::new())).await;
    assert_eq!(from(&app, "203.0.113.7").await.unwrap().status(), 200);
    assert_eq!(from(&app, "198.51.100.1").await.unwrap().status(), 200);
    assert_eq!(from(&app, "192.0.2.9").await.unwrap().status(), 429);
}

#[tokio::test]
async fn the_demo_app_gets_a_history_worth_looking_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let storage = holdfast_server::Storage::open(&url).await.unwrap();
    let printed = holdfast_server::demo::ensure_demo_app(
        &storage,
        Some("sk_demo"),
        vec!["http://127.0.0.1:1".into()],
    )
    .await
    .unwrap();
    assert!(printed.is_none(), "a chosen demo secret is not printed");
    let now = holdfast_server::clock::now();
    let seeded = holdfast_server::demo::seed_history(&storage, now)
        .await
        .unwrap();
    assert_eq!(seeded, holdfast_server::demo::DEMO_SESSIONS);
    assert_eq!(
        holdfast_server::demo::seed_history(&storage, now)
            .await
            .unwrap(),
        0,
        "seeded once"
    );
    let app = storage
        .app(holdfast_server::DEMO_APP_ID)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(app.settings.origins, ["http://127.0.0.1:1"]);
    let keys = storage
        .admin_keys(holdfast_server::DEMO_APP_ID)
        .await
        .unwrap();
    assert!(
        keys.iter()
            .all(|k| k.mode == holdfast_server::keys::Mode::Test
                && k.hash == holdfast_server::keys::hash_admin_key("sk_demo")),
        "the demo's admin key is the chosen value, in test mode, stored hashed: {keys:?}"
    );
    let range = holdfast_server::storage::StatsRange {
        live: false,
        from: now - 200 * 86_400,
        to: now + 1,
        now,
    };
    let stats = storage
        .stats(holdfast_server::DEMO_APP_ID, &range)
        .await
        .unwrap();
    let rate = stats.totals.saves as f64 / stats.totals.sessions as f64;
    assert!(
        (0.15..0.40).contains(&rate),
        "a realistic save rate, got {rate}"
    );
    assert!(
        stats.durability.iter().all(|d| d.measured > 0),
        "durability has data at every horizon"
    );
    // Every seeded session has an audit trail whose replay agrees with the session's outcome.
    let page = storage
        .audit_page(
            Scope::new(holdfast_server::DEMO_APP_ID, false),
            (range.from, range.to),
            None,
            100,
        )
        .await
        .unwrap();
    assert_eq!(page.len(), 100);
    let records: Vec<_> = page
        .into_iter()
        .map(|r| holdfast_server::audit::record(r, 1))
        .collect();
    assert!(
        records.iter().all(|r| r.steps.len() >= 2
            && r.steps[0].step == "survey"
            && ["saved", "cancelled", "abandoned"].contains(&r.outcome.as_str())),
        "{records:#?}"
    );
    let cancelled = records.iter().filter(|r| r.outcome == "cancelled").count() as u64;
    let mut summary = holdfast_server::audit::EvidenceSummary::default();
    records.iter().for_each(|r| summary.add(r));
    let standard = summary.finish().remove(0);
    assert_eq!(
        (
            standard.cancellations,
            standard.cancel_control_visible_share
        ),
        (cancelled, Some(1.0))
    );

    // The sessions log has words to read: every `other` answer comes with some (its box is the
    // answer), a share of the other answers too.
    let filter = holdfast_server::storage::session_log::SessionFilter {
        live: false,
        from: range.from,
        to: range.to,
        ..Default::default()
    };
    let log = storage
        .session_log_page(
            holdfast_server::DEMO_APP_ID,
            &filter,
            None,
            holdfast_server::demo::DEMO_SESSIONS as i64,
        )
        .await
        .unwrap();
    assert_eq!(log.len(), holdfast_server::demo::DEMO_SESSIONS);
    let (other, rest): (Vec<_>, Vec<_>) = log
        .iter()
        .partition(|s| s.reason.as_deref() == Some("other"));
    assert!(
        !other.is_empty() && other.iter().all(|s| s.free_text.is_some()),
        "every `other` answer has words"
    );
    let worded = rest.iter().filter(|s| s.free_text.is_some()).count() as f64;
    assert!(
        (0.15..0.35).contains(&(worded / rest.len() as f64)),
        "a share of the optional boxes are filled: {worded} of {}",
        rest.len()
    );

    // The demo's experiment has results on first start: every arm has customers, 30% off saved
    // more than 20%, and the holdout (no offer) saved nobody.
    let key = holdfast_server::demo::DEMO_EXPERIMENT;
    let config = holdfast_server::demo::demo_config();
    assert!(config.validate().is_ok(), "{:?}", config.validate());
    let experiment = config.experiments.iter().find(|x| x.key == key).unwrap();
    let facts = storage
        .experiment_facts(
            Scope::new(holdfast_server::DEMO_APP_ID, false),
            key,
            holdfast_server::storage::experiments::FactsNeeded::ALL,
        )
        .await
        .unwrap();
    let report = holdfast_server::experiments::report(
        experiment,
        holdfast_server::experiments::ReportMetric::SaveRate,
        &facts,
        now,
    );
    let rate = |i: usize| report.variants[i].rate.unwrap();
    assert!(
        report.variants.iter().all(|v| v.result.units > 50),
        "{report:#?}"
    );
    assert!(rate(1) > rate(0) && rate(2) == 0.0, "{report:#?}");
    assert!(!report.srm_warning, "{report:#?}");
    let retained = holdfast_server::experiments::report(
        experiment,
        holdfast_server::experiments::ReportMetric::Retained30d,
        &facts,
        now,
    );
    assert!(retained.variants[0].result.units > 0, "{retained:#?}");
    println!(
        "demo experiment: {} ({})",
        serde_json::to_string(&report.verdict).unwrap(),
        report.verdict_reason
    );
}

#[tokio::test]
async fn the_demo_signs_test_mode_tokens_for_its_page_and_no_other_server_does() {
    let customer = crate::helpers::customer("cus_demo");
    let demo = spawn_app_with(Settings {
        demo: true,
        webhooks: holdfast_server::webhooks::WebhookSettings {
            allow_private: true,
            poll: std::time::Duration::from_millis(50),
            ..Default::default()
        },
        ..Settings::default()
    })
    .await;
    holdfast_server::demo::ensure_demo_app(
        &demo.storage,
        Some("sk_demo"),
        vec![crate::helpers::ORIGIN.into()],
    )
    .await
    .unwrap();
    let r = demo
        .post("/demo/token")
        .json(&serde_json::json!({ "customer": customer }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let token: serde_json::Value = r.json().await.unwrap();
    let plan = demo
        .post("/v1/apps/app_demo/cancel-plan")
        .header("origin", crate::helpers::ORIGIN)
        .json(&serde_json::json!({ "customer": token["token"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(plan.status(), 200, "the demo's token verifies");
    // Its webhooks arrive in the demo's own inbox, verified.
    holdfast_server::routes::demo::ensure_inbox(&demo.storage, &demo.url)
        .await
        .unwrap();
    // The demo runs its experiment on this reason: this customer is in its control arm, whose
    // offer is `switch_discount`.
    let accept = serde_json::json!({ "customer": token["token"], "session_id": crate::helpers::uuid(),
        "event_id": crate::helpers::uuid(), "reason": "too_expensive", "offer_id": "switch_discount" });
    let r = demo
        .post("/v1/apps/app_demo/offers/accept")
        .json(&accept)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let page = demo
            .get("/demo/webhooks")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if page.contains("offer.accepted") {
            assert!(
                page.contains("signature verified") && !page.contains("NOT verified"),
                "{page}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{page}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let other = spawn_app().await;
    let r = other
        .post("/demo/token")
        .json(&serde_json::json!({ "customer": customer }))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200, "only a demo server signs tokens");
}

#[tokio::test]
async fn an_unknown_api_path_is_a_404_and_a_wrong_method_a_405_with_allow() {
    let app = spawn_app().await;
    let r = app
        .admin(reqwest::Method::GET, TEST_APP, "/anything")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &serde_json::json!("no_such_route"))
    );
    let r = app
        .admin(reqwest::Method::DELETE, TEST_APP, "/stats")
        .send()
        .await
        .unwrap();
    let allow = r
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (status, body) = json_of(r).await;
    assert_refused(status, &body, refusal(405).code("method_not_allowed"));
    assert!(allow.contains("GET"), "Allow: {allow:?}");
    let r = app.get("/v1/nothing/here").send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_backlog_never_hangs_a_read_plans_still_answer_reports_and_ingest_say_retry_later() {
    let app = crate::helpers::spawn_app_stalled(Settings {
        max_backlog_rows: 3,
        ..Settings::default()
    })
    .await;
    let batch = |i: i64| {
        let s = crate::helpers::uuid();
        serde_json::json!({ "customer": crate::helpers::customer("cus_1"), "events": [
            crate::helpers::event("flow_started", &s, crate::helpers::now() * 1000 - i, serde_json::json!({}))
        ]})
    };
    for i in 0..4 {
        assert_eq!(app.post_events(TEST_APP, &batch(i)).await.status(), 200);
    }
    // The plan answers from what is folded, within the widget's budget.
    let started = std::time::Instant::now();
    let plan = app
        .post(&format!("/v1/apps/{TEST_APP}/cancel-plan"))
        .header("origin", crate::helpers::ORIGIN)
        .json(&serde_json::json!({ "customer": crate::helpers::customer("cus_1") }))
        .send()
        .await
        .unwrap();
    assert_eq!(plan.status(), 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    // Exact reports and further ingest say when to come back, rather than hang or fail.
    let r = app
        .admin(reqwest::Method::GET, TEST_APP, "/stats")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = app.post_events(TEST_APP, &batch(9)).await;
    assert_eq!(
        r.status(),
        503,
        "past the backlog bound the outbox keeps the batch"
    );
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_slow_header_client_is_cut_off_and_connections_are_capped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(Settings {
        header_read_timeout: std::time::Duration::from_millis(300),
        max_connections: 1,
        ..Settings::default()
    })
    .await;
    let addr = app.url.trim_start_matches("http://").to_string();
    // Half a request's headers, then nothing: the server closes the connection.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // While it holds the only connection slot, nobody else gets in.
    let blocked = app
        .client
        .get(format!("{}/healthz", app.url))
        .timeout(std::time::Duration::from_millis(150))
        .send()
        .await;
    assert!(blocked.is_err(), "the cap holds the second connection back");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        slow.read_to_end(&mut rest),
    )
    .await;
    assert!(closed.is_ok(), "the slow client was cut off");
    let r = app.get("/healthz").send().await.unwrap();
    assert_eq!(r.status(), 200, "its slot is free again");
}

#[tokio::test]
async fn assets_go_out_precompressed_and_api_answers_compressed() {
    let app = spawn_app().await;
    let dist = app.dist();
    std::fs::write(dist.join("holdfast.js"), "plain loader").unwrap();
    std::fs::write(dist.join("holdfast.js.br"), "brotli bytes").unwrap();
    std::fs::write(dist.join("holdfast.js.gz"), "gzip bytes").unwrap();
    let fetch = |encoding: &'static str| {
        app.get("/holdfast.js")
            .header("accept-encoding", encoding)
            .send()
    };
    let br = fetch("gzip, deflate, br").await.unwrap();
    assert_eq!(br.headers()["content-encoding"], "br");
    assert!(
        br.headers()["vary"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding"),
        "caches keep the encodings apart"
    );
    assert_eq!(br.text().await.unwrap(), "brotli bytes");
    let gz = fetch("gzip").await.unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_eq!(gz.text().await.unwrap(), "gzip bytes");
    let plain = fetch("identity").await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.text().await.unwrap(), "plain loader");
    let doc = app
        .get("/openapi.json")
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(doc.headers()["content-encoding"], "gzip");
}
