//! Browser tests of upgrade prompts in headless Chromium: the real widget deciding with
//! holdfast-core and rendering in its shadow root. The server is unreachable here, so the prompt
//! history comes from the `localStorage` cache alone, which is also what makes caps hold across a
//! reload.
#![cfg(target_arch = "wasm32")]
#![expect(
    clippy::unwrap_used,
    reason = "a failed unwrap is a failed browser test"
)]

use holdfast_core::config::AppConfig;
use holdfast_widget::{HOST_ID, configure, gate, outbox, usage, use_config};
use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, ShadowRoot};

wasm_bindgen_test_configure!(run_in_browser);

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
    use_config(AppConfig::default());
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

fn usage_call(id: &str, metric: &str, used: u32, limit: u32) -> Promise {
    let o = Object::new();
    set(&o, "customer", &customer(id));
    set(&o, "metric", &metric.into());
    set(&o, "used", &used.into());
    set(&o, "limit", &limit.into());
    set(&o, "period_end", &4_000_000_000u32.into());
    usage(o.into())
}

fn gate_call(id: &str, feature: &str) -> Promise {
    let o = Object::new();
    set(&o, "customer", &customer(id));
    set(&o, "feature", &feature.into());
    gate(o.into())
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
async fn each_threshold_fires_once_per_period_even_after_a_reload() {
    setup("app_once");
    assert_eq!(
        answer(usage_call("c_once", "projects", 9, 10)).await,
        ("shown".into(), "compare".into())
    );
    let text = testid("hf-prompt").unwrap().text_content().unwrap();
    assert!(
        text.contains("9 of 10 projects used") && text.contains("Team"),
        "a plan comparison: {text}"
    );
    click("hf-prompt-snooze").await;
    // A reload: a new page configures the widget again; the cached history still counts.
    let cfg = Object::new();
    set(&cfg, "endpoint", &"http://127.0.0.1:9".into());
    set(&cfg, "app", &"app_once".into());
    configure(cfg.into());
    let again = answer(usage_call("c_once", "projects", 9, 10)).await;
    assert_eq!(again.0, "suppressed");
    assert!(
        ["snoozed", "already_shown_this_period"].contains(&again.1.as_str()),
        "{again:?}"
    );
    assert!(testid("hf-prompt").is_none());
}

#[wasm_bindgen_test]
async fn only_one_prompt_is_on_screen_at_a_time() {
    setup("app_one");
    assert_eq!(
        answer(usage_call("c_one", "projects", 5, 10)).await.0,
        "shown"
    );
    assert_eq!(
        answer(usage_call("c_one", "storage", 8, 10)).await,
        ("suppressed".into(), "another_prompt_on_screen".into())
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
async fn the_third_gate_hit_offers_a_free_trial() {
    setup("app_gate");
    assert_eq!(
        answer(gate_call("c_gate", "sso")).await,
        ("suppressed".into(), "not_yet".into())
    );
    assert_eq!(
        answer(gate_call("c_gate", "sso")).await,
        ("suppressed".into(), "not_yet".into())
    );
    assert_eq!(
        answer(gate_call("c_gate", "sso")).await,
        ("shown".into(), "gate_trial".into())
    );
    let text = testid("hf-prompt").unwrap().text_content().unwrap();
    assert!(text.contains("sso") && text.contains("7 days"), "{text}");
    click("hf-prompt-trial").await;
    assert_eq!(
        outbox_types("app_gate"),
        [
            "gate_hit",
            "gate_hit",
            "gate_hit",
            "prompt_shown",
            "trial_started"
        ]
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
    assert_eq!(
        answer(usage(o.into())).await,
        ("shown".into(), "seats_team".into())
    );
    assert!(
        testid("hf-prompt-upgrade")
            .unwrap()
            .text_content()
            .unwrap()
            .contains("Team")
    );
    click("hf-prompt-dismiss").await;
}

#[wasm_bindgen_test]
async fn a_wrong_call_is_rejected_with_an_error_naming_the_field() {
    setup("app_wrong");
    let o = Object::new();
    set(&o, "customer", &customer("c_wrong"));
    let err = JsFuture::from(usage(o.into())).await.unwrap_err();
    let message = Reflect::get(&err, &"message".into())
        .unwrap()
        .as_string()
        .unwrap();
    assert_eq!(
        message,
        "Holdfast.usage: metric: expected a non-empty string"
    );
}
