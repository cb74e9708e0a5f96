//! `POST /v1/apps/{app_id}/cancel-plan`: the server selects and writes the offers the dialog shows,
//! with the same inputs the acceptance re-check uses.

use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{
    LIVE_APP, ORIGIN, TEST_APP, TestApp, assert_refused, customer, json_of, refusal, signed,
    spawn_app, uuid,
};

async fn plan(app: &TestApp, app_id: &str, body: &Value) -> Response {
    app.post(&format!("/v1/apps/{app_id}/cancel-plan"))
        .header("origin", ORIGIN)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

fn offers_for<'a>(plan: &'a Value, reason: &str) -> &'a Vec<Value> {
    plan["offers"]
        .as_array()
        .and_then(|all| all.iter().find(|o| o["reason"] == reason))
        .and_then(|o| o["offers"].as_array())
        .expect("the reason has an entry")
}

#[tokio::test]
async fn the_plan_lists_the_reasons_and_writes_each_offer_out() {
    let app = spawn_app().await;
    let body = json!({ "customer": customer("cus_1"), "locales": ["en-GB"] });
    let (status, plan) = json_of(plan(&app, TEST_APP, &body).await).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["locale"], "en");
    // Nothing tells where the subscriber is: the strictest enabled profile applies.
    assert_eq!(plan["profile"], "minnesota");
    assert_eq!(plan["reasons"][0]["id"], "too_expensive");
    assert_eq!(plan["reasons"][0]["label"], "It's too expensive");
    insta::assert_json_snapshot!(offers_for(&plan, "too_expensive"));
    let last = plan["offers"].as_array().and_then(|o| o.last()).cloned();
    assert_eq!(last.map(|o| o["reason"].clone()), Some(Value::Null));
}

#[tokio::test]
async fn the_plan_speaks_chinese_and_follows_an_explicit_profile() {
    let app = spawn_app().await;
    let body = json!({
        "customer": customer("cus_1"),
        "locales": ["zh-CN", "en"],
        "profile": "germany",
    });
    let (status, plan) = json_of(plan(&app, TEST_APP, &body).await).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["locale"], "zh-CN");
    assert_eq!(plan["profile"], "germany");
    assert_eq!(plan["reasons"][0]["label"], "价格太高");
}

#[tokio::test]
async fn an_offer_redeemed_in_the_cooldown_is_no_longer_planned() {
    let app = spawn_app().await;
    let body = json!({ "customer": customer("cus_1") });
    let (_, before) = json_of(plan(&app, TEST_APP, &body).await).await;
    let first = offers_for(&before, "too_expensive")[0]["id"].clone();
    let accepted = app
        .accept(
            TEST_APP,
            &json!({
                "customer": customer("cus_1"),
                "session_id": uuid(),
                "event_id": uuid(),
                "reason": "too_expensive",
                "offer_id": first,
            }),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    let (_, after) = json_of(plan(&app, TEST_APP, &body).await).await;
    let ids: Vec<&Value> = offers_for(&after, "too_expensive")
        .iter()
        .map(|o| &o["id"])
        .collect();
    assert!(
        !ids.contains(&&first),
        "the discount is in its cooldown, so the dialog must not show it again: {ids:?}"
    );
}

#[tokio::test]
async fn a_token_with_an_edited_mrr_is_refused_and_the_signed_one_is_planned() {
    let app = spawn_app().await;
    let token = signed("cus_1");
    let body = json!({ "customer": token });
    let (status, _) = json_of(plan(&app, LIVE_APP, &body).await).await;
    assert_eq!(status, 200);
    // A subscriber edits the claims in the console: the signature no longer covers them.
    let token = token.as_str().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let claims = String::from_utf8(base64_url_decode(parts[1]))
        .unwrap()
        .replace("\"mrr_cents\":4900", "\"mrr_cents\":990000");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64_url_encode(claims.as_bytes()),
        parts[2]
    );
    let body = json!({ "customer": forged });
    let (status, body) = json_of(plan(&app, LIVE_APP, &body).await).await;
    assert_refused(status, &body, refusal(401).code("bad_signature"));
}

fn base64_url_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

fn base64_url_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((v >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn bad_fields_are_refused_naming_them() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({ "customer": customer("cus_1"), "locales": ["en", "en GB"] }),
            "locales[1]",
        ),
        (
            json!({ "customer": customer("cus_1"), "country": "Germany" }),
            "country",
        ),
        (
            json!({ "customer": customer("cus_1"), "profile": "mars" }),
            "profile",
        ),
        (json!({ "locales": [] }), "customer"),
    ];
    for (body, field) in cases {
        let (status, answer) = json_of(plan(&app, TEST_APP, &body).await).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }
    let (status, answer) = json_of(
        plan(
            &app,
            TEST_APP,
            &json!({ "customer": customer("cus_1"), "extra": 1 }),
        )
        .await,
    )
    .await;
    assert!(status == 400 || status == 422, "{answer}");
    assert_eq!(answer["error"]["field"], "extra");
}

#[tokio::test]
async fn a_foreign_origin_gets_no_plan() {
    let app = spawn_app().await;
    let response = app
        .post(&format!("/v1/apps/{TEST_APP}/cancel-plan"))
        .header("origin", "https://evil.example")
        .json(&json!({ "customer": customer("cus_1") }))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 403);
}
