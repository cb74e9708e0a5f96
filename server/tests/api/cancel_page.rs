//! `/cancel/{app_id}`: the cancel flow as plain HTML forms, no JavaScript; its sessions count in
//! the stats like the widget's.

use crate::helpers::{LIVE_APP, LIVE_KID, LIVE_SECRET, TEST_APP, TestApp, spawn_app, token_with};

const LINK: &str = "customer=cus_page&plan=pro&mrr_cents=4900&created_at=1700000000&currency=USD";

/// The hidden fields of the page's form, plus `extra`: what a browser posts.
fn form_of(html: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for part in html.split(r#"<input type="hidden" name=""#).skip(1) {
        let (name, rest) = part.split_once('"').unwrap();
        let value = rest
            .split_once(r#"value=""#)
            .unwrap()
            .1
            .split_once('"')
            .unwrap()
            .0;
        let value = value.replace("&quot;", "\"").replace("&amp;", "&");
        fields.push((name.to_string(), value));
    }
    fields.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    fields
}

fn step(html: &str) -> &str {
    html.split(r#"data-step=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
}

async fn get(app: &TestApp, app_id: &str, query: &str) -> (u16, String) {
    let r = app
        .get(&format!("/cancel/{app_id}?{query}"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(app: &TestApp, html: &str, extra: &[(&str, &str)]) -> String {
    post_to(app, TEST_APP, html, extra).await
}

async fn post_to(app: &TestApp, app_id: &str, html: &str, extra: &[(&str, &str)]) -> String {
    let r = app
        .post(&format!("/cancel/{app_id}"))
        .form(&form_of(html, extra))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

#[tokio::test]
async fn declining_the_offer_cancels_and_the_session_counts() {
    let app = spawn_app().await;
    let (status, page) = get(&app, TEST_APP, &format!("{LINK}&profile=standard")).await;
    assert_eq!(status, 200);
    assert!(!page.contains("<script"), "no JavaScript at all");
    assert_eq!(step(&page), "survey");
    assert!(
        page.contains("What&#39;s the main reason you&#39;re cancelling?"),
        "{page}"
    );
    assert!(
        page.contains("Anything else you&#39;d like to tell us? (optional)"),
        "{page}"
    );
    let page = post(
        &app,
        &page,
        &[("reason", "too_expensive"), ("action", "survey")],
    )
    .await;
    assert_eq!(step(&page), "offer");
    assert!(page.contains("25% off your next 3 invoices"), "{page}");
    assert!(
        page.contains("36.75 USD a month for 3 months, then 49.00 USD"),
        "{page}"
    );
    assert!(
        page.contains(r#"value="continue""#),
        "continue to cancel is on the offer step"
    );
    let page = post(&app, &page, &[("action", "decline")]).await;
    assert_eq!(step(&page), "confirm");
    let page = post(&app, &page, &[("action", "confirm")]).await;
    assert_eq!(step(&page), "done");
    assert!(page.contains("Your subscription is cancelled."), "{page}");
    let stats = app.stats(TEST_APP, "").await;
    assert_eq!(stats["totals"]["sessions"], 1, "{stats}");
    assert_eq!(stats["totals"]["cancels"], 1, "{stats}");
    assert_eq!(
        stats["breakdowns"]["reason"][0]["key"], "too_expensive",
        "{stats}"
    );
    assert_eq!(
        stats["breakdowns"]["offer_kind"][0]["key"], "discount",
        "the offer was shown"
    );
    let record = &audit_of(&app).await[0];
    assert_eq!(
        steps_of(record),
        [
            ("survey", true),
            ("offer", true),
            ("confirm", true),
            ("done", false)
        ],
        "{record}"
    );
    assert_eq!(
        (&record["outcome"], &record["clicks_to_cancel"]),
        (&serde_json::json!("cancelled"), &serde_json::json!(3))
    );
}

/// The app's audit records over the last day.
async fn audit_of(app: &TestApp) -> Vec<serde_json::Value> {
    let r = app
        .admin(reqwest::Method::GET, TEST_APP, "/audit")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A record's steps and whether the cancel control was visible on each.
fn steps_of(record: &serde_json::Value) -> Vec<(&str, bool)> {
    record["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap(),
                s["cancel_control_visible"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn accepting_the_offer_is_rechecked_and_saves() {
    let app = spawn_app().await;
    let (_, page) = get(&app, TEST_APP, &format!("{LINK}&profile=standard")).await;
    let page = post(
        &app,
        &page,
        &[("reason", "too_expensive"), ("action", "survey")],
    )
    .await;
    let page = post(&app, &page, &[("action", "accept")]).await;
    assert_eq!(step(&page), "done");
    assert!(page.contains("Thanks for staying!"), "{page}");
    let stats = app.stats(TEST_APP, "").await;
    assert_eq!(stats["totals"]["saves"], 1, "{stats}");
    // The discount is now in its cooldown: a second session is not offered it again.
    let (_, page) = get(&app, TEST_APP, &format!("{LINK}&profile=standard")).await;
    let page = post(
        &app,
        &page,
        &[("reason", "too_expensive"), ("action", "survey")],
    )
    .await;
    assert!(!page.contains("25% off"), "{page}");
}

#[tokio::test]
async fn continue_to_cancel_skips_the_offer_and_germany_gets_its_labels_and_receipt() {
    let app = spawn_app().await;
    let (_, page) = get(&app, TEST_APP, &format!("{LINK}&profile=standard")).await;
    let page = post(&app, &page, &[("action", "continue")]).await;
    assert_eq!(step(&page), "confirm");

    let (_, page) = get(
        &app,
        TEST_APP,
        &format!("{LINK}&profile=germany&period_end=1797206400"),
    )
    .await;
    assert_eq!(
        step(&page),
        "confirm",
        "Germany asks nothing before the confirmation"
    );
    assert!(page.contains("jetzt kündigen"), "{page}");
    assert!(page.contains("2026-12-14"), "the honest end date: {page}");
    let page = post(&app, &page, &[("action", "confirm")]).await;
    assert!(page.contains(r#"data-testid="hf-receipt""#), "{page}");
}

#[tokio::test]
async fn the_page_shows_each_step_as_the_widget_does_with_frances_summary_page() {
    let app = spawn_app().await;
    let (_, page) = get(&app, TEST_APP, &format!("{LINK}&profile=france")).await;
    let page = post(&app, &page, &[("action", "continue")]).await;
    assert_eq!(step(&page), "confirm");
    assert!(
        page.contains(r#"data-testid="hf-summary""#) && page.contains(r#"data-testid="hf-ends""#),
        "the summary page core describes for France: {page}"
    );
    assert!(
        page.contains("confirmer ma demande de résiliation"),
        "{page}"
    );
    assert!(
        !page.contains(r#"value="close""#),
        "a page cannot close itself, so it offers no close button"
    );
}

#[tokio::test]
async fn a_bad_link_is_refused_naming_the_field() {
    let app = spawn_app().await;
    for (query, field) in [
        (
            "customer=c1&plan=pro&mrr_cents=lots&created_at=1",
            "mrr_cents",
        ),
        ("plan=pro&mrr_cents=1&created_at=1", "customer"),
        (
            "customer=c1&plan=pro&mrr_cents=1&created_at=1&profile=mars",
            "profile",
        ),
        (
            "customer=c1&plan=pro&mrr_cents=1&created_at=1&bogus=1",
            "bogus",
        ),
        (
            "customer=c1&plan=pro&mrr_cents=1&created_at=1&history=zz",
            "history",
        ),
    ] {
        let r = app
            .get(&format!("/cancel/{TEST_APP}?{query}"))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_eq!(status, 422, "{query}: {body}");
        assert!(
            body.contains(r#"data-testid="hf-error""#) && body.contains(&format!("({field})")),
            "an HTML page that names the field: {query}: {body}"
        );
    }
    let (status, _) = get(&app, "app_nope", LINK).await;
    assert_eq!(status, 404);
    let huge = app
        .post(&format!("/cancel/{TEST_APP}"))
        .form(&[("details", "x".repeat(40_000))])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413, "an oversized form");
}

fn page_token(extra: serde_json::Value) -> String {
    let mut claims = serde_json::json!({ "purpose": "cancel_page", "currency": "USD" });
    if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    token_with(LIVE_APP, LIVE_SECRET, Some(LIVE_KID), "cus_page", claims)
}

#[tokio::test]
async fn a_signed_link_runs_the_flow_in_live_mode() {
    let app = spawn_app().await;
    let token = page_token(serde_json::json!({}));
    let (status, page) = get(&app, LIVE_APP, &format!("token={token}&profile=standard")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(step(&page), "survey");
    assert!(
        !page.contains("cus_page"),
        "the customer travels only inside the token"
    );
    let page = post_to(
        &app,
        LIVE_APP,
        &page,
        &[("reason", "too_expensive"), ("action", "survey")],
    )
    .await;
    let page = post_to(&app, LIVE_APP, &page, &[("action", "decline")]).await;
    let page = post_to(&app, LIVE_APP, &page, &[("action", "confirm")]).await;
    assert_eq!(step(&page), "done");
    let live = app.stats(LIVE_APP, "").await;
    assert_eq!(live["totals"]["cancels"], 1, "{live}");
}

#[tokio::test]
async fn the_plain_fields_are_test_mode_only() {
    let app = spawn_app().await;
    let (status, _) = get(&app, LIVE_APP, LINK).await;
    assert_eq!(
        status, 200,
        "a plain link is a test-mode session, as anywhere"
    );
    let live = app.stats(LIVE_APP, "").await;
    assert_eq!(live["totals"]["sessions"], 0);
}

#[tokio::test]
async fn a_token_made_for_the_api_does_not_open_the_page() {
    let app = spawn_app().await;
    let token = token_with(
        LIVE_APP,
        LIVE_SECRET,
        Some(LIVE_KID),
        "cus_page",
        serde_json::json!({}),
    );
    let (status, body) = get(&app, LIVE_APP, &format!("token={token}")).await;
    assert_eq!(status, 401);
    assert!(body.contains("wrong_purpose"), "{body}");
}

#[tokio::test]
async fn an_expired_link_says_what_to_do_in_the_customers_language() {
    let app = spawn_app().await;
    let old = crate::helpers::now() - 8 * 86_400;
    let token =
        page_token(serde_json::json!({ "iat": old, "exp": old + 86_400, "locale": "zh-CN" }));
    let r = app
        .get(&format!("/cancel/{LIVE_APP}?token={token}"))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let page = r.text().await.unwrap();
    assert!(page.contains(r#"data-testid="hf-expired""#), "{page}");
    assert!(page.contains("此取消链接已过期"), "{page}");
}

#[tokio::test]
async fn errors_are_pages_in_the_browsers_language_and_no_page_may_be_framed() {
    let app = spawn_app().await;
    let r = app
        .get(&format!("/cancel/{TEST_APP}?customer=cus_1"))
        .header("accept-language", "zh-CN")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let page = r.text().await.unwrap();
    assert!(
        page.contains("此取消页面无法继续") && page.contains("(plan)"),
        "{page}"
    );
}

#[tokio::test]
async fn a_post_from_another_site_is_refused() {
    let app = spawn_app().await;
    let (_, page) = get(&app, TEST_APP, LINK).await;
    let r = app
        .post(&format!("/cancel/{TEST_APP}"))
        .header("origin", "https://evil.example")
        .form(&form_of(&page, &[("action", "continue")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    assert!(body.contains(r#"data-code="foreign_origin""#), "{body}");
}

#[tokio::test]
async fn a_post_without_the_sessions_anti_forgery_value_is_refused() {
    let app = spawn_app().await;
    let (_, page) = get(&app, TEST_APP, LINK).await;
    let mut fields: Vec<(String, String)> = form_of(&page, &[("action", "continue")])
        .into_iter()
        .filter(|(k, _)| k != "csrf")
        .collect();
    let r = app
        .post(&format!("/cancel/{TEST_APP}"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Nor does another session's value work.
    let (_, other) = get(&app, TEST_APP, LINK).await;
    let csrf = form_of(&other, &[])
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .unwrap();
    fields.push(csrf);
    let r = app
        .post(&format!("/cancel/{TEST_APP}"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    assert!(body.contains(r#"data-code="bad_csrf""#), "{body}");
}

#[tokio::test]
async fn minnesota_offers_only_after_the_cancellation_and_only_on_request() {
    let app = spawn_app().await;
    let (_, page) = get(&app, TEST_APP, &format!("{LINK}&profile=minnesota")).await;
    let page = post(
        &app,
        &page,
        &[("reason", "too_expensive"), ("action", "survey")],
    )
    .await;
    assert_eq!(step(&page), "confirm", "no offer before the cancellation");
    let page = post(&app, &page, &[("action", "confirm")]).await;
    assert_eq!(step(&page), "offer_question");
    assert!(
        !page.contains(r#"value="continue""#),
        "after the cancellation nothing reads \"Continue to cancel\""
    );
    let page = post(&app, &page, &[("action", "want")]).await;
    assert_eq!(step(&page), "offer_after_cancel");
    assert!(page.contains("25% off"), "{page}");
    let page = post(&app, &page, &[("action", "accept")]).await;
    assert!(page.contains("Thanks for staying!"), "{page}");
    let record = &audit_of(&app).await[0];
    assert_eq!(
        steps_of(record),
        [
            ("survey", true),
            ("confirm", true),
            ("offer_question", false),
            ("offer_after_cancel", false),
            ("done", false)
        ],
        "{record}"
    );
    assert_eq!(record["outcome"], "saved", "{record}");
    assert_eq!(
        record["outcome_history"][0]["outcome"], "cancelled",
        "the revoked cancellation stays in the record: {record}"
    );
}

#[tokio::test]
async fn the_page_speaks_the_browsers_language_unless_the_customer_has_one() {
    let app = spawn_app().await;
    let zh = |query: String| {
        app.get(&format!("/cancel/{TEST_APP}?{query}"))
            .header("accept-language", "zh-CN,zh;q=0.9,en;q=0.5")
            .send()
    };
    let page = zh(LINK.to_string()).await.unwrap().text().await.unwrap();
    assert!(
        page.contains(r#"lang="zh-CN""#) && page.contains("价格太高"),
        "{page}"
    );
    let page = zh(format!("{LINK}&locale=en"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"lang="en""#),
        "the customer's locale wins: {page}"
    );
}
