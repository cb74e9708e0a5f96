//! Browser tests: the widget mounts in a shadow root and keeps its CSS to itself.
#![cfg(target_arch = "wasm32")]
#![expect(
    clippy::unwrap_used,
    reason = "a failed unwrap is a failed browser test"
)]

use holdfast_widget::{HOST_ID, mount};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

#[wasm_bindgen_test]
async fn the_widget_mounts_inside_an_open_shadow_root_on_a_host_in_body() {
    let doc = document();
    let root = mount(&doc).unwrap();
    let host = doc
        .get_element_by_id(HOST_ID)
        .expect("the host element is appended to body");
    assert_eq!(host.parent_element().unwrap().tag_name(), "BODY");
    assert!(
        root.query_selector("[data-testid=holdfast-ready]")
            .unwrap()
            .is_some(),
        "the widget's root view renders inside the shadow root"
    );
    assert!(
        doc.query_selector("[data-testid=holdfast-ready]")
            .unwrap()
            .is_none(),
        "nothing of the widget is in the light DOM"
    );
}

#[wasm_bindgen_test]
async fn mounting_twice_keeps_one_host_and_one_view() {
    let doc = document();
    mount(&doc).unwrap();
    let root = mount(&doc).unwrap();
    assert_eq!(
        doc.query_selector_all(&format!("#{HOST_ID}"))
            .unwrap()
            .length(),
        1
    );
    assert_eq!(root.query_selector_all(".hf-root").unwrap().length(), 1);
}

#[wasm_bindgen_test]
async fn the_widget_stylesheet_stays_inside_the_shadow_root() {
    let doc = document();
    let root = mount(&doc).unwrap();
    assert_eq!(
        root.query_selector_all("style").unwrap().length(),
        1,
        "one stylesheet in the shadow root"
    );
    // A host element with a class the widget styles must not pick up the widget's styles.
    let probe: web_sys::HtmlElement = doc.create_element("div").unwrap().unchecked_into();
    probe.set_class_name("hf-root");
    doc.body().unwrap().append_child(&probe).unwrap();
    let style = web_sys::window()
        .unwrap()
        .get_computed_style(&probe)
        .unwrap()
        .unwrap();
    // `.hf-root { color: var(--hf-text) }` resolves to rgb(31, 41, 55) wherever it applies.
    assert_eq!(
        style.get_property_value("color").unwrap(),
        "rgb(0, 0, 0)",
        "the widget's CSS must not leak into the host page"
    );
    let inside = root.query_selector(".hf-root").unwrap().unwrap();
    let inner = web_sys::window()
        .unwrap()
        .get_computed_style(&inside)
        .unwrap()
        .unwrap();
    assert_eq!(
        inner.get_property_value("color").unwrap(),
        "rgb(31, 41, 55)",
        "the stylesheet applies inside"
    );
    probe.remove();
}

#[wasm_bindgen_test]
fn a_customer_round_trips_to_what_the_server_accepts() {
    let json = r#"{"id":"c1","plan":"pro","mrr_cents":4900,"created_at":1700000000,"country":"DE","attributes":{"beta":true,"seats":3}}"#;
    let wire = holdfast_widget::customer::accept(&js_sys::JSON::parse(json).unwrap(), "customer")
        .unwrap()
        .wire;
    let back = js_sys::JSON::stringify(&wire).unwrap().as_string().unwrap();
    let sent: holdfast_core::Customer = serde_json::from_str(&back).unwrap();
    let expected: holdfast_core::Customer = serde_json::from_str(json).unwrap();
    assert_eq!(sent, expected);
}

#[wasm_bindgen_test]
fn the_plan_decoder_reads_exactly_what_the_server_writes() {
    use holdfast_core::config::AppConfig;
    use holdfast_core::plan::{PlanInput, build};

    let mut config = AppConfig::default();
    config.locale.messages.insert(
        "zh-CN".into(),
        [("confirm.title".to_string(), "确认".to_string())]
            .into_iter()
            .collect(),
    );
    let customer = holdfast_core::Customer::new("cus_1", "pro", 4900, 1_700_000_000);
    for locale in ["en", "zh-CN"] {
        let locales = [locale.to_string()];
        let plan = build(
            &config,
            &PlanInput {
                customer: &customer,
                locales: &locales,
                profile: None,
                browser_country: None,
                variants: &[],
                ledger: &[],
                now: 1_790_000_000,
            },
        );
        let json = serde_json::to_string(&plan).unwrap();
        let decoded = holdfast_widget::plan::decode(&js_sys::JSON::parse(&json).unwrap())
            .unwrap_or_else(|| panic!("decodes {json}"));
        assert_eq!(decoded.texts.lang.tag, plan.locale);
        assert_eq!(decoded.texts.currency, plan.currency);
        assert_eq!(decoded.texts.overrides.len(), plan.messages.len());
        assert_eq!(decoded.profile, plan.profile);
        assert_eq!(decoded.max_offer_screens, plan.max_offer_screens);
        assert_eq!(
            (decoded.class.as_str(), decoded.style.as_str()),
            (plan.theme.class.as_str(), plan.theme.style.as_str())
        );
        assert_eq!(decoded.plan_name, plan.plan_name);
        let reasons: Vec<(String, String)> = plan
            .reasons
            .iter()
            .map(|r| (r.id.clone(), r.label.clone()))
            .collect();
        let decoded_reasons: Vec<(String, String)> = decoded
            .reasons
            .iter()
            .map(|r| (r.id.clone(), r.label.clone()))
            .collect();
        assert_eq!(decoded_reasons, reasons);
        assert_eq!(decoded.offers.len(), plan.offers.len());
        let mut links = 0;
        for ((reason, offers), expected) in decoded.offers.iter().zip(&plan.offers) {
            assert_eq!(reason, &expected.reason);
            assert_eq!(offers.len(), expected.offers.len());
            for (o, e) in offers.iter().zip(&expected.offers) {
                assert_eq!(o.id, e.id);
                assert_eq!(o.kind, e.kind.as_str());
                assert_eq!(o.lines, e.lines);
                assert_eq!(
                    o.link.as_ref().map(|l| (l.url.clone(), l.label.clone())),
                    e.link.as_ref().map(|l| (l.url.clone(), l.label.clone()))
                );
                links += usize::from(o.link.is_some());
                let terms: holdfast_core::offer::OfferTerms =
                    serde_json::from_str(&o.terms).unwrap();
                assert_eq!(terms, e.terms);
            }
        }
        assert!(
            links > 0,
            "the default config has link-type offers to check"
        );
    }
}

/// `btoa` in base64url without padding, as JWTs are written.
fn b64url(text: &str) -> String {
    web_sys::window()
        .unwrap()
        .btoa(text)
        .unwrap()
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

#[wasm_bindgen_test]
fn a_customer_token_is_sent_as_it_is_and_its_claims_are_read_for_display() {
    let claims = r#"{"sub":"cus_9","aud":"app_x","plan":"team","mrr_cents":9900,"created_at":1700000000,"locale":"zh-CN","seats_used":4,"seats_limit":5}"#;
    let token = [b64url(r#"{"alg":"HS256"}"#), b64url(claims), "sig".into()].join(".");
    let subject =
        holdfast_widget::customer::accept(&JsValue::from_str(&token), "customer").unwrap();
    let (view, wire) = (subject.view, subject.wire);
    let text = |k: &str| holdfast_widget::customer::text(&view, k);
    assert_eq!(
        wire.as_string().as_deref(),
        Some(token.as_str()),
        "sent unchanged"
    );
    assert_eq!(
        (
            text("id"),
            text("plan"),
            js_sys::Reflect::get(&view, &"seats_used".into())
                .unwrap()
                .as_f64()
        ),
        (Some("cus_9".into()), Some("team".into()), Some(4.0)),
        "the browser reads the claims for what it shows"
    );
    assert_eq!(
        holdfast_widget::customer::id_of(&wire)
            .as_string()
            .as_deref(),
        Some("cus_9"),
        "the outbox groups a token's events by its subject"
    );
    let refused = holdfast_widget::customer::accept(&JsValue::from_str("not a token"), "customer");
    assert_eq!(
        refused.err().as_deref(),
        Some("customer: expected a customer token (JWT)")
    );
}

#[wasm_bindgen_test]
fn event_ids_are_version_4_uuids_from_get_random_values() {
    let a = holdfast_widget::outbox::uuid();
    let b = holdfast_widget::outbox::uuid();
    assert_ne!(a, b);
    assert_eq!(a.len(), 36, "{a}");
    let groups: Vec<usize> = a.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{a}");
    assert_eq!(&a[14..15], "4", "version 4: {a}");
    assert!(
        matches!(&a[19..20], "8" | "9" | "a" | "b"),
        "RFC 4122 variant: {a}"
    );
}
