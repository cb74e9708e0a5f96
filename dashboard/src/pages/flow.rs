//! The flow editor: the config as a draft, checked as you type by core's own validation (the
//! server's exact words, at the field they name); a preview that plans a session from the draft
//! and records nothing; publishing with the diff against the live version; every version restorable.

use holdfast_core::config::{AppConfig, Validation};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Value, json};

use super::{Notice, i, notice_view, rows, s};
use crate::api;
use crate::nav::Ctx;
use crate::text::{label, money, when};

/// What core says of a draft: its validation, or why it does not even parse as a config.
#[derive(Clone, PartialEq)]
enum Checked {
    Parsed(Validation),
    Unreadable(String),
}

fn check(draft: &Value) -> Checked {
    match serde_json::from_value::<AppConfig>(draft.clone()) {
        Ok(config) => Checked::Parsed(config.validate()),
        Err(e) => Checked::Unreadable(e.to_string()),
    }
}

/// A JSON pointer (`/offers/2/terms/percent`) as core names the field (`offers[2].terms.percent`).
fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').skip(1) {
        if part.chars().all(|c| c.is_ascii_digit()) && !part.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The config's settings edited as fields, by JSON pointer and title (lists and maps stay in the
/// JSON below).
const SETTINGS: [(&str, &str); 9] = [
    ("/policy", "Policy profiles"),
    ("/cooldowns", "Cooldowns (days between offers of a kind)"),
    ("/theme", "Theme"),
    ("/locale", "Locale"),
    ("/prompts", "Prompts"),
    ("/prompts/group_caps", "Prompt caps"),
    ("/prompts/usage", "Usage prompts"),
    ("/prompts/gate", "Locked-feature prompts"),
    ("/prompts/seats", "Seat prompts"),
];

/// The editor's state, shared by its parts.
#[derive(Clone, Copy)]
struct Draft {
    value: RwSignal<Option<Value>>,
    checked: Memo<Option<Checked>>,
}

impl Draft {
    /// Sets the field at `pointer`, adding it to its object when the config left it out (a
    /// default such as `free_text: false` is not written).
    fn set(&self, pointer: &str, v: Value) {
        self.value.update(|d| {
            let Some(d) = d.as_mut() else { return };
            if let Some(slot) = d.pointer_mut(pointer) {
                *slot = v;
            } else if let Some((parent, key)) = pointer.rsplit_once('/')
                && let Some(Value::Object(map)) = d.pointer_mut(parent)
            {
                map.insert(key.to_string(), v);
            }
        });
    }

    /// Removes the field at `pointer` (an optional one left empty).
    fn remove(&self, pointer: &str) {
        self.value.update(|d| {
            if let Some((parent, key)) = pointer.rsplit_once('/')
                && let Some(Value::Object(map)) = d.as_mut().and_then(|d| d.pointer_mut(parent))
            {
                map.remove(key);
            }
        });
    }

    /// The errors and warnings core reports at this list or any of its items (`reasons[1]`).
    fn problems_under(&self, path: &str) -> (Vec<String>, Vec<String>) {
        let under = |p: &str| {
            p == path
                || p.strip_prefix(path)
                    .is_some_and(|rest| rest.starts_with('['))
        };
        match self.checked.get() {
            Some(Checked::Parsed(v)) => (
                v.errors
                    .iter()
                    .filter(|p| under(&p.path))
                    .map(|p| p.message.clone())
                    .collect(),
                v.warnings
                    .iter()
                    .filter(|p| under(&p.path))
                    .map(|p| p.message.clone())
                    .collect(),
            ),
            _ => (Vec::new(), Vec::new()),
        }
    }

    /// The errors and warnings core reports at exactly this field.
    fn problems_at(&self, path: &str) -> (Vec<String>, Vec<String>) {
        match self.checked.get() {
            Some(Checked::Parsed(v)) => (
                v.errors
                    .iter()
                    .filter(|p| p.path == path)
                    .map(|p| p.message.clone())
                    .collect(),
                v.warnings
                    .iter()
                    .filter(|p| p.path == path)
                    .map(|p| p.message.clone())
                    .collect(),
            ),
            _ => (Vec::new(), Vec::new()),
        }
    }
}

/// One editable field of the draft, with core's problems for it below it.
#[component]
fn Field(
    draft: Draft,
    /// Where in the config.
    pointer: String,
    /// What the growth team calls it.
    name: String,
    /// A yes-or-no field (a checkbox), also when the config leaves it out.
    #[prop(optional)]
    toggle: bool,
    /// A text the config may leave out: emptied, it is removed.
    #[prop(optional)]
    optional: bool,
) -> impl IntoView {
    let path = field_path(&pointer);
    let id = format!("f{}", pointer.replace('/', "-"));
    let hint_id = format!("{id}-problems");
    let local = RwSignal::new(None::<String>);
    let p_read = pointer.clone();
    let current = move || {
        draft
            .value
            .get()
            .and_then(|d| d.pointer(&p_read).cloned())
            .unwrap_or(Value::Null)
    };
    let kind = if toggle {
        Value::Bool(false)
    } else {
        current()
    };
    let p_write = pointer.clone();
    let path2 = path.clone();
    let problems = move || {
        let (mut errors, warnings) = draft.problems_at(&path2);
        if let Some(l) = local.get() {
            errors.insert(0, l);
        }
        (errors, warnings)
    };
    let invalid = {
        let problems = problems.clone();
        move || (!problems().0.is_empty()).to_string()
    };
    let input = match kind {
        Value::Bool(_) => {
            let c = current.clone();
            view! {
                <input id=id.clone() type="checkbox" prop:checked=move || c() == Value::Bool(true)
                    aria-describedby=hint_id.clone()
                    on:change=move |ev| draft.set(&p_write, Value::Bool(event_target_checked(&ev)))/>
            }.into_any()
        }
        Value::Number(_) => {
            let c = current.clone();
            view! {
                <input id=id.clone() type="text" inputmode="numeric" aria-invalid=invalid aria-describedby=hint_id.clone()
                    prop:value=move || match c() { Value::Number(n) => n.to_string(), Value::String(s) => s, _ => String::new() }
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        match text.trim().parse::<i64>() {
                            Ok(n) => { local.set(None); draft.set(&p_write, json!(n)); }
                            Err(_) => { local.set(Some("must be a whole number".into())); draft.set(&p_write, Value::String(text)); }
                        }
                    }/>
            }.into_any()
        }
        _ => {
            let c = current.clone();
            view! {
                <input id=id.clone() type="text" aria-invalid=invalid aria-describedby=hint_id.clone()
                    prop:value=move || match c() { Value::String(s) => s, Value::Null => String::new(), v => v.to_string() }
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        if optional && text.is_empty() {
                            draft.remove(&p_write);
                        } else {
                            draft.set(&p_write, Value::String(text));
                        }
                    }/>
            }.into_any()
        }
    };
    view! {
        <div class="field">
            <label for=id>{name}</label>
            {input}
            <div id=hint_id class="problems" aria-live="polite">
                {move || {
                    let (errors, warnings) = problems();
                    view! {
                        {errors.into_iter().map(|e| view! { <p class="error" data-field=path.clone()>{e}</p> }).collect_view()}
                        {warnings.into_iter().map(|w| view! { <p class="warning">{w}</p> }).collect_view()}
                    }
                }}
            </div>
        </div>
    }
}

/// A list of ids edited as comma-separated text (a rule's reasons), with core's problems for it.
#[component]
fn ListField(
    draft: Draft,
    /// Where in the config.
    pointer: String,
    /// What the growth team calls it.
    name: String,
) -> impl IntoView {
    let path = field_path(&pointer);
    let id = format!("f{}", pointer.replace('/', "-"));
    let hint_id = format!("{id}-problems");
    let p_read = pointer.clone();
    let text = move || {
        draft
            .value
            .get()
            .and_then(|d| d.pointer(&p_read).cloned())
            .and_then(|v| v.as_array().cloned())
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let path2 = path.clone();
    let problems = move || draft.problems_under(&path2);
    let invalid = {
        let problems = problems.clone();
        move || (!problems().0.is_empty()).to_string()
    };
    view! {
        <div class="field">
            <label for=id.clone()>{name}</label>
            <input id=id type="text" aria-invalid=invalid aria-describedby=hint_id.clone()
                prop:value=text
                on:change=move |ev| {
                    let items: Vec<Value> = event_target_value(&ev)
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(|t| Value::String(t.to_string()))
                        .collect();
                    draft.set(&pointer, Value::Array(items));
                }/>
            <div id=hint_id class="problems" aria-live="polite">
                {move || {
                    let (errors, warnings) = problems();
                    view! {
                        {errors.into_iter().map(|e| view! { <p class="error" data-field=path.clone()>{e}</p> }).collect_view()}
                        {warnings.into_iter().map(|w| view! { <p class="warning">{w}</p> }).collect_view()}
                    }
                }}
            </div>
        </div>
    }
}

/// A rule's conditions in words (`when plan in pro, team and tenure days ≥ 90`).
fn conditions(when: &Value) -> String {
    let Some(list) = when.as_array().filter(|l| !l.is_empty()) else {
        return "For every customer.".into();
    };
    let words: Vec<String> = list
        .iter()
        .filter_map(|c| c.as_object())
        .filter_map(|c| c.iter().next())
        .map(|(kind, arg)| {
            let list = |v: &Value| {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            };
            match kind.as_str() {
                "plan_in" => format!("plan in {}", list(arg)),
                "plan_not_in" => format!("plan not in {}", list(arg)),
                "segment_in" => format!("segment in {}", list(arg)),
                "variant" => format!("variant {} of {}", s(arg, "variant"), s(arg, "experiment")),
                other => format!(
                    "{} {} {}",
                    label(other).to_lowercase(),
                    s(arg, "op"),
                    s(arg, "value")
                ),
            }
        })
        .collect();
    format!("When {}.", words.join(" and "))
}

/// The editor page.
#[component]
pub fn Editor() -> impl IntoView {
    let ctx = Ctx::get();
    let live = RwSignal::new(None::<(i64, Value)>);
    let value = RwSignal::new(None::<Value>);
    let checked = Memo::new(move |_| value.get().map(|d| check(&d)));
    let draft = Draft { value, checked };
    let notice = RwSignal::new(None::<Notice>);
    let load_error = RwSignal::new(None::<String>);
    let reload = move || {
        let url = ctx.admin("/config");
        spawn_local(async move {
            match api::call("GET", &url, None).await {
                Ok(v) => {
                    live.set(Some((i(&v, "version"), v["config"].clone())));
                    value.set(Some(v["config"].clone()));
                    load_error.set(None);
                }
                Err(f) => load_error.set(Some(f.message)),
            }
        });
    };
    Effect::new(move |_| {
        ctx.app.get();
        untrack(reload);
    });
    let versions = api::fetch(move || {
        ctx.version.get();
        ctx.admin("/config/versions")
    });
    // The draft's shape: which reasons and offers, and which of an offer's terms are fields. The
    // lists re-render only when it changes, so typing in a field keeps its focus.
    let shape = Memo::new(move |_| {
        value.get().map(|d| {
            let reasons = rows(&d, "reasons").len();
            let offers: Vec<(String, Vec<(String, bool)>)> = rows(&d, "offers")
                .iter()
                .map(|o| {
                    let terms = o["terms"]
                        .as_object()
                        .map(|t| {
                            t.iter()
                                .filter(|(k, v)| {
                                    k.as_str() != "type" && (v.is_number() || v.is_string())
                                })
                                .map(|(k, v)| (k.clone(), v.is_number()))
                                .collect()
                        })
                        .unwrap_or_default();
                    (s(&o["terms"], "type"), terms)
                })
                .collect();
            let sections: Vec<(String, String, Vec<String>)> = SETTINGS
                .iter()
                .filter_map(|(pointer, title)| {
                    let keys: Vec<String> = d
                        .pointer(pointer)?
                        .as_object()?
                        .iter()
                        .filter(|(_, v)| v.is_number() || v.is_string() || v.is_boolean())
                        .map(|(k, _)| k.clone())
                        .collect();
                    (!keys.is_empty()).then(|| ((*pointer).to_string(), (*title).to_string(), keys))
                })
                .chain(
                    d["locale"]["messages"]
                        .as_object()
                        .into_iter()
                        .flat_map(|m| {
                            m.iter().map(|(locale, copy)| {
                                (
                                    format!("/locale/messages/{locale}"),
                                    format!("Copy in {locale}"),
                                    copy.as_object()
                                        .map(|c| c.keys().cloned().collect())
                                        .unwrap_or_default(),
                                )
                            })
                        }),
                )
                .collect();
            let rules = rows(&d, "rules").len();
            (reasons, offers, sections, rules)
        })
    });
    let changed = move || match (live.get(), value.get()) {
        (Some((_, l)), Some(d)) => l != d,
        _ => false,
    };
    let confirm = RwSignal::new(false);
    let publish = move |_| {
        let Some(body) = value.get_untracked() else {
            return;
        };
        let url = ctx.admin("/config");
        spawn_local(async move {
            match api::call("PUT", &url, Some(&body)).await {
                Ok(v) => {
                    live.set(Some((i(&v, "version"), v["config"].clone())));
                    value.set(Some(v["config"].clone()));
                    notice.set(Some(Notice::Done(format!(
                        "Published as version {}: new sessions use it now.",
                        i(&v, "version")
                    ))));
                    confirm.set(false);
                    ctx.changed();
                }
                Err(f) => {
                    let detail = f
                        .problems
                        .iter()
                        .map(|(p, m)| format!("{p}: {m}"))
                        .collect::<Vec<_>>()
                        .join("; ");
                    notice.set(Some(Notice::Refused(if detail.is_empty() {
                        f.message
                    } else {
                        format!("{} {detail}", f.message)
                    })));
                    confirm.set(false);
                }
            }
        });
    };
    let restore = move |version: i64| {
        let url = ctx.admin(&format!("/config/versions/{version}/restore"));
        spawn_local(async move {
            match api::call("POST", &url, None).await {
                Ok(v) => {
                    notice.set(Some(Notice::Done(format!(
                        "Version {version} restored as version {}.",
                        i(&v, "version")
                    ))));
                    ctx.changed();
                    reload();
                }
                Err(f) => notice.set(Some(Notice::Refused(f.message))),
            }
        });
    };
    let editable = move || ctx.can_edit();
    let summary = move || match checked.get() {
        Some(Checked::Parsed(v)) if v.errors.is_empty() => (
            true,
            format!(
                "The draft is valid{}.",
                if v.warnings.is_empty() {
                    String::new()
                } else {
                    format!(", with {} warning(s)", v.warnings.len())
                }
            ),
        ),
        Some(Checked::Parsed(v)) => (
            false,
            format!(
                "{} problem(s) to fix before publishing: {}",
                v.errors.len(),
                v.errors
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
        Some(Checked::Unreadable(e)) => (false, format!("The draft is not a config: {e}")),
        None => (false, String::new()),
    };
    view! {
        <h1>"Flow editor"</h1>
        <p class="muted">{move || live.get().map(|(v, _)| format!("Live: version {v}. Edits are a draft until you publish; the preview records nothing."))}</p>
        {move || load_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        {notice_view(notice)}
        <div class="editor">
            <div class="draft">
                {move || shape.get().map(|(reasons, offers, sections, rules)| view! {
                    <section aria-labelledby="offers-h">
                        <h2 id="offers-h">"Offers and their terms"</h2>
                        {offers.into_iter().enumerate().map(|(o, (kind, terms))| view! {
                            <fieldset class="item">
                                <legend>{format!("{} offer", label(&kind))}</legend>
                                <Field draft=draft pointer=format!("/offers/{o}/id") name="Id".into()/>
                                {terms.into_iter().map(|(t, _)| view! {
                                    <Field draft=draft pointer=format!("/offers/{o}/terms/{t}") name=label(&t)/>
                                }).collect_view()}
                            </fieldset>
                        }).collect_view()}
                    </section>
                    <section aria-labelledby="reasons-h">
                        <h2 id="reasons-h">"Reasons"</h2>
                        {(0..reasons).map(|r| view! {
                            <fieldset class="item">
                                <legend>{move || value.get().map(|d| label(&s(&d["reasons"][r], "id"))).unwrap_or_default()}</legend>
                                <Field draft=draft pointer=format!("/reasons/{r}/id") name="Id".into()/>
                                <Field draft=draft pointer=format!("/reasons/{r}/free_text") name="Asks for their words".into() toggle=true/>
                            </fieldset>
                        }).collect_view()}
                    </section>
                    <section aria-labelledby="rules-h">
                        <h2 id="rules-h">"Targeting rules"</h2>
                        <p class="muted">"The first rule that matches the reason and the customer picks the offer; its conditions are edited in the JSON below."</p>
                        {(0..rules).map(|r| view! {
                            <fieldset class="item">
                                <legend>{move || value.get().map(|d| format!("Rule {}", s(&d["rules"][r], "id"))).unwrap_or_default()}</legend>
                                <Field draft=draft pointer=format!("/rules/{r}/id") name="Id".into()/>
                                <ListField draft=draft pointer=format!("/rules/{r}/reasons") name="Reasons (comma-separated; empty: any)".into()/>
                                <Field draft=draft pointer=format!("/rules/{r}/offer") name="Offer".into() optional=true/>
                                <Field draft=draft pointer=format!("/rules/{r}/fallback") name="Fallback offer".into() optional=true/>
                                <p class="when">{move || value.get().map(|d| conditions(&d["rules"][r]["when"])).unwrap_or_default()}</p>
                            </fieldset>
                        }).collect_view()}
                    </section>
                    <section aria-labelledby="settings-h">
                        <h2 id="settings-h">"Policy, cooldowns, theme, prompts and copy"</h2>
                        {sections.into_iter().map(|(pointer, title, keys)| view! {
                            <fieldset class="item">
                                <legend>{title}</legend>
                                {keys.into_iter().map(|k| {
                                    let name = label(&k);
                                    view! { <Field draft=draft pointer=format!("{pointer}/{k}") name=name/> }
                                }).collect_view()}
                            </fieldset>
                        }).collect_view()}
                    </section>
                })}
                <JsonEditor draft=draft/>
            </div>
            <aside class="side-panel">
                <div class=move || if summary().0 { "status ok" } else { "status bad" } role="status">{move || summary().1}</div>
                <Preview draft=draft/>
                {move || editable().then(|| view! {
                    <div class="actions">
                        <button class="primary" disabled=move || !changed() || !summary().0 on:click=move |_| confirm.set(true)>"Publish…"</button>
                        <button disabled=move || !changed() on:click=move |_| value.set(live.get_untracked().map(|l| l.1))>"Discard draft"</button>
                    </div>
                })}
                {move || confirm.get().then(|| view! {
                    <div class="confirm" role="alertdialog" aria-labelledby="pub-h">
                        <h2 id="pub-h">"Publish these changes?"</h2>
                        <pre class="diff" data-testid="diff">{move || {
                            let (Some((_, l)), Some(d)) = (live.get(), value.get()) else { return Vec::new() };
                            diff(&pretty(&l), &pretty(&d)).into_iter().map(|(sign, line)| {
                                let class = match sign { '+' => "add", '-' => "del", _ => "ctx" };
                                view! { <span class=class>{format!("{sign} {line}\n")}</span> }
                            }).collect::<Vec<_>>()
                        }}</pre>
                        <div class="actions">
                            <button class="primary" on:click=publish>"Publish"</button>
                            <button on:click=move |_| confirm.set(false)>"Keep editing"</button>
                        </div>
                    </div>
                })}
                <section aria-labelledby="versions-h">
                    <h2 id="versions-h">"Versions"</h2>
                    {super::show(versions, move |v| view! {
                        <ul class="versions">
                            {rows(&v, "versions").into_iter().map(|ver| {
                                let n = i(&ver, "version");
                                let current = ver["current"] == true;
                                view! {
                                    <li>
                                        <span>{version_line(&ver)}</span>
                                        {if current {
                                            view! { <span class="badge running">"live"</span> }.into_any()
                                        } else if ctx.can_edit() {
                                            view! { <button class="small" on:click=move |_| restore(n)>{format!("Restore version {n}")}</button> }.into_any()
                                        } else {
                                            ().into_any()
                                        }}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any())}
                </section>
            </aside>
        </div>
    }
}

/// The whole draft as JSON, for everything the fields above do not cover (rules, policy, theme,
/// copy per locale, prompts): applied when it parses.
#[component]
fn JsonEditor(draft: Draft) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    // Shows the draft as it changes elsewhere; typing here does not rewrite what is typed.
    let typing = StoredValue::new(false);
    Effect::new(move |_| {
        let d = draft.value.get();
        if !typing.get_value() {
            text.set(d.as_ref().map(pretty).unwrap_or_default());
        }
        typing.set_value(false);
    });
    view! {
        <section aria-labelledby="json-h">
            <h2 id="json-h">"Everything: rules, policy, theme, copy and prompts (JSON)"</h2>
            <label for="config-json" class="sr-only">"The draft config as JSON"</label>
            <textarea id="config-json" rows="18" spellcheck="false" class="code"
                aria-describedby="config-json-problems"
                prop:value=move || text.get()
                on:input=move |ev| {
                    let t = event_target_value(&ev);
                    match serde_json::from_str::<Value>(&t) {
                        Ok(v) => { error.set(None); typing.set_value(true); draft.value.set(Some(v)); }
                        Err(e) => error.set(Some(format!("Not JSON yet: {e}"))),
                    }
                    text.set(t);
                }></textarea>
            <div id="config-json-problems" aria-live="polite">{move || error.get().map(|e| view! { <p class="error">{e}</p> })}</div>
        </section>
    }
}

/// Plans a session from the draft for a customer and reason the team picks; the server stores
/// nothing.
#[component]
fn Preview(draft: Draft) -> impl IntoView {
    let ctx = Ctx::get();
    let plan = RwSignal::new("pro".to_string());
    let mrr = RwSignal::new("4900".to_string());
    let tenure = RwSignal::new("200".to_string());
    let reason = RwSignal::new("too_expensive".to_string());
    let result = RwSignal::new(None::<Result<Value, String>>);
    let run = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let now = (js_sys::Date::now() / 1000.0) as i64;
        let body = json!({
            "customer": {
                "id": "preview_customer",
                "plan": plan.get_untracked(),
                "mrr_cents": mrr.get_untracked().trim().parse::<i64>().unwrap_or(0),
                "created_at": now - tenure.get_untracked().trim().parse::<i64>().unwrap_or(0) * 86_400,
            },
            "reason": reason.get_untracked(),
            "config": draft.value.get_untracked(),
        });
        let url = ctx.admin("/preview");
        spawn_local(async move {
            result.set(Some(
                api::call("POST", &url, Some(&body))
                    .await
                    .map_err(|f| f.message),
            ));
        });
    };
    let reasons = move || {
        draft
            .value
            .get()
            .map(|d| {
                rows(&d, "reasons")
                    .iter()
                    .map(|r| s(r, "id"))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    // The real widget on a page the server writes for the draft (it records nothing).
    let width = RwSignal::new("375".to_string());
    let locale = RwSignal::new(String::new());
    let profile = RwSignal::new("standard".to_string());
    let frame = RwSignal::new(None::<Result<String, String>>);
    let run_widget = move |_| {
        let body = json!({ "config": draft.value.get_untracked() });
        let url = ctx.admin("/preview/page");
        let query = format!(
            "?plan={}&mrr_cents={}&tenure_days={}&profile={}&locale={}",
            api::enc(&plan.get_untracked()),
            api::enc(mrr.get_untracked().trim()),
            api::enc(tenure.get_untracked().trim()),
            api::enc(&profile.get_untracked()),
            api::enc(locale.get_untracked().trim()),
        );
        spawn_local(async move {
            frame.set(Some(
                api::call("POST", &url, Some(&body))
                    .await
                    .map(|v| format!("{}{query}", s(&v, "url")))
                    .map_err(|f| f.message),
            ));
        });
    };
    view! {
        <section aria-labelledby="preview-h" class="preview">
            <h2 id="preview-h">"Preview the draft"</h2>
            <form class="stack" on:submit=run>
                <label for="pv-plan">"Plan"</label><input id="pv-plan" type="text" bind:value=plan/>
                <label for="pv-mrr">"MRR in cents"</label><input id="pv-mrr" type="text" inputmode="numeric" bind:value=mrr/>
                <label for="pv-tenure">"Customer for (days)"</label><input id="pv-tenure" type="text" inputmode="numeric" bind:value=tenure/>
                <label for="pv-reason">"Reason"</label>
                <select id="pv-reason" on:change=move |ev| reason.set(event_target_value(&ev)) prop:value=move || reason.get()>
                    {move || reasons().into_iter().map(|r| view! { <option value=r.clone()>{label(&r)}</option> }).collect_view()}
                </select>
                <button type="submit">"Preview"</button>
            </form>
            <div aria-live="polite" data-testid="preview-result">
                {move || result.get().map(|r| match r {
                    Ok(v) => {
                        let offers = rows(&v, "offers");
                        view! {
                            <p>{format!("Profile {} ({}); rule {}.", label(&s(&v, "profile")), s(&v, "profile_basis"), if v["rule"].is_null() { "none".to_string() } else { s(&v, "rule") })}</p>
                            {if offers.is_empty() {
                                view! { <p>"No offer: the dialog goes straight to the confirmation."</p> }.into_any()
                            } else {
                                view! { <ul>{offers.into_iter().map(|o| view! { <li>{offer_words(&o)}</li> }).collect_view()}</ul> }.into_any()
                            }}
                            {rows(&v, "skipped").into_iter().map(|k| view! { <p class="muted">{format!("{} left out: {}", s(&k, "offer_id"), s(&k, "why"))}</p> }).collect_view()}
                        }.into_any()
                    }
                    Err(e) => view! { <p class="error">{e}</p> }.into_any(),
                })}
            </div>
            <h3>"Run the real widget"</h3>
            <div class="stack">
                <label for="pv-width">"Screen width"</label>
                <select id="pv-width" on:change=move |ev| width.set(event_target_value(&ev)) prop:value=move || width.get()>
                    <option value="375">"Phone (375 px)"</option>
                    <option value="768">"Tablet (768 px)"</option>
                    <option value="1280">"Desktop (1280 px)"</option>
                </select>
                <label for="pv-profile">"Policy profile"</label>
                <select id="pv-profile" on:change=move |ev| profile.set(event_target_value(&ev)) prop:value=move || profile.get()>
                    {["standard", "california", "minnesota", "germany", "france"].into_iter().map(|p| view! { <option value=p>{label(p)}</option> }).collect_view()}
                </select>
                <label for="pv-locale">"Locale (empty: the browser's)"</label>
                <input id="pv-locale" type="text" bind:value=locale placeholder="de"/>
                <button type="button" on:click=run_widget>"Run the widget on the draft"</button>
            </div>
            {move || frame.get().map(|f| match f {
                Ok(src) => view! {
                    <div class="frame">
                        <iframe src=src title="The cancel flow with the draft config" data-testid="live-preview"
                            width=move || width.get() height="640"></iframe>
                    </div>
                }.into_any(),
                Err(e) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
            })}
        </section>
    }
}

/// An offer as the subscriber would read it, briefly.
fn offer_words(o: &Value) -> String {
    let t = &o["terms"];
    let what = match s(t, "type").as_str() {
        "discount" => format!("{}% off for {} months", i(t, "percent"), i(t, "months")),
        "pause" => format!("pause for {} months", i(t, "months")),
        "downgrade" => format!("move to {}", s(t, "to_plan")),
        "credit" => format!("{} credit", money(i(t, "amount_cents"))),
        "trial_extension" => format!("{} more trial days", i(t, "days")),
        other => label(other),
    };
    format!("{}: {what}", s(o, "id"))
}

/// A line diff (longest common subsequence): `(' ' | '+' | '-', line)`, unchanged runs longer
/// than six lines folded to their ends.
fn diff(old: &str, new: &str) -> Vec<(char, String)> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for x in (0..n).rev() {
        for y in (0..m).rev() {
            lcs[x][y] = if a[x] == b[y] {
                lcs[x + 1][y + 1] + 1
            } else {
                lcs[x + 1][y].max(lcs[x][y + 1])
            };
        }
    }
    let (mut x, mut y) = (0, 0);
    let mut out = Vec::new();
    while x < n || y < m {
        if x < n && y < m && a[x] == b[y] {
            out.push((' ', a[x].to_string()));
            x += 1;
            y += 1;
        } else if y < m && (x == n || lcs[x][y + 1] >= lcs[x + 1][y]) {
            out.push(('+', b[y].to_string()));
            y += 1;
        } else {
            out.push(('-', a[x].to_string()));
            x += 1;
        }
    }
    // Fold long unchanged runs, keeping three lines of context each side.
    let mut folded = Vec::new();
    let mut run: Vec<(char, String)> = Vec::new();
    let flush = |run: &mut Vec<(char, String)>, folded: &mut Vec<(char, String)>| {
        if run.len() > 6 {
            folded.extend(run[..3].iter().cloned());
            folded.push((' ', format!("… {} unchanged lines", run.len() - 6)));
            folded.extend(run[run.len() - 3..].iter().cloned());
        } else {
            folded.append(run);
        }
        run.clear();
    };
    for line in out {
        if line.0 == ' ' {
            run.push(line);
        } else {
            flush(&mut run, &mut folded);
            folded.push(line);
        }
    }
    flush(&mut run, &mut folded);
    folded
}

/// A config version as the history lists it: its number, when, who made it and how.
fn version_line(ver: &Value) -> String {
    let mut line = format!(
        "Version {} · {}",
        i(ver, "version"),
        when(i(ver, "created_at"))
    );
    let by = s(ver, "created_by");
    if !by.is_empty() {
        line.push_str(&format!(" · {}", by.trim_start_matches("user:")));
    }
    let detail = s(ver, "detail");
    if !detail.is_empty() {
        line.push_str(&format!(" · {detail}"));
    }
    line
}
