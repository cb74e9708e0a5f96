//! The sessions log: cancel sessions newest first with the survey's free-text answers, searchable
//! and filtered, and the same selection as CSV.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value;

use super::{i, rows, s};
use crate::api::{self, enc};
use crate::nav::Ctx;
use crate::text::{count, label, money, when};

/// The log with its search and filters.
#[component]
pub fn Sessions() -> impl IntoView {
    let ctx = Ctx::get();
    let q = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let outcome = RwSignal::new(String::new());
    let items = RwSignal::new(Vec::<Value>::new());
    let total = RwSignal::new(None::<i64>);
    let next = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let query = move || {
        let mut out = ctx.range_query();
        for (k, v) in [
            ("q", q.get()),
            ("reason", reason.get()),
            ("outcome", outcome.get()),
        ] {
            if !v.trim().is_empty() {
                out.push_str(&format!("&{k}={}", enc(v.trim())));
            }
        }
        out
    };
    let load = move |cursor: Option<String>| {
        let mut url = format!("{}?{}&limit=50", ctx.admin("/sessions"), query());
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={}", enc(c)));
        }
        busy.set(true);
        spawn_local(async move {
            match api::call("GET", &url, None).await {
                Ok(v) => {
                    let page = rows(&v, "sessions");
                    if cursor.is_some() {
                        items.update(|all| all.extend(page));
                    } else {
                        items.set(page);
                    }
                    total.set(v["total"].as_i64());
                    next.set(v["next_cursor"].as_str().map(str::to_string));
                    error.set(None);
                }
                Err(f) => error.set(Some(f.message)),
            }
            busy.set(false);
        });
    };
    // The first page, again whenever the app, mode or range changes.
    Effect::new(move |_| {
        ctx.version.get();
        ctx.app.get();
        ctx.mode.get();
        ctx.days.get();
        untrack(|| load(None));
    });
    let reasons = api::fetch(move || ctx.admin("/config"));
    let csv = move || format!("{}?{}&format=csv", ctx.admin("/sessions"), query());
    view! {
        <h1>"Sessions"</h1>
        <form class="filters" role="search" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); load(None); }>
            <label>"Search answers, customers and sessions"
                <input type="search" bind:value=q placeholder="e.g. too slow"/>
            </label>
            <label>"Reason"
                <select on:change=move |ev| { reason.set(event_target_value(&ev)); load(None); }>
                    <option value="">"Any reason"</option>
                    {move || match reasons.get() {
                        api::Load::Ready(v) => rows(&v["config"], "reasons").into_iter().map(|r| {
                            let id = s(&r, "id");
                            view! { <option value=id.clone()>{label(&id)}</option> }
                        }).collect_view().into_any(),
                        _ => ().into_any(),
                    }}
                </select>
            </label>
            <label>"Outcome"
                <select on:change=move |ev| { outcome.set(event_target_value(&ev)); load(None); }>
                    <option value="">"Any outcome"</option>
                    <option value="saved">"Saved"</option>
                    <option value="cancelled">"Cancelled"</option>
                    <option value="abandoned">"Abandoned"</option>
                    <option value="open">"Open"</option>
                </select>
            </label>
            <button type="submit">"Search"</button>
            <a class="button" href=csv download="holdfast-sessions.csv">"Export CSV"</a>
        </form>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <p class="muted" aria-live="polite">{move || total.get().map(|t| format!("{} sessions match.", count(t)))}</p>
        <div class="scroll">
        <table class="sessions">
            <thead><tr>
                <th scope="col">"Started"</th><th scope="col">"Customer"</th><th scope="col">"Plan"</th>
                <th scope="col">"Reason"</th><th scope="col">"Their words"</th><th scope="col">"Offer"</th><th scope="col">"Outcome"</th>
            </tr></thead>
            <tbody>
                {move || items.get().into_iter().map(|r| {
                    let outcome = s(&r, "outcome");
                    view! {
                        <tr>
                            <td>{when(i(&r, "started_at"))}</td>
                            <td><code>{s(&r, "customer_id")}</code></td>
                            <td>{format!("{} · {}", s(&r, "plan"), money(i(&r, "mrr_cents")))}</td>
                            <td>{label(&s(&r, "reason"))}</td>
                            <td class="quote">{s(&r, "free_text")}</td>
                            <td>{s(&r, "offer_id")}</td>
                            <td><span class=format!("badge {outcome}")>{label(&outcome)}</span></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
        {move || next.get().map(|c| view! {
            <button on:click=move |_| load(Some(c.clone())) disabled=move || busy.get()>"Load more"</button>
        })}
    }
}
