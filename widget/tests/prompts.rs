//! Browser tests of upgrade prompts in headless Chromium: the real widget rendering prompt plans
//! that holdfast-core writes (as the server does), weighing them against the prompt on screen, and
//! reporting what it showed. The server is unreachable here, so every call is given its plan, as
//! the loader gives it.
#![cfg(target_arch = "wasm32")]
#![expect(
    clippy::unwrap_used,
    reason = "a failed unwrap is a failed browser test"
)]

use holdfast_core::caps::History;
use holdfast_core::config::AppConfig;
use holdfast_core::prompts::{Ask, write_plan};
use holdfast_widget::{HOST_ID, configure, outbox, prompt};
use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, KeyboardEvent, KeyboardEventInit, ShadowRoot};

wasm_bindgen_test_configure!(run_in_browser);

const NOW: i64 = 1_800_000_000;

fn set(o: &Object, k: &str, v: &JsValue) {
    Reflect::set(o, &k.into(), v).unwrap();
}

fn setup(app: &str) {
    let doc = web_sys::window().unwrap().document().unwrap();
    holdfast_widget::mount(&doc).unwrap();
    let cfg = Object::new();
    set(&cfg, "endpoint", &"http://127.0.0.1:9".into());
    set(&cfg, "app", &app.into());
    configure(cfg.into());
    web_sys::window()
        .unwrap()
        .local_storage()
        .unwrap()
        .unwrap()
        .clear()
        .unwrap();
}

fn customer(id: &str) -> Object {
    let c = Object::new();
    set(&c, "id", &id.into());
    set(&c, "plan", &"pro".into());
    set(&c, "mrr_cents", &4900.into());
    set(&c, "created_at", &1_700_000_000.into());
    c
}

/// The plan the server writes for `ask` with an empty history, as JSON parsed by the browser.
fn plan_for(ask: &Ask<'_>) -> JsValue {
    let core_customer = holdfast_core::Customer::new("c", "pro", 4900, 1_700_000_000);
    let plan = write_plan(
        &AppConfig::default(),
        &core_customer,
        ask,
        &History::default(),
        None,
        NOW,
    );
    js_sys::JSON::parse(&serde_json::to_string(&plan).unwrap()).unwrap()
}

fn usage_call(id: &str, metric: &str, used: u32, limit: u32) -> Promise {
    let o = Object::new();
    set(&o, "customer", &customer(id));
    set(&o, "metric", &metric.into());
    set(&o, "used", &used.into());
    set(&o, "limit", &limit.into());
    set(&o, "period_end", &4_000_000_000u32.into());
    let plan = plan_for(&Ask::Usage {
        metric,
        used: used.into(),
        limit: limit.into(),
        unlimited: false,
        period_end: Some(4_000_000_000),
    });
    prompt("usage".into(), o.into(), plan)
}

fn gate_call(id: &str, feature: &str, hits: u32) -> Promise {
    let o = Object::new();
    set(&o, "customer", &customer(id));
    set(&o, "feature", &feature.into());
    prompt(
        "gate".into(),
        o.into(),
        plan_for(&Ask::Gate { feature, hits }),
    )
}

fn root() -> ShadowRoot {
    let doc = web_sys::window().unwrap().document().unwrap();
    doc.get_element_by_id(HOST_ID)
        .unwrap()
        .shadow_root()
        .unwrap()
}

fn testid(id: &str) -> Option<Element> {
    root()
        .query_selector(&format!("[data-testid={id}]"))
        .unwrap()
}

async fn answer(p: Promise) -> (String, String) {
    let v = JsFuture::from(p).await.unwrap();
    let status = Reflect::get(&v, &"status".into())
        .unwrap()
        .as_string()
        .unwrap();
    let detail = if status == "shown" {
        let prompt = Reflect::get(&v, &"prompt".into()).unwrap();
        Reflect::get(&prompt, &"kind".into())
            .unwrap()
            .as_string()
            .unwrap()
    } else {
        Reflect::get(&v, &"reason".into())
            .unwrap()
            .as_string()
            .unwrap()
    };
    (status, detail)
}

async fn click(id: &str) {
    let el: HtmlElement = testid(id)
        .unwrap_or_else(|| panic!("{id} is on screen"))
        .unchecked_into();
    el.click();
    leptos::task::tick().await;
}

async fn escape_on(el: &Element) {
    let init = KeyboardEventInit::new();
    init.set_key("Escape");
    init.set_bubbles(true);
    init.set_cancelable(true);
    let ev = KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    el.dispatch_event(&ev).unwrap();
    leptos::task::tick().await;
}

fn outbox_types(app: &str) -> Vec<String> {
    outbox::pending(app)
        .iter()
        .map(|e| {
            Reflect::get(&Reflect::get(&e, &"event".into()).unwrap(), &"type".into())
                .unwrap()
                .as_string()
                .unwrap()
        })
        .collect()
}

#[wasm_bindgen_test]
async fn half_the_limit_shows_a_quiet_banner_that_never_takes_focus() {
    setup("app_banner");
    let doc = web_sys::window().unwrap().document().unwrap();
    let input: HtmlElement = doc.create_element("input").unwrap().unchecked_into();
    doc.body().unwrap().append_child(&input).unwrap();
    input.focus().unwrap();
    assert_eq!(
        answer(usage_call("c_banner", "projects", 5, 10)).await,
        ("shown".into(), "banner".into())
    );
    leptos::task::tick().await;
    let prompt = testid("hf-prompt").expect("the banner is on screen");
    assert_eq!(
        prompt.get_attribute("aria-modal"),
        None,
        "a banner is not modal"
    );
    assert_eq!(
        doc.active_element().map(JsValue::from),
        Some(JsValue::from(&input)),
        "focus stays where the user is"
    );
    let live = root()
        .get_element_by_id("hf-live")
        .unwrap()
        .text_content()
        .unwrap();
    assert!(
        live.contains("50%"),
        "the banner is announced politely: {live}"
    );
    click("hf-prompt-dismiss").await;
    assert!(testid("hf-prompt").is_none());
    assert_eq!(
        outbox_types("app_banner"),
        ["prompt_shown", "prompt_dismissed"]
    );
    input.remove();
}

#[wasm_bindgen_test]
async fn a_plan_that_says_no_shows_nothing_and_records_nothing() {
    setup("app_no");
    let o = Object::new();
    set(&o, "customer", &customer("c_no"));
    set(&o, "metric", &"projects".into());
    set(&o, "used", &3.into());
    set(&o, "limit", &10.into());
    let no = js_sys::JSON::parse(r#"{"show":false,"reason":"window"}"#).unwrap();
    assert_eq!(
        answer(prompt("usage".into(), o.into(), no)).await,
        ("suppressed".into(), "window".into())
    );
    assert!(testid("hf-prompt").is_none());
    assert!(outbox_types("app_no").is_empty());
}

#[wasm_bindgen_test]
async fn the_comparison_shows_the_numbers_and_refreshes_them_without_a_second_impression() {
    setup("app_compare");
    assert_eq!(
        answer(usage_call("c_cmp", "projects", 90, 100)).await,
        ("shown".into(), "compare".into())
    );
    leptos::task::tick().await;
    let text = testid("hf-prompt").unwrap().text_content().unwrap();
    assert!(
        text.contains("90 of 100 projects used") && text.contains("Team"),
        "a plan comparison: {text}"
    );
    // The same threshold again: the server says it was shown this period; the numbers move.
    let o = Object::new();
    set(&o, "customer", &customer("c_cmp"));
    set(&o, "metric", &"projects".into());
    set(&o, "used", &95.into());
    set(&o, "limit", &100.into());
    let no = js_sys::JSON::parse(r#"{"show":false,"reason":"already_shown_this_period"}"#).unwrap();
    assert_eq!(
        answer(prompt("usage".into(), o.into(), no)).await.0,
        "suppressed"
    );
    leptos::task::tick().await;
    let text = testid("hf-prompt").unwrap().text_content().unwrap();
    assert!(
        text.contains("95 of 100 projects used"),
        "a prompt never shows stale numbers: {text}"
    );
    // A new period: usage fell below what the prompt says, so it goes.
    let o = Object::new();
    set(&o, "customer", &customer("c_cmp"));
    set(&o, "metric", &"projects".into());
    set(&o, "used", &1.into());
    set(&o, "limit", &100.into());
    let no = js_sys::JSON::parse(r#"{"show":false,"reason":"below_threshold"}"#).unwrap();
    answer(prompt("usage".into(), o.into(), no)).await;
    assert!(testid("hf-prompt").is_none(), "the stale prompt is gone");
    assert_eq!(outbox_types("app_compare"), ["prompt_shown"]);
}

#[wasm_bindgen_test]
async fn only_an_equal_or_lower_prompt_is_held_back_by_the_one_on_screen() {
    setup("app_one");
    assert_eq!(
        answer(usage_call("c_one", "projects", 5, 10)).await.0,
        "shown"
    );
    assert_eq!(
        answer(usage_call("c_one", "storage", 8, 10)).await,
        ("suppressed".into(), "another_prompt_on_screen".into()),
        "a banner of another metric waits"
    );
    assert_eq!(
        answer(gate_call("c_one", "sso", 3)).await,
        ("shown".into(), "gate_trial".into()),
        "the subscriber's own gate hit replaces the banner"
    );
    assert_eq!(
        root()
            .query_selector_all("[data-testid=hf-prompt]")
            .unwrap()
            .length(),
        1
    );
    assert_eq!(
        answer(usage_call("c_one", "projects", 9, 10)).await,
        ("suppressed".into(), "another_prompt_on_screen".into()),
        "a comparison does not replace the caused prompt"
    );
    click("hf-prompt-dismiss").await;
    assert_eq!(
        outbox_types("app_one"),
        ["prompt_shown", "prompt_shown", "prompt_dismissed"],
        "held-back prompts are no impressions"
    );
}

#[wasm_bindgen_test]
async fn a_more_urgent_prompt_replaces_a_banner_on_screen() {
    setup("app_urgent");
    assert_eq!(
        answer(usage_call("c_urgent", "projects", 5, 10)).await.0,
        "shown"
    );
    assert_eq!(
        answer(usage_call("c_urgent", "storage", 10, 10)).await,
        ("shown".into(), "limit_reached".into())
    );
    leptos::task::tick().await;
    assert_eq!(
        testid("hf-prompt")
            .unwrap()
            .get_attribute("data-kind")
            .as_deref(),
        Some("limit_reached")
    );
    click("hf-prompt-dismiss").await;
}

#[wasm_bindgen_test]
async fn the_limit_is_a_modal_that_traps_and_restores_focus() {
    setup("app_limit");
    let doc = web_sys::window().unwrap().document().unwrap();
    let trigger: HtmlElement = doc.create_element("button").unwrap().unchecked_into();
    doc.body().unwrap().append_child(&trigger).unwrap();
    trigger.focus().unwrap();
    assert_eq!(
        answer(usage_call("c_limit", "projects", 10, 10)).await,
        ("shown".into(), "limit_reached".into())
    );
    leptos::task::tick().await;
    let dialog = testid("hf-prompt").unwrap();
    assert_eq!(dialog.get_attribute("aria-modal").as_deref(), Some("true"));
    assert_eq!(
        root().active_element().map(|e| e.id()).as_deref(),
        Some("hf-prompt-title"),
        "focus moves into the modal"
    );
    assert!(
        testid("hf-prompt-grace")
            .unwrap()
            .text_content()
            .unwrap()
            .contains("3 more days")
    );
    click("hf-prompt-upgrade").await;
    assert!(testid("hf-prompt").is_none());
    assert_eq!(
        doc.active_element().map(JsValue::from),
        Some(JsValue::from(&trigger)),
        "focus returns to the trigger"
    );
    assert_eq!(
        outbox_types("app_limit"),
        ["prompt_shown", "prompt_clicked"]
    );
    trigger.remove();
}

#[wasm_bindgen_test]
async fn escape_dismisses_a_modal_prompt_but_never_a_banner() {
    setup("app_escape");
    assert_eq!(
        answer(usage_call("c_escape", "projects", 5, 10)).await,
        ("shown".into(), "banner".into())
    );
    leptos::task::tick().await;
    escape_on(&testid("hf-prompt").unwrap()).await;
    assert!(
        testid("hf-prompt").is_some(),
        "a banner is not modal: Escape leaves it"
    );
    assert_eq!(
        answer(usage_call("c_escape", "projects", 10, 10)).await,
        ("shown".into(), "limit_reached".into())
    );
    leptos::task::tick().await;
    escape_on(&root().active_element().expect("focus is in the modal")).await;
    assert!(testid("hf-prompt").is_none(), "Escape dismisses a modal");
    assert_eq!(
        outbox_types("app_escape"),
        ["prompt_shown", "prompt_shown", "prompt_dismissed"]
    );
}

#[wasm_bindgen_test]
async fn the_gate_plan_offers_a_free_trial() {
    setup("app_gate");
    assert_eq!(
        answer(gate_call("c_gate", "sso", 3)).await,
        ("shown".into(), "gate_trial".into())
    );
    let text = testid("hf-prompt").unwrap().text_content().unwrap();
    assert!(text.contains("sso") && text.contains("7 days"), "{text}");
    click("hf-prompt-trial").await;
    assert_eq!(
        outbox_types("app_gate"),
        ["prompt_shown", "trial_started"],
        "the gate hits are the server's (the plan records them)"
    );
}

#[wasm_bindgen_test]
async fn seats_at_eighty_percent_suggest_the_team_plan() {
    setup("app_seats");
    let c = customer("c_seats");
    set(&c, "seats_used", &4.into());
    set(&c, "seats_limit", &5.into());
    let o = Object::new();
    set(&o, "customer", &c);
    set(&o, "metric", &"seats".into());
    let plan = plan_for(&Ask::Seats {
        used: 4,
        limit: 5,
        invites: 0,
    });
    assert_eq!(
        answer(prompt("usage".into(), o.into(), plan)).await,
        ("shown".into(), "seats_team".into())
    );
    let text = testid("hf-prompt").unwrap().text_content().unwrap();
    assert!(text.contains("4 of 5 seats"), "{text}");
    assert!(
        testid("hf-prompt-upgrade")
            .unwrap()
            .text_content()
            .unwrap()
            .contains("Team")
    );
    click("hf-prompt-dismiss").await;
}

/// The server checks a call (the loader's plan request rejects a wrong one with the server's
/// message, tested end to end); the bundle refuses a plan it cannot read, never half-shows one.
#[wasm_bindgen_test]
async fn a_plan_the_bundle_cannot_read_is_rejected_and_shows_nothing() {
    setup("app_unreadable");
    let plan = plan_for(&Ask::Usage {
        metric: "projects",
        used: 10,
        limit: 10,
        unlimited: false,
        period_end: Some(4_000_000_000),
    });
    let planned = Reflect::get(&plan, &"prompt".into()).unwrap();
    Reflect::delete_property(planned.unchecked_ref::<Object>(), &"title".into()).unwrap();
    let o = Object::new();
    set(&o, "customer", &customer("c_unreadable"));
    set(&o, "metric", &"projects".into());
    set(&o, "used", &10.into());
    set(&o, "limit", &10.into());
    let err = JsFuture::from(prompt("usage".into(), o.into(), plan))
        .await
        .unwrap_err();
    let message = Reflect::get(&err, &"message".into())
        .unwrap()
        .as_string()
        .unwrap();
    assert_eq!(
        message,
        "Holdfast.usage: the server's plan could not be read"
    );
    assert!(testid("hf-prompt").is_none());
    assert!(outbox_types("app_unreadable").is_empty());
}
