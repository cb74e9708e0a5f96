//! The flow editor's live preview: a draft config served to the real widget on a page of its own,
//! answered as the real routes answer and recording nothing.

use holdfast_server::storage::Scope;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    TEST_APP, TestApp, assert_refused, customer, json_of, refusal, spawn_app, uuid,
};

/// The default config with the first offer (the 25% discount) at `percent`.
async fn draft(app: &TestApp, percent: i64) -> Value {
    let (_, current) = json_of(
        app.admin(Method::GET, TEST_APP, "/config")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let mut config = current["config"].clone();
    config["offers"][0]["terms"]["percent"] = json!(percent);
    config
}

/// Makes a preview page; returns its token.
async fn page(app: &TestApp, config: &Value) -> (u16, Value) {
    json_of(
        app.admin(Method::POST, TEST_APP, "/preview/page")
            .json(&json!({ "config": config }))
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_draft_runs_on_its_own_page_as_the_real_routes_answer_and_nothing_is_stored() {
    let app = spawn_app().await;
    let (status, made) = page(&app, &draft(&app, 15).await).await;
    assert_eq!(status, 201, "{made}");
    let url = made["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("/preview/") && url.ends_with('/'), "{url}");

    // The page loads the real loader against this preview, and only the dashboard may frame it.
    let r = app.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("data-endpoint=\"{}\"", url.trim_end_matches('/'))),
        "{html}"
    );

    // The plan is the draft's.
    let base = format!("{}v1/apps/{TEST_APP}", url);
    let who = customer("cus_preview");
    let (status, plan) = json_of(
        app.post(&format!("{base}/cancel-plan"))
            .json(&json!({ "customer": who, "profile": "standard" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{plan}");
    let offers = plan.to_string();
    assert!(
        offers.contains("\"percent\":15"),
        "the draft's terms: {plan}"
    );

    // Events, an acceptance and a cancellation are answered and not stored.
    let session = uuid();
    let (status, body) = json_of(
        app.post(&format!("{base}/events"))
            .json(&json!({ "customer": who, "events": [{ "id": uuid(), "type": "flow_started", "at": 1, "session_id": session }] }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, &body["accepted"]), (200, &json!(1)));
    let (status, body) = json_of(
        app.post(&format!("{base}/offers/accept"))
            .json(&json!({ "customer": who, "session_id": session, "event_id": uuid(), "reason": "too_expensive", "offer_id": "discount_25" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["outcome"], &body["offer"]["terms"]["percent"]),
        (&json!("saved"), &json!(15))
    );
    let (status, body) = json_of(
        app.post(&format!("{base}/sessions/{session}/cancel"))
            .json(&json!({ "customer": who, "reason": "too_expensive" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["effective_date"].is_string(), "{body}");

    let (status, _) = json_of(
        app.admin(Method::GET, TEST_APP, &format!("/sessions/{session}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404, "no outcome was recorded");
    let (_, log) = json_of(
        app.admin(Method::GET, TEST_APP, "/sessions?q=cus_preview")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(log["total"], 0, "no session was recorded: {log}");
}

#[tokio::test]
async fn an_invalid_draft_is_refused_like_a_save_and_an_unknown_preview_is_not_found() {
    let app = spawn_app().await;
    let (status, body) = page(&app, &draft(&app, 60).await).await;
    assert_refused(status, &body, refusal(422).code("invalid_config"));
    assert_eq!(
        body["error"]["problems"][0]["path"],
        "offers[0].terms.percent"
    );

    let r = app.get("/preview/not-a-token/").send().await.unwrap();
    assert_eq!(r.status(), 404);
    let (status, body) = json_of(
        app.post(&format!(
            "/preview/not-a-token/v1/apps/{TEST_APP}/cancel-plan"
        ))
        .json(&json!({ "customer": customer("cus_x") }))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_refused(status, &body, refusal(404).code("no_such_preview"));
}

#[tokio::test]
async fn an_acceptance_in_a_preview_is_checked_against_the_drafts_experiment_arm() {
    let app = spawn_app().await;
    // A running experiment whose arms both give the pause instead of the discount.
    let mut config = draft(&app, 25).await;
    config["experiments"] = json!([{ "key": "x", "variants": [
        { "key": "a", "weight": 0.5 }, { "key": "b", "weight": 0.5 }
    ] }]);
    let rules = config["rules"].as_array_mut().unwrap();
    for arm in ["a", "b"] {
        rules.insert(
            0,
            json!({ "id": format!("x_{arm}"), "reasons": ["too_expensive"],
                    "when": [{ "variant": { "experiment": "x", "variant": arm } }],
                    "offer": "pause_2" }),
        );
    }
    let (status, made) = page(&app, &config).await;
    assert_eq!(status, 201, "{made}");
    let base = format!("{}v1/apps/{TEST_APP}", made["url"].as_str().unwrap());
    let who = customer("cus_preview_arm");
    let accept = |offer: &str| {
        app.post(&format!("{base}/offers/accept"))
            .json(&json!({ "customer": who, "session_id": uuid(), "event_id": uuid(), "reason": "too_expensive", "offer_id": offer }))
            .send()
    };
    let (status, body) = json_of(accept("pause_2").await.unwrap()).await;
    assert_eq!(
        status, 200,
        "the arm's offer, as the plan showed it: {body}"
    );
    assert!(body["rule"].as_str().unwrap().starts_with("x_"), "{body}");
    let (status, body) = json_of(accept("discount_25").await.unwrap()).await;
    assert_refused(
        status,
        &body,
        refusal(403).code("offer_not_selected").field("offer_id"),
    );
    let exposures = app
        .storage
        .exposures(Scope::new(TEST_APP, false), "cus_preview_arm")
        .await
        .unwrap();
    assert_eq!(exposures, [], "no first exposure was recorded");
}
