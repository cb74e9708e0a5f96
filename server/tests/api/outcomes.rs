//! Outcomes the server records: one per session, the first wins, retries get the first answer,
//! a conflicting second is a 409 carrying the recorded one, Minnesota's save after a cancellation
//! keeps both steps, concurrent acceptances never redeem twice; the host's backend reads them.
//! The concurrency tests run on SQLite and on the real PostgreSQL of `scripts/test`.

use holdfast_server::storage::Scope;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    LIVE_APP, LIVE_KID, LIVE_SECRET, ORIGIN, TEST_APP, TestApp, assert_refused, customer, json_of,
    now, refusal, signed, spawn_app, spawn_app_on_postgres, token_with, uuid,
};

async fn cancel(app: &TestApp, app_id: &str, session: &str, body: Value) -> (u16, Value) {
    let r = app
        .post(&format!("/v1/apps/{app_id}/sessions/{session}/cancel"))
        .header("origin", ORIGIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    json_of(r).await
}

async fn accept(app: &TestApp, app_id: &str, customer: &Value, session: &str) -> (u16, Value) {
    let body = json!({ "customer": customer, "session_id": session, "event_id": uuid(),
                       "reason": "too_expensive", "offer_id": "discount_25" });
    json_of(app.accept(app_id, &body).await).await
}

async fn admin_get(app: &TestApp, app_id: &str, path: &str) -> (u16, Value) {
    json_of(app.admin(Method::GET, app_id, path).send().await.unwrap()).await
}

#[tokio::test]
async fn a_cancellation_is_recorded_with_the_signed_period_end_and_read_back() {
    let app = spawn_app().await;
    let session = uuid();
    let period_end = 1_893_456_000; // 2030-01-01
    let token = json!(token_with(
        LIVE_APP,
        LIVE_SECRET,
        Some(LIVE_KID),
        "cus_1",
        json!({ "period_end": period_end })
    ));
    let body = json!({ "customer": token, "reason": "too_expensive", "profile": "standard" });
    let (status, first) = cancel(&app, LIVE_APP, &session, body.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (
            &first["outcome"],
            &first["effective_date"],
            &first["profile"]
        ),
        (
            &json!("cancelled"),
            &json!("2030-01-01"),
            &json!("standard")
        )
    );
    assert!(
        first.get("receipt").is_none(),
        "the standard profile needs no receipt"
    );
    let (status, retry) = cancel(&app, LIVE_APP, &session, body).await;
    assert_eq!(
        (status, &retry),
        (200, &first),
        "a retry gets the first answer"
    );

    let (status, read) = admin_get(&app, LIVE_APP, &format!("/sessions/{session}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            &read["outcome"],
            &read["effective_date"],
            &read["customer_id"],
            &read["mode"]
        ),
        (
            &json!("cancelled"),
            &json!("2030-01-01"),
            &json!("cus_1"),
            &json!("live")
        )
    );
    let (_, list) = admin_get(&app, LIVE_APP, "/customers/cus_1/sessions").await;
    assert_eq!(list["sessions"].as_array().map(Vec::len), Some(1));
    let stats = app.stats(LIVE_APP, "").await;
    assert_eq!(stats["totals"]["cancels"], 1);
    // The test-mode key reads test data only.
    let r = app
        .admin_with(
            Method::GET,
            LIVE_APP,
            crate::helpers::LIVE_APP_TEST_KEY,
            &format!("/sessions/{session}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn germany_gets_a_receipt_and_test_mode_may_give_the_period_end() {
    let app = spawn_app().await;
    let body = json!({ "customer": customer("cus_de"), "profile": "germany", "period_end": 1_893_456_000 });
    let (status, answer) = cancel(&app, TEST_APP, &uuid(), body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["receipt"]["effective_date"], "2030-01-01");
    assert_eq!(answer["receipt"]["plan"], "pro");
    // With a token the period end is signed: the body may not set it.
    let body = json!({ "customer": signed("cus_1"), "period_end": 1_893_456_000 });
    let (status, refused) = cancel(&app, LIVE_APP, &uuid(), body).await;
    assert_refused(status, &refused, refusal(422).field("period_end"));
}

#[tokio::test]
async fn a_saved_session_cannot_then_be_cancelled_nor_the_reverse() {
    let app = spawn_app().await;
    let c = customer("cus_1");
    let saved = uuid();
    assert_eq!(accept(&app, TEST_APP, &c, &saved).await.0, 200);
    let (status, body) = cancel(&app, TEST_APP, &saved, json!({ "customer": c })).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "outcome_recorded");
    assert_eq!(body["error"]["recorded"]["outcome"], "saved");

    let cancelled = uuid();
    let profile = json!({ "customer": customer("cus_2"), "profile": "standard" });
    assert_eq!(cancel(&app, TEST_APP, &cancelled, profile).await.0, 200);
    let (status, body) = accept(&app, TEST_APP, &customer("cus_2"), &cancelled).await;
    assert_eq!(
        status, 409,
        "an acceptance after the cancellation is refused: {body}"
    );
    assert_eq!(body["error"]["recorded"]["outcome"], "cancelled");
    let totals = &app.stats(TEST_APP, "").await["totals"];
    assert_eq!(
        (&totals["saves"], &totals["cancels"]),
        (&json!(1), &json!(1))
    );
}

#[tokio::test]
async fn in_minnesota_an_offer_accepted_after_the_cancellation_turns_it_into_a_save() {
    let app = spawn_app().await;
    let mut c = customer("cus_mn");
    c["country"] = json!("US");
    c["region"] = json!("MN");
    let session = uuid();
    let (status, _) = cancel(&app, TEST_APP, &session, json!({ "customer": c })).await;
    assert_eq!(status, 200);
    let (status, body) = accept(&app, TEST_APP, &c, &session).await;
    assert_eq!(status, 200, "{body}");
    let (_, read) = admin_get(&app, TEST_APP, &format!("/sessions/{session}")).await;
    assert_eq!(read["outcome"], "saved");
    assert_eq!(read["profile"], "minnesota");
    assert_eq!(
        read["history"][0]["outcome"], "cancelled",
        "both steps stay on record: {read}"
    );
    let totals = &app.stats(TEST_APP, "").await["totals"];
    assert_eq!(
        (&totals["saves"], &totals["cancels"]),
        (&json!(1), &json!(0))
    );
}

#[tokio::test]
async fn an_outcome_needs_an_unexpired_token() {
    let app = spawn_app().await;
    let t = now();
    let expired = json!(token_with(
        LIVE_APP,
        LIVE_SECRET,
        Some(LIVE_KID),
        "cus_1",
        json!({ "iat": t - 7200, "exp": t - 3600 })
    ));
    let (status, body) = cancel(&app, LIVE_APP, &uuid(), json!({ "customer": expired })).await;
    assert_refused(status, &body, refusal(401).code("token_expired"));
}

/// Eight acceptances at once: for one session, and for eight sessions of one customer (the
/// discount's cooldown allows one). Exactly one redeems in each case.
async fn concurrent_acceptances_redeem_once(app: &TestApp) {
    let id = format!("cus_{}", uuid());
    let c = customer(&id);
    let session = uuid();
    let same: Vec<_> = (0..8)
        .map(|_| {
            let body = json!({ "customer": c, "session_id": session, "event_id": uuid(),
                               "reason": "too_expensive", "offer_id": "discount_25" });
            let request = app
                .client
                .post(format!("{}/v1/apps/{TEST_APP}/offers/accept", app.url))
                .header("origin", ORIGIN)
                .json(&body);
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    for r in same {
        assert_eq!(
            r.await.unwrap(),
            200,
            "repeats of one session's save get its answer"
        );
    }
    let live = app
        .storage
        .ledger(Scope::new(TEST_APP, false), &id)
        .await
        .unwrap();
    assert_eq!(live.len(), 1, "one session, one redemption: {live:?}");

    let other = format!("cus_{}", uuid());
    let c = customer(&other);
    let sessions: Vec<_> = (0..8)
        .map(|_| {
            let body = json!({ "customer": c, "session_id": uuid(), "event_id": uuid(),
                               "reason": "too_expensive", "offer_id": "discount_25" });
            let request = app
                .client
                .post(format!("{}/v1/apps/{TEST_APP}/offers/accept", app.url))
                .header("origin", ORIGIN)
                .json(&body);
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for r in sessions {
        statuses.push(r.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 403),
        "{statuses:?}"
    );
    let ledger = app
        .storage
        .ledger(Scope::new(TEST_APP, false), &other)
        .await
        .unwrap();
    assert_eq!(
        ledger.len(),
        1,
        "the cooldown holds under concurrency: {ledger:?}"
    );
}

#[tokio::test]
async fn concurrent_acceptances_redeem_once_on_sqlite() {
    concurrent_acceptances_redeem_once(&spawn_app().await).await;
}

#[tokio::test]
async fn concurrent_acceptances_redeem_once_on_postgres() {
    let Some(app) = spawn_app_on_postgres().await else {
        println!(
            "skipped PostgreSQL: HOLDFAST_TEST_POSTGRES_URL is not set (scripts/test sets it)"
        );
        return;
    };
    concurrent_acceptances_redeem_once(&app).await;
}

#[tokio::test]
async fn an_absurd_period_end_is_refused_naming_the_field() {
    let app = spawn_app().await;
    for end in [json!(9_000_000_000_000_000_000_i64), json!(-5)] {
        let body = json!({ "customer": customer("cus_1"), "period_end": end });
        let (status, body) = cancel(&app, TEST_APP, &uuid(), body).await;
        assert_refused(status, &body, refusal(422).field("period_end"));
    }
    let token = json!(token_with(
        LIVE_APP,
        LIVE_SECRET,
        Some(LIVE_KID),
        "cus_1",
        json!({ "period_end": 9_000_000_000_000_000_000_i64 })
    ));
    let (status, body) = cancel(&app, LIVE_APP, &uuid(), json!({ "customer": token })).await;
    assert_refused(status, &body, refusal(401).code("invalid_claims"));
    let r = app
        .get(&format!(
            "/cancel/{TEST_APP}?customer=c&plan=pro&mrr_cents=1&created_at=1&period_end=9000000000000000000"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}
