//! `GET|POST /cancel/{app_id}`: the cancel flow as plain HTML forms, no JavaScript.
//!
//! Cancelling must never depend on WebAssembly loading, so a host also links to this page (from
//! an email, a help article, or as the fallback of its "Cancel subscription" button):
//! `/cancel/app_x?token=JWT`, a customer token with `"purpose": "cancel_page"` (in test mode also
//! the plain fields, `?customer=ID&plan=pro&mrr_cents=4900&created_at=1700000000`). It runs
//! the same flow as the widget: `holdfast-core`'s state machine and policy profile, the offers
//! the server plans for this customer, the acceptance re-check, and the same events, so its
//! sessions count in the stats like any other. The flow's state travels in hidden fields: the
//! session id and the events so far, replayed into a fresh [`Flow`] on every request. Every post
//! carries an anti-forgery value bound to the session and the customer (an HMAC under the app's
//! signing secret), and a post from another site's `Origin` is refused, so no page elsewhere can
//! submit these forms for a subscriber.

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use holdfast_core::Customer;
use holdfast_core::calendar::iso_day;
use holdfast_core::events::EventType;
use holdfast_core::flow::{Action, Flow, Step, offers_available};
use holdfast_core::i18n::{DIALOG, Lang, PAGE, expand_tokens};
use holdfast_core::plan::{CancelPlan, PlanOffer};
use holdfast_core::policy::{PolicyProfile, PolicyRules};
use holdfast_core::screen::{Act, Block, Notice, OfferCard, Screen, ScreenInput, Words};
use serde_json::{Value, json};

use crate::AppState;
use crate::cancel::write_plan;
use crate::customers::{self, CustomerInput, Expiry, VerifiedCustomer};
use crate::error::ApiError;

/// The link's and the forms' fields.
#[derive(Debug)]
struct PageForm {
    /// A customer token (`purpose: cancel_page`); instead of the plain fields below.
    token: Option<String>,
    customer: Option<String>,
    plan: Option<String>,
    mrr_cents: Option<i64>,
    created_at: Option<i64>,
    country: Option<String>,
    region: Option<String>,
    locale: Option<String>,
    currency: Option<String>,
    profile: Option<PolicyProfile>,
    /// When the paid period ends (Unix seconds), for an honest "ends on".
    period_end: Option<i64>,
    /// The session, once the first form is sent.
    session: Option<String>,
    /// The flow's events so far (see [`code`]).
    history: Option<String>,
    reason: Option<String>,
    details: Option<String>,
    action: Option<String>,
    /// The anti-forgery value of a post.
    csrf: Option<String>,
}

/// Every field a link or form may carry.
const FIELDS: [&str; 17] = [
    "token",
    "csrf",
    "customer",
    "plan",
    "mrr_cents",
    "created_at",
    "country",
    "region",
    "locale",
    "currency",
    "profile",
    "period_end",
    "session",
    "history",
    "reason",
    "details",
    "action",
];

impl PageForm {
    /// Reads a form body (a post) or a link's query (a get): urlencoded pairs, then the fields.
    fn read(urlencoded: &[u8]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(urlencoded)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_form", e.to_string()))?;
        Self::from_pairs(&pairs)
    }

    /// Reads the fields, naming the one that is missing, unknown or not a number.
    fn from_pairs(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        if let Some((k, _)) = pairs.iter().find(|(k, _)| !FIELDS.contains(&k.as_str())) {
            return Err(ApiError::invalid(k.as_str(), "unknown field"));
        }
        let text = |k: &str| {
            pairs
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.clone())
        };
        let number = |k: &'static str| -> Result<Option<i64>, ApiError> {
            text(k)
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse()
                        .map_err(|_| ApiError::invalid(k, "expected a whole number"))
                })
                .transpose()
        };
        let profile = match text("profile").filter(|p| !p.is_empty()) {
            Some(p) => Some(
                p.parse::<PolicyProfile>()
                    .map_err(|e| ApiError::invalid("profile", e.to_string()))?,
            ),
            None => None,
        };
        Ok(Self {
            token: text("token").filter(|t| !t.is_empty()),
            csrf: text("csrf"),
            customer: text("customer"),
            plan: text("plan"),
            mrr_cents: number("mrr_cents")?,
            created_at: number("created_at")?,
            country: text("country"),
            region: text("region"),
            locale: text("locale"),
            currency: text("currency"),
            profile,
            period_end: number("period_end")?
                .map(|end| {
                    if customers::period_end_ok(end, crate::clock::now()) {
                        Ok(end)
                    } else {
                        Err(ApiError::invalid(
                            "period_end",
                            "Unix seconds, not negative and at most ten years ahead",
                        ))
                    }
                })
                .transpose()?,
            session: text("session"),
            history: text("history"),
            reason: text("reason"),
            details: text("details"),
            action: text("action"),
        })
    }
}

/// The form `action` of the "Continue to cancel" control, which is not one of a step's buttons.
const CONTINUE: &str = "continue";

/// The largest form accepted.
const FORM_LIMIT: usize = 16 * 1024;

/// Serves the cancel page: the first step on `GET`, the next one for each form `POST`.
pub async fn page(State(state): State<AppState>, req: Request) -> Response {
    let languages = accepted_languages(&req);
    let mut response = match run(state, req).await {
        Ok(page) => page,
        Err(e) => error_page(&languages, &e),
    };
    // Nothing on this page runs script or loads from elsewhere; its forms post to itself, and it
    // is never framed (no clickjacking of the cancel button).
    response.headers_mut().insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

/// The browser's languages, in its order of preference.
fn accepted_languages(req: &Request) -> Vec<String> {
    req.headers()
        .get("accept-language")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(',')
        .filter_map(|l| l.split(';').next().map(str::trim))
        .filter(|l| !l.is_empty() && *l != "*" && l.len() <= 35)
        .take(8)
        .map(str::to_string)
        .collect()
}

/// A refusal as a page a subscriber can read, in their language, with the reason (the API's
/// code, message and field) for support; the status stays the API's.
fn error_page(languages: &[String], e: &ApiError) -> Response {
    if e.status().is_server_error() {
        tracing::error!(error = ?e, "the cancel page failed");
    }
    let reason = match e.field_name() {
        Some(field) => format!("{} ({field})", e.code()),
        None => e.code().to_string(),
    };
    let code = format!(r#" data-code="{}""#, esc(e.code()));
    let after = format!("<p><code>{}</code></p>", esc(&reason));
    message_page(
        languages,
        e.status(),
        ("hf-error", &code),
        "page.error",
        &after,
    )
}

/// A page with one message of core's `PAGE` catalog (`{key}.title`, `{key}.body`) in the
/// browser's language: a test id and attributes for `main`, and content after the message.
fn message_page(
    languages: &[String],
    status: StatusCode,
    (testid, attributes): (&str, &str),
    key: &str,
    after: &str,
) -> Response {
    let lang = Lang::resolve(languages, std::iter::empty());
    let text = |part: &str| {
        lang.builtin(PAGE, &[key, ".", part].concat())
            .unwrap_or_default()
    };
    let (title, body) = (text("title"), text("body"));
    let html = format!(
        r#"<!doctype html><html lang="{tag}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title><style>{css}</style></head><body><main class="hf-dialog" data-testid="{testid}"{attributes}><h2>{title}</h2><p>{body}</p>{after}</main></body></html>"#,
        tag = esc(&lang.tag),
        css = PAGE_CSS,
    );
    (status, Html(html)).into_response()
}

async fn run(state: AppState, req: Request) -> Result<Response, ApiError> {
    let admitted = crate::apps::admit_page(&state, &req);
    let query = req.uri().query().unwrap_or_default().to_string();
    let foreign = foreign_origin(&req);
    // The browser's languages, in its order of preference, after the customer's own locale.
    let languages = accepted_languages(&req);
    let post = req.method() == Method::POST;
    if post && let Some(origin) = foreign {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "foreign_origin",
            format!("the cancel page's forms are posted from its own site, not {origin}"),
        )
        .field("origin"));
    }
    let body = to_bytes(req.into_body(), FORM_LIMIT).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the form is too large",
        )
    })?;
    let app = admitted.await?;
    let form = PageForm::read(if post { &body } else { query.as_bytes() })?;

    let input = match &form.token {
        Some(token) => CustomerInput::Token(token.clone()),
        None => {
            let required = |k: &'static str, v: Option<String>| {
                v.filter(|v| !v.is_empty())
                    .ok_or_else(|| ApiError::invalid(k, "required (or a customer `token`)"))
            };
            let mut customer = Customer::new(
                required("customer", form.customer.clone())?,
                required("plan", form.plan.clone())?,
                form.mrr_cents
                    .ok_or_else(|| ApiError::invalid("mrr_cents", "required"))?,
                form.created_at
                    .ok_or_else(|| ApiError::invalid("created_at", "required"))?,
            );
            customer.country.clone_from(&form.country);
            customer.region.clone_from(&form.region);
            customer.locale.clone_from(&form.locale);
            customer.currency.clone_from(&form.currency);
            CustomerInput::Object(Box::new(customer))
        }
    };
    let now = crate::clock::now();
    let verified = match customers::verify(&app, &input, now, Expiry::Strict) {
        Ok(v) => v,
        Err(e) if e.code() == "token_expired" => {
            // The expired token's locale picks the page's language (only that: nothing else of an
            // unverified token is used).
            #[derive(serde::Deserialize)]
            struct Locale {
                locale: Option<String>,
            }
            let locale = form
                .token
                .as_deref()
                .and_then(|t| jsonwebtoken::dangerous::insecure_decode::<Locale>(t).ok())
                .and_then(|d| d.claims.locale);
            let wanted: Vec<String> = locale.into_iter().chain(languages).collect();
            return Ok(expired_page(&wanted));
        }
        Err(e) => return Err(e),
    };
    if form.token.is_some() && verified.purpose.as_deref() != Some("cancel_page") {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong_purpose",
            "the cancel page's link needs a customer token with \"purpose\": \"cancel_page\"",
        )
        .field("token"));
    }
    let customer = verified.customer.clone();
    // A token's period end is signed; the plain fields are test mode's.
    let period_end = if form.token.is_some() {
        verified.period_end
    } else {
        form.period_end
    };
    let locale = customer.locale.clone();
    // The customer's locale first, then the browser's.
    let locales: Vec<String> = locale.into_iter().chain(languages).collect();

    let plan = write_plan(&state, &app, &verified, &locales, form.profile, None).await?;
    let rules = plan.profile.rules(plan.max_offer_screens);
    let session = match form.session.as_deref() {
        Some(s) => crate::extract::uuid_field(|| "session".into(), s)?,
        None => uuid::Uuid::new_v4().to_string(),
    };
    let csrf = anti_forgery(&app, &verified, &session)?;
    if post && !form.csrf.as_deref().is_some_and(|c| ct_eq(c, &csrf)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "bad_csrf",
            "this form was not sent by the cancel page it came from: open the link again",
        )
        .field("csrf"));
    }
    let (mut flow, mut history) = replay(form.history.as_deref(), rules)?;
    let reason = form.reason.clone().filter(|r| !r.is_empty());
    let offers = plan.offers_for(reason.as_deref()).to_vec();
    let on_screen = flow
        .step()
        .offer_index()
        .and_then(|i| offers.get(i))
        .cloned();
    let recorder = Recorder {
        state: &state,
        app: &app,
        verified: &verified,
        session: &session,
    };
    let mut notice = None;
    // What the posted button asked for (core's names; "Continue to cancel" is the page's own).
    let act = form.action.as_deref().and_then(Act::from_name);
    if post {
        if history.is_empty() {
            recorder
                .event(
                    EventType::FlowStarted,
                    json!({ "profile": plan.profile, "locale": plan.locale }),
                )
                .await?;
        }
        let action = form.action.as_deref().unwrap_or_default();
        let event = match act {
            _ if action == CONTINUE => Some(Action::ContinueToCancel),
            Some(Act::Submit) => {
                let available = offers_available(offers.len());
                if let Some(r) = &reason {
                    let text = form.details.as_deref().unwrap_or_default().trim();
                    let text = (!text.is_empty()).then_some(text);
                    recorder
                        .event(
                            EventType::ReasonSelected,
                            json!({ "reason": r, "free_text": text }),
                        )
                        .await?;
                    Some(Action::ReasonChosen {
                        offers_available: available,
                    })
                } else {
                    Some(Action::SurveySkipped {
                        offers_available: available,
                    })
                }
            }
            Some(Act::Accept) => match &on_screen {
                Some(offer) => {
                    let save = crate::cancel::SaveRequest {
                        session_id: session.clone(),
                        event_id: uuid::Uuid::new_v4().to_string(),
                        reason: reason.clone(),
                        offer_id: offer.id.clone(),
                    };
                    match crate::cancel::record_save(&state, &app, &verified, &save).await {
                        Ok(_) => {
                            recorder
                                .event(EventType::OfferAccepted, json!({ "offer_id": offer.id }))
                                .await?;
                            Some(Action::OfferAccepted)
                        }
                        Err(e)
                            if matches!(
                                e.status(),
                                StatusCode::FORBIDDEN | StatusCode::CONFLICT
                            ) =>
                        {
                            notice = Some(Notice::OfferRefused);
                            Some(Action::OfferDeclined)
                        }
                        Err(e) => return Err(e),
                    }
                }
                None => None,
            },
            Some(Act::Decline) => {
                if let Some(offer) = &on_screen {
                    recorder
                        .event(EventType::OfferDeclined, json!({ "offer_id": offer.id }))
                        .await?;
                }
                Some(Action::OfferDeclined)
            }
            Some(Act::Confirm) => {
                let cancel = crate::cancel::CancelRequest {
                    session_id: session.clone(),
                    reason: reason.clone(),
                    profile: form.profile,
                    period_end: form.token.is_none().then_some(period_end).flatten(),
                };
                crate::cancel::record_cancel(&state, &app, &verified, &cancel).await?;
                recorder
                    .event(EventType::CancelConfirmed, json!({}))
                    .await?;
                Some(Action::CancelConfirmed)
            }
            Some(Act::Keep) => {
                recorder.event(EventType::FlowAbandoned, json!({})).await?;
                Some(Action::Closed)
            }
            Some(Act::WantOffer) => Some(Action::WantsOffer),
            Some(Act::NoOffer) => Some(Action::NoOfferThanks),
            // A page cannot close itself, so it never offers `close`.
            Some(Act::Close) | None => {
                return Err(ApiError::invalid(
                    "action",
                    format!("unknown action {action:?}"),
                ));
            }
        };
        if let Some(event) = event {
            let before = flow.history().len();
            flow.next(event);
            if flow.history().len() > before {
                history.push(code(event));
            }
        }
        let shown = flow.step().offer_index().and_then(|i| offers.get(i));
        if let Some(offer) = shown
            && act != Some(Act::Accept)
        {
            recorder
                .event(EventType::OfferShown, json!({ "offer_id": offer.id }))
                .await?;
        }
    }
    let view = View {
        plan: &plan,
        lang: Lang::resolve(
            std::slice::from_ref(&plan.locale),
            std::iter::once(plan.locale.as_str()),
        ),
        form: &form,
        csrf: &csrf,
        session: &session,
        history: history.join(","),
        reason: reason.as_deref(),
        period_end,
        now,
    };
    Ok(Html(view.render(&flow, &offers, notice)).into_response())
}

/// The `Origin` of a request when it is another site's: its host differs from the `Host` the
/// request was sent to (or it is `null`, as from a sandboxed frame).
fn foreign_origin(req: &Request) -> Option<String> {
    let origin = req.headers().get("origin")?.to_str().unwrap_or("null");
    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'));
    (origin_host != Some(host) || host.is_empty()).then(|| origin.to_string())
}

/// The anti-forgery value of a session's forms: an HMAC, under the app's signing secret of the
/// customer's mode, of the app, the session and the customer, so a value from one session or
/// customer is worthless in another, and only this server can make one.
fn anti_forgery(
    app: &crate::apps::LoadedApp,
    verified: &VerifiedCustomer,
    session: &str,
) -> Result<String, ApiError> {
    use hmac::{Hmac, Mac};
    let now = crate::clock::now();
    let secret = app
        .signing
        .iter()
        .filter(|s| s.valid_at(now))
        .find(|s| s.mode == verified.mode)
        .or_else(|| app.signing.iter().find(|s| s.valid_at(now)))
        .ok_or_else(|| anyhow::anyhow!("app {} has no signing secret", app.record.id))?;
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.secret.as_bytes())
        .map_err(anyhow::Error::from)?;
    for part in [
        "cancel_page",
        &app.record.id,
        session,
        &verified.customer.id,
    ] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    Ok(hex::encode(mac.finalize().into_bytes()))
}

fn ct_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The page an expired link opens: what happened and what to do, in the browser's language.
fn expired_page(languages: &[String]) -> Response {
    message_page(
        languages,
        StatusCode::UNAUTHORIZED,
        ("hf-expired", ""),
        "link.expired",
        "",
    )
}

/// A flow event as it travels in the `history` field.
fn code(event: Action) -> String {
    match event {
        Action::ReasonChosen { offers_available } => ["r", &offers_available.to_string()].concat(),
        Action::SurveySkipped { offers_available } => ["s", &offers_available.to_string()].concat(),
        Action::OfferAccepted => "a".into(),
        Action::OfferDeclined => "d".into(),
        Action::ContinueToCancel => "c".into(),
        Action::CancelConfirmed => "k".into(),
        Action::WantsOffer => "w".into(),
        Action::NoOfferThanks => "n".into(),
        Action::Closed => "x".into(),
    }
}

/// A fresh flow with the `history` field's events replayed into it, and their codes.
fn replay(history: Option<&str>, rules: PolicyRules) -> Result<(Flow, Vec<String>), ApiError> {
    let mut flow = Flow::new(rules);
    let mut replayed = Vec::new();
    for code in history
        .unwrap_or_default()
        .split(',')
        .filter(|c| !c.is_empty())
    {
        let event = event(code).ok_or_else(|| ApiError::invalid("history", "not a flow event"))?;
        flow.next(event);
        replayed.push(code.to_string());
    }
    Ok((flow, replayed))
}

/// What the fuzz targets run of the page (see `crate::fuzzing`): a form read as a post's body,
/// its session checked and its history replayed under the form's profile, as [`page`] does
/// before anything is stored.
pub(crate) fn read_form_and_replay(urlencoded: &[u8]) -> Result<Step, ApiError> {
    let form = PageForm::read(urlencoded)?;
    if let Some(s) = form.session.as_deref() {
        crate::extract::uuid_field(|| "session".into(), s)?;
    }
    let profile = form.profile.unwrap_or(PolicyProfile::Standard);
    let (flow, _) = replay(form.history.as_deref(), profile.rules(2))?;
    Ok(*flow.step())
}

fn event(code: &str) -> Option<Action> {
    let count = || code.get(1..)?.parse::<u8>().ok().filter(|n| *n <= 2);
    Some(match code.get(..1)? {
        "r" => Action::ReasonChosen {
            offers_available: count()?,
        },
        "s" => Action::SurveySkipped {
            offers_available: count()?,
        },
        "a" => Action::OfferAccepted,
        "d" => Action::OfferDeclined,
        "c" => Action::ContinueToCancel,
        "k" => Action::CancelConfirmed,
        "w" => Action::WantsOffer,
        "n" => Action::NoOfferThanks,
        "x" => Action::Closed,
        _ => return None,
    })
}

/// Records the page's events through the same path as the widget's.
struct Recorder<'a> {
    state: &'a AppState,
    app: &'a std::sync::Arc<crate::apps::LoadedApp>,
    verified: &'a VerifiedCustomer,
    session: &'a str,
}

impl Recorder<'_> {
    async fn event(&self, kind: EventType, mut fields: Value) -> Result<(), ApiError> {
        if let Some(f) = fields.as_object_mut() {
            f.retain(|_, v| !v.is_null());
            f.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
            f.insert("type".into(), json!(kind.as_str()));
            f.insert("at".into(), json!(crate::clock::now_ms()));
            f.insert("session_id".into(), json!(self.session));
        }
        let event: crate::funnel::Event =
            serde_json::from_value(fields).map_err(anyhow::Error::from)?;
        crate::funnel::record(self.state, self.app, self.verified, &[event]).await?;
        Ok(())
    }
}

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One response of the page: core's [`Screen`] for the flow's step, drawn as an HTML form.
struct View<'a> {
    plan: &'a CancelPlan,
    lang: Lang,
    form: &'a PageForm,
    /// The session's anti-forgery value, for the hidden field.
    csrf: &'a str,
    session: &'a str,
    history: String,
    reason: Option<&'a str>,
    period_end: Option<i64>,
    now: i64,
}

/// The page's words: the app's strings, ISO dates (the page has no `Intl`; ISO dates read the same
/// everywhere) and amounts spelled as `36.75 USD`.
impl Words for View<'_> {
    fn text(&self, key: &str) -> String {
        self.plan
            .messages
            .get(key)
            .map(String::as_str)
            .or_else(|| self.lang.builtin(DIALOG, key))
            .unwrap_or(key)
            .to_string()
    }

    fn date(&self, at: i64) -> String {
        iso_day(at)
    }

    fn expand(&self, text: &str) -> String {
        let currency = &self.plan.currency;
        let money = |n: i64| format!("{}.{:02} {currency}", n / 100, (n % 100).abs());
        expand_tokens(text, &money, &iso_day)
    }
}

impl View<'_> {
    /// A submit button posting `action` (also its test id, `hf-{action}`).
    fn button(&self, action: &str, label: &str, class: &str) -> String {
        format!(
            r#"<button class="hf-btn {class}" type="submit" name="action" value="{action}" data-testid="hf-{action}">{}</button>"#,
            esc(label)
        )
    }

    /// A paragraph with a test id, which is also its class.
    fn para(testid: &str, line: &str) -> String {
        format!(
            r#"<p class="{testid}" data-testid="{testid}">{}</p>"#,
            esc(line)
        )
    }

    /// A heading line, then details.
    fn list(testid: &str, lines: &[String]) -> String {
        let mut html = format!(r#"<dl class="hf-summary" data-testid="{testid}">"#);
        for (i, line) in lines.iter().enumerate() {
            let tag = if i == 0 { "dt" } else { "dd" };
            html.push_str(&format!("<{tag}>{}</{tag}>", esc(line)));
        }
        html.push_str("</dl>");
        html
    }

    /// One block of core's screen description as HTML.
    fn block(title: &str, block: &Block<'_>) -> String {
        match block {
            Block::Notice(line) => format!(
                r#"<p class="hf-notice" data-testid="hf-notice" role="alert">{}</p>"#,
                esc(line)
            ),
            Block::Ends(line) => Self::para("hf-ends", line),
            Block::Text(line) => format!("<p>{}</p>", esc(line)),
            Block::Terms(lines) => lines
                .iter()
                .map(|line| Self::para("hf-saved-terms", line))
                .collect(),
            Block::Summary(lines) => Self::list("hf-summary", lines),
            Block::Receipt(lines) => Self::list("hf-receipt", lines),
            // A fieldset, named by the step's question, is the form's own radio group.
            Block::Reasons(reasons) => {
                let mut html = format!(
                    r#"<fieldset class="hf-reasons"><legend class="hf-sr">{}</legend>"#,
                    esc(title)
                );
                for r in *reasons {
                    html.push_str(&format!(
                        r#"<label class="hf-reason"><input type="radio" name="reason" value="{}" data-testid="hf-reason-{}"> <span>{}</span></label>"#,
                        esc(&r.id),
                        esc(&r.id),
                        esc(&r.label)
                    ));
                }
                html.push_str("</fieldset>");
                html
            }
            // Always shown: without script it cannot appear once a reason is picked.
            Block::Details(label) => format!(
                r#"<label class="hf-details"><span>{}</span><textarea name="details" maxlength="2000" rows="3"></textarea></label>"#,
                esc(label)
            ),
            Block::Offer { card, lines } => {
                let mut html = format!(
                    r#"<div class="hf-offer" data-testid="hf-offer" data-offer="{}" data-kind="{}">"#,
                    esc(card.id),
                    esc(card.kind)
                );
                for (i, line) in lines.iter().enumerate() {
                    let class = if i == 0 { "hf-offer-head" } else { "hf-terms" };
                    html.push_str(&format!(r#"<p class="{class}">{}</p>"#, esc(line)));
                }
                if let Some(link) = card.link {
                    html.push_str(&format!(
                        r#"<a class="hf-link" href="{}" rel="noopener noreferrer">{}</a>"#,
                        esc(&link.url),
                        esc(&link.label)
                    ));
                }
                html.push_str("</div>");
                html
            }
        }
    }

    fn render(&self, flow: &Flow, offers: &[PlanOffer], notice: Option<Notice>) -> String {
        let step = *flow.step();
        let cards: Vec<OfferCard<'_>> = offers.iter().map(OfferCard::from).collect();
        let input = ScreenInput {
            offers: &cards,
            reasons: &self.plan.reasons,
            plan_name: &self.plan.plan_name,
            period_end: self.period_end,
            now: self.now,
            notice,
        };
        let screen = Screen::describe(flow, &input, self);
        let title = screen.title;
        let mut body: String = screen
            .blocks
            .iter()
            .map(|b| Self::block(&title, b))
            .collect();
        // A page cannot close itself: a finished flow's page simply stays.
        let actions: String = screen
            .buttons
            .iter()
            .filter(|b| b.act != Act::Close)
            .map(|b| self.button(b.act.as_str(), &b.label, b.emphasis.class()))
            .collect();
        if !actions.is_empty() {
            body.push_str(&format!(r#"<div class="hf-actions">{actions}</div>"#));
        }
        let open = !step.is_done();
        let continue_control = if flow.continue_control_shown() {
            self.button(CONTINUE, &self.text("cancel.continue"), "hf-continue")
        } else {
            String::new()
        };
        let f = self.form;
        let mut hidden = String::new();
        let fields = [
            ("token", f.token.clone()),
            ("csrf", Some(self.csrf.to_string())),
            ("customer", f.customer.clone()),
            ("plan", f.plan.clone()),
            ("mrr_cents", f.mrr_cents.map(|m| m.to_string())),
            ("created_at", f.created_at.map(|c| c.to_string())),
            ("country", f.country.clone()),
            ("region", f.region.clone()),
            ("locale", f.locale.clone()),
            ("currency", f.currency.clone()),
            ("profile", f.profile.map(|p| p.as_str().to_string())),
            ("period_end", f.period_end.map(|p| p.to_string())),
            ("session", Some(self.session.to_string())),
            ("history", Some(self.history.clone())),
            (
                "reason",
                self.reason
                    .map(str::to_string)
                    .filter(|_| step != Step::Survey),
            ),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                hidden.push_str(&format!(
                    r#"<input type="hidden" name="{name}" value="{}">"#,
                    esc(&v)
                ));
            }
        }
        let form = if open {
            format!(r#"<form method="post">{hidden}{body}{continue_control}</form>"#)
        } else {
            body
        };
        format!(
            r#"<!doctype html><html lang="{lang}" dir="{dir}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title><style>{css}</style></head><body><main class="{class}" style="{style}" data-testid="hf-dialog" data-step="{step}" data-profile="{profile}"><h2 id="hf-title">{title}</h2>{form}</main></body></html>"#,
            lang = esc(&self.plan.locale),
            dir = if self.plan.rtl { "rtl" } else { "ltr" },
            title = esc(&title),
            css = PAGE_CSS,
            class = esc(&self.plan.theme.class),
            style = esc(&self.plan.theme.style),
            step = step.as_str(),
            profile = self.plan.profile.as_str(),
        )
    }
}

/// The widget's stylesheet, plus what a full page needs around the dialog.
const PAGE_CSS: &str = concat!(
    include_str!("../../../style/widget.css"),
    "body{margin:0;min-height:100vh;display:grid;place-items:center;background:#f3f4f6}",
    ".hf-dialog{margin:1em}fieldset{border:0;padding:0;margin:0 0 1em}",
);
