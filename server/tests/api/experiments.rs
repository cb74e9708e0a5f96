//! Experiments: the list and the report. Customers are split by core's assignment; each arm's
//! units are the customers first exposed to it (an offer shown, or for the holdout the point
//! where the offer would have been), its conversions what the server recorded for them after
//! that; the numbers against the control come from core's statistics engine.

use holdfast_core::assignment::{Experiment, assign};
use holdfast_server::storage::Scope;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    TEST_APP, TestApp, assert_refused, customer, event, json_of, now, refusal, spawn_app, uuid,
};

const KEY: &str = "too_expensive_depth";

/// The default config with an experiment on the "too expensive" offer: 25% (control) against
/// 30% for three months, and a holdout that gets no offer.
fn config() -> Value {
    let mut c = serde_json::to_value(holdfast_core::config::AppConfig::default()).unwrap();
    c["offers"].as_array_mut().unwrap().push(json!({
        "id": "discount_30", "terms": { "type": "discount", "percent": 30, "months": 3 }
    }));
    c["experiments"] = json!([{
        "key": KEY,
        "variants": [
            { "key": "control", "weight": 0.45 },
            { "key": "deeper", "weight": 0.45 },
            { "key": "holdout", "weight": 0.1, "holdout": true }
        ]
    }]);
    let rules = c["rules"].as_array_mut().unwrap();
    let at = rules
        .iter()
        .position(|r| r["id"] == "too_expensive")
        .unwrap();
    rules.insert(
        at,
        json!({ "id": "too_expensive_deeper", "reasons": ["too_expensive"],
                "when": [{ "variant": { "experiment": KEY, "variant": "deeper" } }],
                "offer": "discount_30" }),
    );
    c
}

async fn report(app: &TestApp, query: &str) -> (u16, Value) {
    json_of(
        app.admin(
            Method::GET,
            TEST_APP,
            &format!("/experiments/{KEY}/report{query}"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await
}

#[tokio::test]
async fn the_report_counts_each_arms_exposed_customers_and_their_saves() {
    let app = spawn_app().await;
    let config = config();
    let r = app.put_config(TEST_APP, &config).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let experiment: Experiment = serde_json::from_value(config["experiments"][0].clone()).unwrap();

    // (units, saves) per arm, as the test made them.
    let mut expected = std::collections::BTreeMap::<String, (u64, u64)>::new();
    let t = now() * 1000 - 600_000;
    for i in 0..60 {
        // Fixed ids, so the split is the same every run: random ones fell into a sample ratio
        // mismatch now and then, which makes the verdict "unhealthy" instead.
        let id = format!("cus_x{i}");
        let variant = assign(&experiment, &id).unwrap().variant.key.clone();
        let s = uuid();
        let mut events = vec![
            event("flow_started", &s, t, json!({ "profile": "standard" })),
            event(
                "reason_selected",
                &s,
                t + 1_000,
                json!({ "reason": "too_expensive" }),
            ),
        ];
        let offer = match variant.as_str() {
            "control" => Some("discount_25"),
            "deeper" => Some("discount_30"),
            _ => None,
        };
        let saved = offer.is_some() && i % 3 != 0;
        if let Some(offer) = offer {
            events.push(event(
                "offer_shown",
                &s,
                t + 2_000,
                json!({ "offer_id": offer }),
            ));
            if saved {
                events.push(event(
                    "offer_accepted",
                    &s,
                    t + 3_000,
                    json!({ "offer_id": offer }),
                ));
            }
        }
        app.play(
            TEST_APP,
            &json!({ "customer": customer(&id), "events": events }),
        )
        .await;
        let arm = expected.entry(variant).or_default();
        arm.0 += 1;
        arm.1 += u64::from(saved);
    }

    let (status, body) = report(&app, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metric"], "save_rate");
    let arms = body["variants"].as_array().unwrap();
    let keys: Vec<&str> = arms.iter().map(|a| a["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        ["control", "deeper", "holdout"],
        "in the config's order"
    );
    for arm in arms {
        let (units, saves) = expected
            .get(arm["key"].as_str().unwrap())
            .copied()
            .unwrap_or_default();
        assert_eq!(
            (
                arm["units"].as_u64().unwrap(),
                arm["conversions"].as_u64().unwrap()
            ),
            (units, saves),
            "{arm}"
        );
    }
    assert!(
        expected["holdout"].0 > 0,
        "the seed puts some customers in the holdout"
    );
    let control = &arms[0];
    assert!(control["uplift"].is_null(), "the control is the baseline");
    let deeper = &arms[1];
    for field in [
        "uplift",
        "ci",
        "p_value",
        "chance_to_win",
        "expected_loss",
        "sequential_p_value",
        "sequential_ci",
    ] {
        assert!(
            !deeper[field].is_null(),
            "{field} against the control: {deeper}"
        );
    }
    assert_eq!(
        arms[2]["rate"],
        json!(0.0),
        "the holdout saw no offer, so saved nobody"
    );
    assert!(deeper["lift_vs_holdout"]["absolute"].as_f64().unwrap() > 0.0);
    assert_eq!(body["verdict"], "not_enough_data", "{body}");
    assert!(
        body["verdict_reason"]
            .as_str()
            .unwrap()
            .contains("150 conversions")
    );
    assert!(body["progress"].as_f64().unwrap() < 0.5);
    assert_eq!(body["multiple_exposure_rate"], json!(0.0));
    assert!(body["srm_p_value"].as_f64().is_some());

    // 30-day metrics wait for the window: today's exposures are pending.
    let (status, body) = report(&app, "?metric=retained_30d").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["pending_units"], json!(60));
    assert!(
        body["variants"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["units"] == 0)
    );
}

#[tokio::test]
async fn experiments_are_listed_and_a_report_refuses_what_it_cannot_answer() {
    let app = spawn_app().await;
    assert_eq!(app.put_config(TEST_APP, &config()).await.status(), 200);
    let (status, body) = json_of(
        app.admin(Method::GET, TEST_APP, "/experiments")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["experiments"][0]["key"], KEY);
    assert_eq!(body["experiments"][0]["status"], "running");
    assert_eq!(body["experiments"][0]["variants"][2]["holdout"], true);

    let (status, body) = json_of(
        app.admin(Method::GET, TEST_APP, "/experiments/nope/report")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(status, &body, refusal(404).code("no_such_experiment"));
    let (status, body) = report(&app, "?metric=clicks").await;
    assert_refused(status, &body, refusal(400).field("metric"));
    let (status, _) = report(&app, "?mode=live").await;
    assert_eq!(status, 403, "a test key reads test data only");
}

async fn admin_post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    json_of(
        app.admin(Method::POST, TEST_APP, path)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_running_split_is_frozen_and_shipping_writes_the_winner_in() {
    let app = spawn_app().await;
    let mut config = config();
    assert_eq!(app.put_config(TEST_APP, &config).await.status(), 200);

    // Moving weights while it runs would bias it: refused, naming the field.
    config["experiments"][0]["variants"][0]["weight"] = json!(0.35);
    config["experiments"][0]["variants"][1]["weight"] = json!(0.55);
    let (status, body) = json_of(app.put_config(TEST_APP, &config).await).await;
    assert_eq!(
        (status, &body["error"]["code"], &body["error"]["field"]),
        (
            409,
            &json!("experiment_running"),
            &json!("experiments[0].variants")
        ),
        "{body}"
    );

    // Stopped, it may change; started again, it gets a new seed.
    let (status, body) = admin_post(&app, &format!("/experiments/{KEY}/stop"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["config"]["experiments"][0]["active"], false);
    config["experiments"][0]["active"] = json!(false);
    assert_eq!(app.put_config(TEST_APP, &config).await.status(), 200);
    let (status, body) = admin_post(&app, &format!("/experiments/{KEY}/start"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let version = body["version"].as_i64().unwrap();
    assert_eq!(body["config"]["experiments"][0]["active"], true);
    assert_eq!(
        body["config"]["experiments"][0]["seed"],
        json!(format!("{KEY}@{version}")),
        "a rerun is split afresh"
    );
    assert_eq!(
        body["config"]["experiments"][0]["variants"][0]["weight"],
        json!(0.35)
    );

    // Refusals name what is wrong.
    let (status, body) = admin_post(
        &app,
        &format!("/experiments/{KEY}/ship"),
        json!({ "variant": "holdout" }),
    )
    .await;
    assert_refused(status, &body, refusal(422).field("variant"));
    let (status, body) = admin_post(
        &app,
        &format!("/experiments/{KEY}/ship"),
        json!({ "variant": "bigger" }),
    )
    .await;
    assert_refused(status, &body, refusal(422).field("variant"));
    let (status, body) = admin_post(
        &app,
        "/experiments/nope/ship",
        json!({ "variant": "deeper" }),
    )
    .await;
    assert_refused(status, &body, refusal(404).code("no_such_experiment"));

    // Shipping writes the winner's rule in for everyone, as a new config version.
    let (status, body) = admin_post(
        &app,
        &format!("/experiments/{KEY}/ship"),
        json!({ "variant": "deeper" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"].as_i64().unwrap(), version + 1);
    assert_eq!(body["config"]["experiments"], json!([]));
    let rule = body["config"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "too_expensive_deeper")
        .unwrap();
    assert!(
        rule.get("when").is_none(),
        "no variant condition left: {rule}"
    );
    // Every customer now gets the 30% offer for "too expensive".
    let plan = json_of(
        app.post(&format!("/v1/apps/{TEST_APP}/cancel-plan"))
            .header("origin", crate::helpers::ORIGIN)
            .json(&json!({ "customer": customer(&format!("cus_after_{}", uuid())) }))
            .send()
            .await
            .unwrap(),
    )
    .await
    .1;
    let offers = plan["offers"].as_array().unwrap();
    let te = offers
        .iter()
        .find(|o| o["reason"] == "too_expensive")
        .unwrap();
    assert_eq!(te["offers"][0]["id"], "discount_30", "{te}");
    // And the version before the ship can be restored.
    let (status, body) = admin_post(
        &app,
        &format!("/config/versions/{version}/restore"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["config"]["experiments"][0]["key"], KEY);
}

#[tokio::test]
async fn the_preview_says_which_variant_and_offer_and_why_and_records_nothing() {
    let app = spawn_app().await;
    let config = config();
    assert_eq!(app.put_config(TEST_APP, &config).await.status(), 200);
    let experiment: Experiment = serde_json::from_value(config["experiments"][0].clone()).unwrap();
    // A customer in the control arm, and one in the holdout.
    let in_arm = |arm: &str| {
        (0..)
            .map(|i| format!("cus_preview_{i}"))
            .find(|id| assign(&experiment, id).unwrap().variant.key == arm)
            .unwrap()
    };
    let (control, holdout) = (in_arm("control"), in_arm("holdout"));

    let (status, body) = admin_post(
        &app,
        "/preview",
        json!({ "customer": customer(&control), "reason": "too_expensive" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["variants"][0],
        json!({ "experiment": KEY, "variant": "control", "holdout": false, "sticky": false })
    );
    assert_eq!(
        (&body["rule"], &body["offers"][0]["id"]),
        (&json!("too_expensive"), &json!("discount_25"))
    );
    assert_eq!(
        body["profile"], "minnesota",
        "no place known: the strictest enabled profile"
    );
    assert_eq!(body["profile_basis"], "default");

    let (status, body) = admin_post(
        &app,
        "/preview",
        json!({ "customer": customer(&holdout), "reason": "too_expensive" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["rule"], &body["offers"]),
        (&json!("holdout"), &json!([]))
    );

    // Once the control customer accepted the discount, the cooldown leaves it out, and says so.
    let s = uuid();
    let t = now() * 1000;
    app.play(
        TEST_APP,
        &json!({ "customer": customer(&control), "events": [
            event("flow_started", &s, t, json!({})),
            event("reason_selected", &s, t + 1, json!({ "reason": "too_expensive" })),
            event("offer_shown", &s, t + 2, json!({ "offer_id": "discount_25" })),
            event("offer_accepted", &s, t + 3, json!({ "offer_id": "discount_25" })),
        ]}),
    )
    .await;
    let (status, body) = admin_post(
        &app,
        "/preview",
        json!({ "customer": customer(&control), "reason": "too_expensive" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["variants"][0]["sticky"], true,
        "exposed when the offer was shown"
    );
    assert_eq!(body["ledger"][0][0], "discount");
    assert_eq!(body["skipped"][0]["offer_id"], "discount_25", "{body}");
    assert!(
        body["skipped"][0]["why"]
            .as_str()
            .unwrap()
            .contains("recently"),
        "{body}"
    );

    let (status, body) = admin_post(
        &app,
        "/preview",
        json!({ "customer": customer(&control), "reason": "bored" }),
    )
    .await;
    assert_refused(status, &body, refusal(422).field("reason"));
    // The preview exposed nobody: the holdout customer has no exposure, so no unit.
    let (_, report) = report(&app, "").await;
    let holdout_units = report["variants"][2]["units"].as_u64().unwrap();
    assert_eq!(holdout_units, 0, "{report}");
}

#[tokio::test]
async fn the_preview_plans_from_a_draft_config_checks_it_like_a_save_and_stores_nothing() {
    let app = spawn_app().await;
    let mut config = config();
    config["experiments"] = json!([]);
    config["rules"] =
        json!([{ "id": "too_expensive", "reasons": ["too_expensive"], "offer": "discount_25" }]);
    assert_eq!(app.put_config(TEST_APP, &config).await.status(), 200);
    let mut draft = config.clone();
    draft["offers"][0]["terms"]["percent"] = json!(15);
    let (status, body) = admin_post(
        &app,
        "/preview",
        json!({ "customer": customer("cus_draft"), "reason": "too_expensive", "config": draft }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["offers"][0]["terms"]["percent"], 15,
        "the draft's terms: {body}"
    );

    // An invalid draft is refused with every problem's path, as a PUT would be.
    draft["offers"][0]["terms"]["percent"] = json!(60);
    let (status, body) = admin_post(
        &app,
        "/preview",
        json!({ "customer": customer("cus_draft"), "reason": "too_expensive", "config": draft }),
    )
    .await;
    assert_refused(status, &body, refusal(422).code("invalid_config"));
    assert_eq!(
        body["error"]["problems"][0]["path"],
        "offers[0].terms.percent"
    );

    // Nothing was stored: the live config is the one saved before.
    let live: serde_json::Value = app
        .admin(Method::GET, TEST_APP, "/config")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(live["version"], 2);
    assert_eq!(
        live["config"]["offers"][0]["terms"]["percent"],
        config["offers"][0]["terms"]["percent"]
    );
}

#[tokio::test]
async fn an_experiment_is_created_stopped_with_a_rule_per_arm_and_its_note() {
    let app = spawn_app().await;
    let body = json!({
        "key": "depth2",
        "hypothesis": "A credit keeps price-sensitive customers better than a discount.",
        "reason": "too_expensive",
        "variants": [
            { "key": "control", "weight": 0.5 },
            { "key": "credit", "weight": 0.4, "offer": "credit_20" },
            { "key": "holdout", "weight": 0.1, "holdout": true }
        ],
        "minimum_detectable_effect": 0.05
    });
    let (status, created) = admin_post(&app, "/experiments", body.clone()).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        created["config"]["experiments"][0]["active"], false,
        "created stopped"
    );
    assert_eq!(
        created["config"]["rules"][0],
        json!({ "id": "depth2__credit", "reasons": ["too_expensive"],
                "when": [{ "variant": { "experiment": "depth2", "variant": "credit" } }],
                "offer": "credit_20" }),
        "the arm's rule comes first"
    );
    let (_, list) = json_of(
        app.admin(Method::GET, TEST_APP, "/experiments")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let x = &list["experiments"][0];
    assert_eq!(
        (
            &x["status"],
            &x["primary_metric"],
            &x["minimum_detectable_effect"]
        ),
        (&json!("stopped"), &json!("net_revenue_90d"), &json!(0.05))
    );
    assert!(x["hypothesis"].as_str().unwrap().starts_with("A credit"));
    let (status, report) = json_of(
        app.admin(Method::GET, TEST_APP, "/experiments/depth2/report")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, &report["metric"]),
        (200, &json!("net_revenue_90d")),
        "the primary metric by default"
    );

    let (status, again) = admin_post(&app, "/experiments", body.clone()).await;
    assert_refused(status, &again, refusal(409).code("experiment_exists"));
    let mut bad = body.clone();
    bad["key"] = json!("depth3");
    bad["reason"] = json!("bored");
    let (status, refused) = admin_post(&app, "/experiments", bad).await;
    assert_refused(status, &refused, refusal(422).field("reason"));
    let mut bad = body.clone();
    bad["key"] = json!("depth4");
    bad["variants"][1]["offer"] = json!("free_lunch");
    let (status, refused) = admin_post(&app, "/experiments", bad).await;
    assert_eq!(
        status, 422,
        "core's validation refuses an unknown offer: {refused}"
    );
    let mut bad = body;
    bad["key"] = json!("depth5");
    bad["variants"][2]["offer"] = json!("credit_20");
    let (status, refused) = admin_post(&app, "/experiments", bad).await;
    assert_refused(status, &refused, refusal(422).field("variants[2].offer"));
}

#[tokio::test]
async fn a_session_is_credited_to_the_arm_the_customer_was_first_exposed_to_not_todays_hash() {
    let app = spawn_app().await;
    let config = config();
    assert_eq!(app.put_config(TEST_APP, &config).await.status(), 200);
    let experiment: Experiment = serde_json::from_value(config["experiments"][0].clone()).unwrap();
    // A customer the hash puts in `deeper`, whose recorded first exposure (an earlier run) is
    // `control`: the plan offers control's terms, so the session is control's.
    let id = (0..)
        .map(|i| format!("cus_sticky_{i}"))
        .find(|id| assign(&experiment, id).unwrap().variant.key == "deeper")
        .unwrap();
    app.storage
        .record_exposures(
            Scope::new(TEST_APP, false),
            &id,
            &[(KEY.to_string(), "control".to_string())],
            now() - 86_400,
        )
        .await
        .unwrap();
    let s = uuid();
    let t = now() * 1000;
    app.play(
        TEST_APP,
        &json!({ "customer": customer(&id), "events": [
            event("flow_started", &s, t, json!({})),
            event("reason_selected", &s, t + 1, json!({ "reason": "too_expensive" })),
            event("offer_shown", &s, t + 2, json!({ "offer_id": "discount_25" })),
        ]}),
    )
    .await;
    let (status, stats) = json_of(
        app.admin(Method::GET, TEST_APP, "/stats")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{stats}");
    let keys: Vec<&str> = stats["breakdowns"]["variant"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["key"].as_str())
        .collect();
    assert_eq!(keys, [format!("{KEY}:control")], "{stats}");
}
