//! Browser tests of the cancel flow in headless Chromium: the real widget, mounted in its shadow
//! root, driven the way a subscriber drives it. The server is deliberately unreachable here (its
//! part is covered end to end in `tests/`), so these also prove the flow never needs it to cancel.
#![cfg(target_arch = "wasm32")]
#![expect(
    clippy::unwrap_used,
    reason = "a failed unwrap is a failed browser test"
)]

use holdfast_core::config::AppConfig;
use holdfast_core::plan::{PlanInput, build};
use holdfast_core::policy::PolicyProfile;
use holdfast_widget::{HOST_ID, cancel, configure, outbox, reset_config, use_plan};
use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, KeyboardEvent, KeyboardEventInit, ShadowRoot};

wasm_bindgen_test_configure!(run_in_browser);

/// Nothing listens on port 9: every request fails at once, like a server that is down.
const UNREACHABLE: &str = "http://127.0.0.1:9";
const DAY: f64 = 86_400.0;

fn set(o: &Object, k: &str, v: &JsValue) {
    Reflect::set(o, &k.into(), v).unwrap();
}

fn setup(app: &str) {
    // What the bundle's start function does on a page: mount the shadow root.
    holdfast_widget::mount(&web_sys::window().unwrap().document().unwrap()).unwrap();
    let cfg = Object::new();
    set(&cfg, "endpoint", &UNREACHABLE.into());
    set(&cfg, "app", &app.into());
    configure(cfg.into());
}

fn customer(plan: &str, mrr: f64) -> Object {
    let now = js_sys::Date::now() / 1000.0;
    let c = Object::new();
    set(&c, "id", &"cus_test".into());
    set(&c, "plan", &plan.into());
    set(&c, "mrr_cents", &mrr.into());
    set(&c, "created_at", &(now - 200.0 * DAY).floor().into());
    set(&c, "currency", &"USD".into());
    c
}

fn options(profile: Option<&str>, locale: &str) -> Object {
    let o = Object::new();
    set(&o, "customer", &customer("pro", 4900.0));
    set(&o, "locale", &locale.into());
    set(&o, "period_end", &"2026-12-14T00:00:00Z".into());
    if let Some(p) = profile {
        set(&o, "profile", &p.into());
    }
    o
}

/// The plan the server writes for the default config and [`options`]'s customer, given to the
/// widget as JSON: the same bytes the real server sends.
fn use_default_plan(profile: Option<&str>, locale: &str) {
    let now = (js_sys::Date::now() / 1000.0) as i64;
    let mut customer = holdfast_core::Customer::new("cus_test", "pro", 4900, now - 200 * 86_400);
    customer.currency = Some("USD".into());
    let profile = profile.map(|p| {
        PolicyProfile::ALL
            .into_iter()
            .find(|x| x.as_str() == p)
            .unwrap()
    });
    let plan = build(
        &AppConfig::default(),
        &PlanInput {
            customer: &customer,
            locales: &[locale.to_string()],
            profile,
            browser_country: None,
            variants: &[],
            ledger: &[],
            now,
        },
    );
    use_plan(&serde_json::to_string(&plan).unwrap());
}

fn root() -> ShadowRoot {
    let doc = web_sys::window().unwrap().document().unwrap();
    doc.get_element_by_id(HOST_ID)
        .unwrap()
        .shadow_root()
        .unwrap()
}

fn find(selector: &str) -> Option<Element> {
    root().query_selector(selector).unwrap()
}

fn testid(id: &str) -> Option<Element> {
    find(&format!("[data-testid={id}]"))
}

/// Lets the dialog draw and timers (focus moves) run.
async fn settle() {
    for _ in 0..3 {
        let p = Promise::new(&mut |resolve, _| {
            web_sys::window()
                .unwrap()
                .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 5)
                .unwrap();
        });
        JsFuture::from(p).await.unwrap();
    }
}

async fn click(id: &str) {
    let el: HtmlElement = testid(id)
        .unwrap_or_else(|| panic!("{id} is on screen"))
        .unchecked_into();
    el.click();
    settle().await;
}

async fn choose(reason: &str) {
    click(&format!("hf-reason-{reason}")).await;
}

fn step() -> String {
    testid("hf-dialog")
        .and_then(|d| d.get_attribute("data-step"))
        .unwrap_or_default()
}

async fn key(key: &str, shift: bool) {
    let init = KeyboardEventInit::new();
    init.set_key(key);
    init.set_shift_key(shift);
    init.set_bubbles(true);
    init.set_cancelable(true);
    let ev = KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    let target = root()
        .active_element()
        .unwrap_or_else(|| testid("hf-dialog").unwrap());
    target.dispatch_event(&ev).unwrap();
    settle().await;
}

async fn outcome(p: Promise) -> JsValue {
    JsFuture::from(p).await.unwrap()
}

fn field(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

async fn close_done() {
    if testid("hf-done-close").is_some() {
        click("hf-done-close").await;
    }
    assert!(
        testid("hf-dialog").is_none(),
        "the dialog is gone after the flow"
    );
}

#[wasm_bindgen_test]
async fn survey_then_offer_then_decline_leads_to_the_confirmation_and_cancels() {
    setup("app_flow");
    use_default_plan(Some("standard"), "en");
    let p = cancel(options(Some("standard"), "en").into());
    settle().await;
    assert_eq!(step(), "survey");
    assert!(
        testid("hf-continue-cancel").is_some(),
        "continue to cancel is visible on the survey"
    );
    let dialog = testid("hf-dialog").unwrap();
    assert_eq!(dialog.get_attribute("role").as_deref(), Some("dialog"));
    assert_eq!(dialog.get_attribute("aria-modal").as_deref(), Some("true"));
    assert_eq!(
        root().active_element().map(|e| e.id()),
        Some("hf-title".into()),
        "focus moves into the dialog"
    );
    let go: web_sys::HtmlButtonElement = testid("hf-survey-continue").unwrap().unchecked_into();
    assert!(go.disabled(), "continue needs a reason");

    choose("too_expensive").await;
    let details = find(".hf-details").unwrap();
    assert!(
        !details.has_attribute("hidden"),
        "the follow-up appears once a reason is chosen"
    );
    assert_eq!(
        details.text_content().unwrap(),
        "Anything else you'd like to tell us? (optional)"
    );
    click("hf-survey-continue").await;
    assert_eq!(step(), "offer");
    let offer = testid("hf-offer").unwrap();
    assert_eq!(
        offer.get_attribute("data-offer").as_deref(),
        Some("discount_25")
    );
    let text = offer.text_content().unwrap();
    assert!(text.contains("25% off your next 3 invoices"), "{text}");
    assert!(
        text.contains("$36.75") && text.contains("$49.00"),
        "terms state the price during and after: {text}"
    );
    assert!(
        testid("hf-continue-cancel").is_some(),
        "continue to cancel is visible on the offer"
    );

    click("hf-decline").await;
    assert_eq!(
        step(),
        "confirm",
        "declining leads straight to the confirmation"
    );
    assert!(
        testid("hf-ends")
            .unwrap()
            .text_content()
            .unwrap()
            .contains("December 14, 2026")
    );
    click("hf-confirm").await;
    let o = outcome(p).await;
    assert_eq!(field(&o, "outcome"), "cancelled");
    assert_eq!(field(&o, "effective_date"), "2026-12-14");
    // The server is down: the cancellation is not recorded yet, and the subscriber is told so
    // plainly (the queued confirmation records it once it gets through), and can still close.
    assert_eq!(
        field(&o, "recorded"),
        false,
        "the host learns the server has not recorded it"
    );
    assert_eq!(
        find("#hf-title").unwrap().text_content().unwrap(),
        "Your cancellation is not confirmed yet"
    );
    assert!(
        testid("hf-notice")
            .unwrap()
            .text_content()
            .unwrap()
            .contains("as soon as we can reach the server")
    );
    close_done().await;
    reset_config();
}

#[wasm_bindgen_test]
async fn escape_is_abandoned_and_focus_returns_to_the_trigger() {
    setup("app_esc");
    use_default_plan(None, "en");
    let doc = web_sys::window().unwrap().document().unwrap();
    let trigger: HtmlElement = doc.create_element("button").unwrap().unchecked_into();
    doc.body().unwrap().append_child(&trigger).unwrap();
    trigger.focus().unwrap();
    let p = cancel(options(None, "en").into());
    settle().await;
    assert!(testid("hf-dialog").is_some());
    key("Escape", false).await;
    let o = outcome(p).await;
    assert_eq!(
        field(&o, "outcome"),
        "abandoned",
        "closing is never a cancellation"
    );
    settle().await;
    assert!(testid("hf-dialog").is_none(), "the dialog closes");
    assert_eq!(
        doc.active_element().map(JsValue::from),
        Some(JsValue::from(&trigger)),
        "focus is restored"
    );
    trigger.remove();
    reset_config();
}

#[wasm_bindgen_test]
async fn tab_wraps_around_inside_the_dialog() {
    setup("app_tab");
    use_default_plan(Some("standard"), "en");
    let p = cancel(options(Some("standard"), "en").into());
    settle().await;
    let last: HtmlElement = testid("hf-continue-cancel").unwrap().unchecked_into();
    last.focus().unwrap();
    key("Tab", false).await;
    assert_eq!(
        root()
            .active_element()
            .and_then(|e| e.get_attribute("data-testid"))
            .as_deref(),
        Some("hf-close")
    );
    key("Tab", true).await;
    assert_eq!(
        root()
            .active_element()
            .and_then(|e| e.get_attribute("data-testid"))
            .as_deref(),
        Some("hf-continue-cancel")
    );
    click("hf-close").await;
    assert_eq!(field(&outcome(p).await, "outcome"), "abandoned");
    reset_config();
}

#[wasm_bindgen_test]
async fn an_unreachable_server_falls_back_to_built_in_reasons_and_straight_to_confirmation() {
    setup("app_offline");
    reset_config();
    let p = cancel(options(None, "en").into());
    for _ in 0..50 {
        if testid("hf-dialog").is_some() {
            break;
        }
        settle().await;
    }
    assert_eq!(step(), "survey");
    assert_eq!(
        root()
            .query_selector_all("input[type=radio]")
            .unwrap()
            .length(),
        7,
        "the default reasons"
    );
    choose("too_expensive").await;
    click("hf-survey-continue").await;
    assert_eq!(step(), "confirm", "no offer without the server");
    click("hf-confirm").await;
    assert_eq!(field(&outcome(p).await, "outcome"), "cancelled");
    close_done().await;
}

#[wasm_bindgen_test]
async fn germany_skips_the_survey_uses_the_mandatory_labels_and_gives_a_receipt() {
    setup("app_de");
    use_default_plan(Some("germany"), "en");
    let p = cancel(options(Some("germany"), "en").into());
    settle().await;
    assert_eq!(step(), "confirm", "only identifying data is asked");
    assert_eq!(
        testid("hf-confirm").unwrap().text_content().as_deref(),
        Some("jetzt kündigen")
    );
    click("hf-confirm").await;
    let receipt = testid("hf-receipt")
        .expect("a receipt")
        .text_content()
        .unwrap();
    assert!(
        receipt.contains("Pro")
            && receipt.contains("Received")
            && receipt.contains("December 14, 2026"),
        "{receipt}"
    );
    assert_eq!(field(&outcome(p).await, "outcome"), "cancelled");
    close_done().await;
    reset_config();
}

#[wasm_bindgen_test]
async fn france_confirms_on_a_summary_page() {
    setup("app_fr");
    use_default_plan(Some("france"), "en");
    let p = cancel(options(Some("france"), "en").into());
    settle().await;
    click("hf-continue-cancel").await;
    assert!(testid("hf-summary").is_some());
    assert_eq!(
        testid("hf-confirm").unwrap().text_content().as_deref(),
        Some("confirmer ma demande de résiliation")
    );
    click("hf-keep").await;
    assert_eq!(field(&outcome(p).await, "outcome"), "abandoned");
    reset_config();
}

#[wasm_bindgen_test]
async fn minnesota_offers_only_after_the_cancellation_and_only_on_request() {
    setup("app_mn");
    use_default_plan(Some("minnesota"), "en");
    let p = cancel(options(Some("minnesota"), "en").into());
    settle().await;
    choose("not_using").await;
    click("hf-survey-continue").await;
    assert_eq!(step(), "confirm", "no offer before the cancellation");
    click("hf-confirm").await;
    assert_eq!(step(), "offer_question");
    assert!(
        testid("hf-continue-cancel").is_none(),
        "after the cancellation nothing reads \"Continue to cancel\""
    );
    click("hf-want-offer").await;
    assert_eq!(step(), "offer_after_cancel");
    assert!(testid("hf-continue-cancel").is_none());
    assert_eq!(
        testid("hf-offer")
            .unwrap()
            .get_attribute("data-kind")
            .as_deref(),
        Some("pause")
    );
    click("hf-decline").await;
    assert_eq!(field(&outcome(p).await, "outcome"), "cancelled");
    close_done().await;
    reset_config();
}

#[wasm_bindgen_test]
async fn accepting_without_the_server_keeps_the_subscriber_free_to_cancel() {
    setup("app_accept");
    use_default_plan(Some("california"), "en");
    let p = cancel(options(Some("california"), "en").into());
    settle().await;
    choose("too_expensive").await;
    click("hf-survey-continue").await;
    click("hf-accept").await;
    for _ in 0..20 {
        if testid("hf-notice").is_some() {
            break;
        }
        settle().await;
    }
    assert!(
        testid("hf-notice")
            .unwrap()
            .text_content()
            .unwrap()
            .contains("couldn't reach")
    );
    assert_eq!(step(), "offer", "an unconfirmed acceptance is not a save");
    assert!(
        testid("hf-decline").is_some(),
        "the cancel button stays beside the offer"
    );
    click("hf-continue-cancel").await;
    assert_eq!(step(), "confirm");
    click("hf-close").await;
    assert_eq!(field(&outcome(p).await, "outcome"), "abandoned");
    reset_config();
}

#[wasm_bindgen_test]
async fn simplified_chinese_comes_from_the_catalog() {
    setup("app_zh");
    use_default_plan(Some("standard"), "zh-CN");
    let p = cancel(options(Some("standard"), "zh-CN").into());
    settle().await;
    assert_eq!(
        find("#hf-title").unwrap().text_content().as_deref(),
        Some("您取消订阅的主要原因是什么？")
    );
    assert_eq!(
        testid("hf-dialog")
            .unwrap()
            .get_attribute("lang")
            .as_deref(),
        Some("zh-CN")
    );
    click("hf-close").await;
    assert_eq!(field(&outcome(p).await, "outcome"), "abandoned");
    reset_config();
}

#[wasm_bindgen_test]
async fn a_wrong_call_is_rejected_with_an_error_naming_the_field() {
    setup("app_bad");
    let o = Object::new();
    let c = customer("pro", 4900.0);
    set(&c, "mrr_cents", &"lots".into());
    set(&o, "customer", &c);
    let err = JsFuture::from(cancel(o.into())).await.unwrap_err();
    let message = field(&err, "message").as_string().unwrap();
    assert_eq!(
        message,
        "Holdfast.cancel: customer.mrr_cents: expected a number"
    );
    assert!(testid("hf-dialog").is_none(), "no blank dialog");
}

#[wasm_bindgen_test]
async fn the_outbox_keeps_every_event_with_a_uuid_across_a_reload() {
    setup("app_outbox");
    use_default_plan(Some("standard"), "en");
    let p = cancel(options(Some("standard"), "en").into());
    settle().await;
    choose("switching").await;
    click("hf-survey-continue").await;
    click("hf-decline").await;
    click("hf-confirm").await;
    outcome(p).await;
    close_done().await;
    let kinds = |entries: &js_sys::Array| -> Vec<String> {
        entries
            .iter()
            .map(|e| field(&field(&e, "event"), "type").as_string().unwrap())
            .collect()
    };
    let before = outbox::pending("app_outbox");
    assert_eq!(
        kinds(&before),
        [
            "flow_started",
            "reason_selected",
            "offer_shown",
            "offer_declined",
            "cancel_confirmed"
        ]
    );
    let ids: Vec<String> = before
        .iter()
        .map(|e| field(&field(&e, "event"), "id").as_string().unwrap())
        .collect();
    assert!(
        ids.iter().all(|id| id.len() == 36),
        "every event carries a UUID: {ids:?}"
    );
    // A reload: a new page configures the widget again and finds the unsent events still there.
    setup("app_outbox");
    let after = outbox::pending("app_outbox");
    assert_eq!(
        after.length(),
        before.length(),
        "nothing is lost across a reload"
    );
    reset_config();
}

#[wasm_bindgen_test]
async fn a_second_cancel_call_while_one_is_opening_is_refused_and_the_first_still_answers() {
    setup("app_twice");
    reset_config(); // the config fetch is slow to fail: both calls overlap while it loads
    let first = cancel(options(Some("standard"), "en").into());
    let second = cancel(options(Some("standard"), "en").into());
    let err = JsFuture::from(second).await.unwrap_err();
    assert_eq!(
        field(&err, "message").as_string().unwrap(),
        "Holdfast.cancel: a cancel flow is already open"
    );
    for _ in 0..50 {
        if testid("hf-dialog").is_some() {
            break;
        }
        settle().await;
    }
    assert_eq!(
        root()
            .query_selector_all("[data-testid=hf-dialog]")
            .unwrap()
            .length(),
        1
    );
    click("hf-close").await;
    assert_eq!(field(&outcome(first).await, "outcome"), "abandoned");
    settle().await;
}
