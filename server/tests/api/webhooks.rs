//! Webhooks: endpoints through the admin API, deliveries to a real HTTP receiver that verifies
//! every signature with the Standard Webhooks library, retries with the same `webhook-id`,
//! rotation with two signatures, and `410 Gone` disabling the endpoint.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    TEST_APP, TestApp, assert_refused, customer, json_of, refusal, spawn_app_with, uuid,
};

/// What the receiver got: headers and body of each request.
type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A real HTTP receiver on 127.0.0.1:0 answering `statuses` in turn (then 200).
async fn receiver(statuses: Vec<u16>) -> (String, Received) {
    let received: Received = Arc::default();
    let answers = Arc::new(Mutex::new(statuses));
    let log = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (log, answers) = (log.clone(), answers.clone());
            async move {
                log.lock().unwrap().push((headers, body));
                let mut a = answers.lock().unwrap();
                let status = if a.is_empty() { 200 } else { a.remove(0) };
                (StatusCode::from_u16(status).unwrap(), "ok")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

fn fast_webhooks() -> holdfast_server::Settings {
    holdfast_server::Settings {
        rate_limit: holdfast_server::RateLimit {
            per_second: 10_000.0,
            burst: 10_000.0,
        },
        webhooks: holdfast_server::webhooks::WebhookSettings {
            allow_private: true,
            retry_schedule: vec![1, 1, 1],
            poll: Duration::from_millis(50),
            ..holdfast_server::webhooks::WebhookSettings::default()
        },
        ..holdfast_server::Settings::default()
    }
}

async fn server() -> TestApp {
    spawn_app_with(fast_webhooks()).await
}

async fn create(app: &TestApp, body: Value) -> (u16, Value) {
    let r = app
        .admin(Method::POST, TEST_APP, "/webhooks/endpoints")
        .json(&body)
        .send()
        .await
        .unwrap();
    json_of(r).await
}

/// Waits, by watching, until the receiver has `n` requests.
async fn until_received(received: &Received, n: usize) -> Vec<(HeaderMap, String)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let got = received.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "received {} of {n}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn verify(secret: &str, (headers, body): &(HeaderMap, String)) -> Value {
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(body.as_bytes(), headers)
        .unwrap_or_else(|e| panic!("the signature verifies with the official library: {e:?}"));
    serde_json::from_str(body).unwrap()
}

async fn accept(app: &TestApp, id: &str) -> String {
    let session = uuid();
    let body = json!({ "customer": customer(id), "session_id": session, "event_id": uuid(),
                       "reason": "too_expensive", "offer_id": "discount_25" });
    assert_eq!(app.accept(TEST_APP, &body).await.status(), 200);
    session
}

#[tokio::test]
async fn outcomes_reach_the_endpoint_signed_and_complete() {
    let app = server().await;
    let (url, received) = receiver(vec![]).await;
    let (status, endpoint) = create(&app, json!({ "url": url, "description": "billing" })).await;
    assert_eq!(status, 201, "{endpoint}");
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));

    let saved = accept(&app, "cus_1").await;
    let cancelled = uuid();
    let r = app
        .post(&format!("/v1/apps/{TEST_APP}/sessions/{cancelled}/cancel"))
        .header("origin", crate::helpers::ORIGIN)
        .json(&json!({ "customer": customer("cus_2"), "profile": "germany", "period_end": 1_893_456_000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = until_received(&received, 2).await;
    let bodies: Vec<Value> = got.iter().map(|r| verify(&secret, r)).collect();
    let offer = bodies
        .iter()
        .find(|b| b["type"] == "offer.accepted")
        .unwrap();
    assert_eq!(
        (
            &offer["data"]["session_id"],
            &offer["data"]["customer_id"],
            &offer["data"]["mode"]
        ),
        (&json!(saved), &json!("cus_1"), &json!("test"))
    );
    assert_eq!(
        offer["data"]["offer"]["terms"],
        json!({ "type": "discount", "percent": 25, "months": 3 })
    );
    assert!(
        offer["data"]["offer"]["last_discounted_invoice"].is_string(),
        "{offer}"
    );
    let cancel = bodies
        .iter()
        .find(|b| b["type"] == "subscription.cancel_confirmed")
        .unwrap();
    assert_eq!(cancel["data"]["effective_date"], "2030-01-01");
    assert_eq!(cancel["data"]["profile"], "germany");
    assert_eq!(cancel["data"]["receipt"]["plan"], "pro", "{cancel}");

    // A retry of the save records nothing new and sends nothing new.
    let (_, list) = json_of(
        app.admin(Method::GET, TEST_APP, "/webhooks/deliveries")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["deliveries"].as_array().unwrap().len(), 2);
    assert!(
        list["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "delivered")
    );
}

#[tokio::test]
async fn a_failed_attempt_is_retried_with_the_same_webhook_id() {
    let app = server().await;
    let (url, received) = receiver(vec![500]).await;
    let (_, endpoint) = create(&app, json!({ "url": url, "events": ["offer.accepted"] })).await;
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    accept(&app, "cus_1").await;
    let got = until_received(&received, 2).await;
    assert_eq!(
        got[0].0["webhook-id"], got[1].0["webhook-id"],
        "one message, one id, whatever the attempt"
    );
    verify(&secret, &got[1]);
    // The receiver has the second attempt; the sender records its answer a moment later.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let list = loop {
        let (_, list) = json_of(
            app.admin(Method::GET, TEST_APP, "/webhooks/deliveries")
                .send()
                .await
                .unwrap(),
        )
        .await;
        if list["deliveries"][0]["status"] == "delivered" || std::time::Instant::now() > deadline {
            break list;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let delivery = &list["deliveries"][0];
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    let log = delivery["attempt_log"].as_array().unwrap();
    assert_eq!(
        (
            log[0]["status_code"].as_i64(),
            log[1]["status_code"].as_i64()
        ),
        (Some(500), Some(200))
    );
}

#[tokio::test]
async fn during_a_rotation_both_secrets_sign() {
    let app = server().await;
    let (url, received) = receiver(vec![]).await;
    let (_, endpoint) = create(&app, json!({ "url": url })).await;
    let old = endpoint["secret"].as_str().unwrap().to_string();
    let id = endpoint["id"].as_str().unwrap();
    let r = app
        .admin(
            Method::POST,
            TEST_APP,
            &format!("/webhooks/endpoints/{id}/rotate-secret"),
        )
        .json(&json!({ "grace_seconds": 3600 }))
        .send()
        .await
        .unwrap();
    let (status, rotated) = json_of(r).await;
    assert_eq!(status, 200);
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let r = app
        .admin(
            Method::POST,
            TEST_APP,
            &format!("/webhooks/endpoints/{id}/test"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let got = until_received(&received, 1).await;
    let signature = got[0].0["webhook-signature"].to_str().unwrap().to_string();
    assert_eq!(signature.split(' ').count(), 2, "{signature}");
    assert_eq!(verify(&new, &got[0])["type"], "webhook.test");
    verify(&old, &got[0]);
}

#[tokio::test]
async fn gone_disables_the_endpoint() {
    let app = server().await;
    let (url, received) = receiver(vec![410]).await;
    let (_, endpoint) = create(&app, json!({ "url": url })).await;
    let id = endpoint["id"].as_str().unwrap().to_string();
    accept(&app, "cus_1").await;
    until_received(&received, 1).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, e) = json_of(
            app.admin(Method::GET, TEST_APP, &format!("/webhooks/endpoints/{id}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        if e["enabled"] == false {
            assert_eq!(e["disabled_reason"], "the endpoint answered 410 Gone");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn endpoints_are_managed_and_bad_ones_refused_naming_the_field() {
    let app = spawn_app_with(holdfast_server::Settings::default()).await;
    let (status, body) = create(&app, json!({ "url": "http://billing.acme.example/hook" })).await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("url")),
        "https only"
    );
    let (status, body) = create(&app, json!({ "url": "https://10.0.0.7/hook" })).await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("url")),
        "no private address"
    );
    let long = format!("https://billing.acme.example/{}", "a".repeat(2048));
    let (status, body) = create(&app, json!({ "url": long })).await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (422, &json!("url")),
        "at most 2048 bytes, as the OpenAPI document says"
    );
    let (status, body) = create(
        &app,
        json!({ "url": "https://billing.acme.example/hook", "events": ["offer.eaten"] }),
    )
    .await;
    assert_refused(status, &body, refusal(422).field("events[0]"));
    let (status, created) = create(
        &app,
        json!({ "url": "https://billing.acme.example/hook", "events": ["offer.accepted"] }),
    )
    .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap();
    let (_, list) = json_of(
        app.admin(Method::GET, TEST_APP, "/webhooks/endpoints")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["endpoints"].as_array().unwrap().len(), 1);
    assert!(
        list["endpoints"][0].get("secret").is_none(),
        "the secret is shown once only"
    );
    let r = app
        .admin(
            Method::PATCH,
            TEST_APP,
            &format!("/webhooks/endpoints/{id}"),
        )
        .json(&json!({ "enabled": false }))
        .send()
        .await
        .unwrap();
    let (_, changed) = json_of(r).await;
    assert_eq!(
        (&changed["enabled"], &changed["disabled_reason"]),
        (&json!(false), &json!("disabled by an admin"))
    );
    let r = app
        .admin(
            Method::DELETE,
            TEST_APP,
            &format!("/webhooks/endpoints/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app
        .admin(Method::GET, TEST_APP, &format!("/webhooks/endpoints/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// The server as a process (so it can be killed with SIGKILL) retrying every second.
fn start_server(db: &str) -> (std::process::Child, String) {
    crate::helpers::server_process(
        db,
        &[
            ("HOLDFAST_WEBHOOKS_ALLOW_PRIVATE", "true"),
            (
                "HOLDFAST_WEBHOOKS_RETRY_SCHEDULE",
                "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s",
            ),
            ("RUST_LOG", "warn"),
        ],
    )
}

/// A receiver that answers 503 until `up`, then 200, recording every request.
async fn flaky_receiver(up: Arc<std::sync::atomic::AtomicBool>) -> (String, Received) {
    let received: Received = Arc::default();
    let log = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (log, up) = (log.clone(), up.clone());
            async move {
                log.lock().unwrap().push((headers, body));
                if up.load(std::sync::atomic::Ordering::SeqCst) {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_message_is_lost_when_the_server_is_killed_with_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("kill.db").display());
    let created: Value = serde_json::from_str(&crate::helpers::cli(
        &db,
        &["apps", "create", "--name", "Acme", "--json"],
    ))
    .unwrap();
    let app_id = created["app_id"].as_str().unwrap().to_string();
    let key = created["test"]["admin_key"].as_str().unwrap().to_string();
    let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (hook, received) = flaky_receiver(up.clone()).await;

    let (mut first, base) = start_server(&db);
    let http = reqwest::Client::new();
    let endpoint: Value = http
        .post(format!("{base}/v1/admin/apps/{app_id}/webhooks/endpoints"))
        .bearer_auth(&key)
        .json(&json!({ "url": hook }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    for i in 0..5 {
        let body = json!({ "customer": customer(&format!("cus_{i}")), "session_id": uuid(),
                           "event_id": uuid(), "reason": "too_expensive", "offer_id": "discount_25" });
        let r = http
            .post(format!("{base}/v1/apps/{app_id}/offers/accept"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // Some attempts fail against the receiver that is down, then the process dies mid-work.
    until_received(&received, 3).await;
    first.kill().unwrap();
    first.wait().unwrap();
    let before: std::collections::BTreeSet<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap().to_string())
        .collect();

    up.store(true, std::sync::atomic::Ordering::SeqCst);
    let (mut second, _) = start_server(&db);
    // A message the killed process had claimed for an attempt stays leased to it for up to the
    // sender's 60 s lease (then any sender takes it again), so the wait outlasts the lease.
    let started = std::time::Instant::now();
    let deadline = started + Duration::from_secs(90);
    let delivered = loop {
        let got = received.lock().unwrap().clone();
        let ok: std::collections::BTreeMap<String, Value> = got
            .iter()
            .filter(|(h, _)| h.contains_key("webhook-id"))
            .map(|r| {
                (
                    r.0["webhook-id"].to_str().unwrap().to_string(),
                    verify(&secret, r),
                )
            })
            .collect();
        if ok.len() >= 5 && started.elapsed() > Duration::from_secs(2) {
            break ok;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of 5 messages",
            ok.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(
        delivered.len(),
        5,
        "every message, each once by id: {delivered:?}"
    );
    assert!(
        before.iter().all(|id| delivered.contains_key(id)),
        "the ids seen before the kill are the ids delivered after it"
    );
    assert!(delivered.values().all(|b| b["type"] == "offer.accepted"));
}

#[tokio::test]
async fn an_outcome_reaches_the_endpoint_on_postgres() {
    let Some(app) = crate::helpers::spawn_app_on_postgres_with(fast_webhooks()).await else {
        println!(
            "skipped PostgreSQL: HOLDFAST_TEST_POSTGRES_URL is not set (scripts/test sets it)"
        );
        return;
    };
    let (url, received) = receiver(vec![]).await;
    let (status, endpoint) =
        create(&app, json!({ "url": url, "events": ["offer.accepted"] })).await;
    assert_eq!(status, 201);
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    let session = accept(&app, &format!("cus_{}", uuid())).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let got = received.lock().unwrap().clone();
        if let Some(mine) = got.iter().find(|r| r.1.contains(&session)) {
            assert_eq!(verify(&secret, mine)["data"]["session_id"], session);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the save's webhook never came"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_closed_flow_and_an_upgrade_credited_to_a_prompt_are_told_too() {
    let app = server().await;
    let (url, received) = receiver(vec![]).await;
    let (_, endpoint) = create(
        &app,
        json!({ "url": url, "events": ["flow.abandoned", "prompt.converted"] }),
    )
    .await;
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    let now = crate::helpers::now();
    let closed = uuid();
    let prompt_session = uuid();
    let batch = json!({ "customer": customer("cus_1"), "events": [
        crate::helpers::event("flow_started", &closed, (now - 60) * 1000, json!({})),
        crate::helpers::event("flow_abandoned", &closed, (now - 50) * 1000, json!({})),
        crate::helpers::event("prompt_shown", &prompt_session, (now - 40) * 1000,
            json!({ "prompt": "gate", "trigger": "gate:sso" })),
    ]});
    assert_eq!(app.post_events(TEST_APP, &batch).await.status(), 200);
    let r = app
        .admin(Method::POST, TEST_APP, "/customers/cus_1/lifecycle")
        .json(&json!({ "type": "upgraded", "at": now - 10, "plan": "team" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = until_received(&received, 2).await;
    let bodies: Vec<Value> = got.iter().map(|r| verify(&secret, r)).collect();
    let abandoned = bodies
        .iter()
        .find(|b| b["type"] == "flow.abandoned")
        .unwrap();
    assert_eq!(abandoned["data"]["session_id"], closed);
    let converted = bodies
        .iter()
        .find(|b| b["type"] == "prompt.converted")
        .unwrap();
    assert_eq!(
        (
            &converted["data"]["prompt"],
            &converted["data"]["session_id"],
            &converted["data"]["plan"]
        ),
        (&json!("gate"), &json!(prompt_session), &json!("team"))
    );
}

#[tokio::test]
async fn a_session_left_open_for_a_day_is_closed_as_abandoned() {
    let app = server().await;
    let (url, received) = receiver(vec![]).await;
    let (_, endpoint) = create(&app, json!({ "url": url, "events": ["flow.abandoned"] })).await;
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    let now = crate::helpers::now();
    let (open, recent, cancelled) = (uuid(), uuid(), uuid());
    let batch = json!({ "customer": customer("cus_1"), "events": [
        crate::helpers::event("flow_started", &open, (now - 30 * 3600) * 1000, json!({})),
        crate::helpers::event("flow_started", &recent, (now - 3600) * 1000, json!({})),
        crate::helpers::event("flow_started", &cancelled, (now - 30 * 3600) * 1000, json!({})),
        crate::helpers::event("cancel_confirmed", &cancelled, (now - 30 * 3600 + 60) * 1000, json!({})),
    ]});
    assert_eq!(app.post_events(TEST_APP, &batch).await.status(), 200);
    app.storage.settle().await.unwrap();
    let closed = holdfast_server::webhooks::close_stale_sessions(&app.storage, now)
        .await
        .unwrap();
    assert_eq!(closed, 1, "only the day-old session without an outcome");
    let got = until_received(&received, 1).await;
    let body = verify(&secret, &got[0]);
    assert_eq!(
        (&body["data"]["session_id"], &body["data"]["why"]),
        (&json!(open), &json!("timed_out"))
    );
    assert_eq!(
        holdfast_server::webhooks::close_stale_sessions(&app.storage, now)
            .await
            .unwrap(),
        0,
        "closed once"
    );
}

#[tokio::test]
async fn a_trial_is_started_once_per_feature_after_enough_gate_hits_and_told() {
    let app = server().await;
    let (url, received) = receiver(vec![]).await;
    let (_, endpoint) = create(&app, json!({ "url": url, "events": ["trial.started"] })).await;
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    let trial = |session: String| {
        let body =
            json!({ "customer": customer("cus_1"), "feature": "sso", "session_id": session });
        app.post(&format!("/v1/apps/{TEST_APP}/prompts/trial"))
            .header("origin", crate::helpers::ORIGIN)
            .json(&body)
            .send()
    };
    let (status, body) = json_of(trial(uuid()).await.unwrap()).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("trial_not_offered")),
        "no hit yet"
    );
    let now = crate::helpers::now();
    let hits: Vec<Value> = (0..3)
        .map(|i| {
            crate::helpers::event(
                "gate_hit",
                &uuid(),
                (now - 30 + i) * 1000,
                json!({ "feature": "sso" }),
            )
        })
        .collect();
    let batch = json!({ "customer": customer("cus_1"), "events": hits });
    assert_eq!(app.post_events(TEST_APP, &batch).await.status(), 200);
    let session = uuid();
    let (status, started) = json_of(trial(session.clone()).await.unwrap()).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(
        (&started["feature"], &started["days"]),
        (&json!("sso"), &json!(7))
    );
    let (status, again) = json_of(trial(uuid()).await.unwrap()).await;
    assert_refused(status, &again, refusal(409).code("trial_started_before"));
    assert_eq!(again["error"]["recorded"]["session_id"], session);
    let got = until_received(&received, 1).await;
    let body = verify(&secret, &got[0]);
    assert_eq!(
        (
            &body["type"],
            &body["data"]["feature"],
            &body["data"]["days"]
        ),
        (&json!("trial.started"), &json!("sso"), &json!(7))
    );
}
