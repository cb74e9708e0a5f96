//! A SaaS team's path to production, as the README tells it: create an app with the CLI, sign a
//! customer token with the printed live signing secret, plan and accept an offer from the browser,
//! read the outcome with the printed live admin key; rotate the signing secret and revoke a key.
//! On SQLite, and on the real PostgreSQL when `HOLDFAST_TEST_POSTGRES_URL` is set.

use serde_json::{Value, json};

use crate::helpers::{assert_refused, cli, json_of, now, refusal, spawn_app_on, token_with, uuid};

async fn the_path_to_production(url: &str) {
    let origin = "https://app.acme.example";
    let created: Value = serde_json::from_str(&cli(
        url,
        &[
            "apps", "create", "--name", "Acme", "--origin", origin, "--json",
        ],
    ))
    .expect("JSON");
    let app_id = created["app_id"].as_str().unwrap().to_string();
    let live_secret = created["live"]["signing_secret"].as_str().unwrap();
    let live_admin = created["live"]["admin_key"].as_str().unwrap();
    let test_admin = created["test"]["admin_key"].as_str().unwrap();
    assert!(live_secret.starts_with("hfs_live_") && live_admin.starts_with("hfk_live_"));
    assert!(cli(url, &["apps", "list"]).contains(&app_id));

    let server = spawn_app_on(url).await;
    let token = token_with(
        &app_id,
        live_secret,
        None,
        "cus_acme_1",
        json!({ "period_end": now() + 86_400 }),
    );
    let plan = server
        .post(&format!("/v1/apps/{app_id}/cancel-plan"))
        .header("origin", origin)
        .json(&json!({ "customer": token }))
        .send()
        .await
        .unwrap();
    let (status, plan) = json_of(plan).await;
    assert_eq!(status, 200, "{plan}");
    let offer = plan["offers"]
        .as_array()
        .and_then(|all| all.iter().find(|o| o["reason"] == "too_expensive"))
        .and_then(|o| o["offers"][0]["id"].as_str())
        .expect("an offer for the reason")
        .to_string();
    let accepted = server
        .post(&format!("/v1/apps/{app_id}/offers/accept"))
        .header("origin", origin)
        .json(
            &json!({ "customer": token, "session_id": uuid(), "event_id": uuid(),
                       "reason": "too_expensive", "offer_id": offer }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    let stats = |key: &str| {
        server
            .get(&format!("/v1/admin/apps/{app_id}/stats"))
            .bearer_auth(key)
            .send()
    };
    // Another session of another customer cancels; the host's backend reads both back.
    let cancelled = uuid();
    let other_customer = token_with(
        &app_id,
        live_secret,
        None,
        "cus_acme_2",
        json!({ "period_end": 1_893_456_000 }),
    );
    let r = server
        .post(&format!("/v1/apps/{app_id}/sessions/{cancelled}/cancel"))
        .header("origin", origin)
        .json(&json!({ "customer": other_customer, "reason": "too_expensive", "profile": "standard" }))
        .send()
        .await
        .unwrap();
    let (status, answer) = json_of(r).await;
    assert_eq!(
        (status, &answer["effective_date"]),
        (200, &json!("2030-01-01")),
        "{answer}"
    );
    let read = server
        .get(&format!("/v1/admin/apps/{app_id}/sessions/{cancelled}"))
        .bearer_auth(live_admin)
        .send()
        .await
        .unwrap();
    let (status, read) = json_of(read).await;
    assert_eq!(
        (status, &read["outcome"]),
        (200, &json!("cancelled")),
        "{read}"
    );
    let saves = server
        .get(&format!(
            "/v1/admin/apps/{app_id}/customers/cus_acme_1/sessions"
        ))
        .bearer_auth(live_admin)
        .send()
        .await
        .unwrap();
    let (_, saves) = json_of(saves).await;
    assert_eq!(saves["sessions"][0]["outcome"], "saved", "{saves}");
    assert_eq!(saves["sessions"][0]["offer"]["id"], offer);
    let (_, live) = json_of(stats(live_admin).await.unwrap()).await;
    assert_eq!(
        (&live["mode"], &live["totals"]["saves"]),
        (&json!("live"), &json!(1))
    );
    let (_, test) = json_of(stats(test_admin).await.unwrap()).await;
    assert_eq!(test["totals"]["saves"], 0, "test mode has its own data");

    // Another origin is refused; the operator adds it through the admin API.
    let other = "https://staging.acme.example";
    let refused = server
        .post(&format!("/v1/apps/{app_id}/cancel-plan"))
        .header("origin", other)
        .json(&json!({ "customer": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let changed = server
        .client
        .patch(format!("{}/v1/admin/apps/{app_id}", server.url))
        .bearer_auth(live_admin)
        .json(&json!({ "origins": [origin, other], "audience": "business" }))
        .send()
        .await
        .unwrap();
    let (status, changed) = json_of(changed).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (
            &changed["audience"],
            &changed["config_version"],
            &changed["mode"]
        ),
        (&json!("business"), &json!(2), &json!("live")),
        "the audience is the config's: a new version"
    );
    let allowed = server
        .post(&format!("/v1/apps/{app_id}/cancel-plan"))
        .header("origin", other)
        .json(&json!({ "customer": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200, "the change applies at once");

    // Rotation without a grace period: tokens signed with the old secret stop verifying.
    let rotated: Value = serde_json::from_str(&cli(
        url,
        &[
            "apps",
            "keys",
            "rotate-signing",
            &app_id,
            "--mode",
            "live",
            "--grace",
            "0",
            "--json",
        ],
    ))
    .unwrap();
    let plan_with = |customer: String| {
        server
            .post(&format!("/v1/apps/{app_id}/cancel-plan"))
            .header("origin", origin)
            .json(&json!({ "customer": customer }))
            .send()
    };
    let new_secret = rotated["signing_secret"].as_str().unwrap();
    let kid = rotated["kid"].as_str().unwrap();
    let new = token_with(&app_id, new_secret, Some(kid), "cus_acme_1", json!({}));
    // The running server reads the app's keys again within seconds (its app cache): wait for
    // the new secret to verify, by watching.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while plan_with(new.clone()).await.unwrap().status() != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the new secret never verified"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let old = token_with(&app_id, live_secret, None, "cus_acme_1", json!({}));
    let (status, body) = json_of(plan_with(old).await.unwrap()).await;
    assert_refused(status, &body, refusal(401).code("bad_signature"));

    // A revoked admin key opens nothing.
    let key_id = &live_admin[..17];
    cli(url, &["apps", "keys", "revoke", &app_id, key_id]);
    let r = server
        .get(&format!("/v1/admin/apps/{app_id}/stats"))
        .bearer_auth(live_admin)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_refused(status, &body, refusal(401).code("revoked_api_key"));
}

#[tokio::test]
async fn a_team_goes_live_with_the_cli_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("acme.db").display());
    the_path_to_production(&url).await;
}

#[tokio::test]
async fn a_team_goes_live_with_the_cli_on_postgres() {
    let Ok(url) = std::env::var("HOLDFAST_TEST_POSTGRES_URL") else {
        println!(
            "skipped PostgreSQL: HOLDFAST_TEST_POSTGRES_URL is not set (scripts/test sets it)"
        );
        return;
    };
    the_path_to_production(&url).await;
}
