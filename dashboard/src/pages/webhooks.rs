//! Webhooks: the endpoints the host's billing listens on, and recent deliveries with their
//! attempts, each of which can be sent again.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Value, json};

use super::{Notice, i, notice_view, rows, s, show};
use crate::api;
use crate::nav::Ctx;
use crate::text::when;

/// Endpoints and deliveries.
#[component]
pub fn Webhooks() -> impl IntoView {
    let ctx = Ctx::get();
    let endpoints = api::fetch(move || {
        ctx.version.get();
        ctx.mode.get();
        ctx.admin("/webhooks/endpoints")
    });
    let deliveries = api::fetch(move || {
        ctx.version.get();
        ctx.mode.get();
        ctx.admin("/webhooks/deliveries")
    });
    let notice = RwSignal::new(None::<Notice>);
    let url = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let secret = RwSignal::new(None::<String>);
    let post = move |path: String, body: Option<Value>, done: &'static str| {
        spawn_local(async move {
            match api::call("POST", &path, body.as_ref()).await {
                Ok(v) => {
                    if let Some(sec) = v["secret"].as_str() {
                        secret.set(Some(sec.to_string()));
                    }
                    notice.set(Some(Notice::Done(done.into())));
                    ctx.changed();
                }
                Err(f) => notice.set(Some(Notice::Refused(f.message))),
            }
        });
    };
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        post(
            ctx.admin("/webhooks/endpoints"),
            Some(json!({ "url": url.get_untracked(), "description": description.get_untracked() })),
            "Endpoint added: it receives every event type from now on.",
        );
    };
    view! {
        <h1>"Webhooks"</h1>
        <p>"Holdfast signs every delivery (Standard Webhooks) and retries a failed one with back-off. Verify the signature with the endpoint's secret before acting on it."</p>
        {notice_view(notice)}
        {move || secret.get().map(|sec| view! {
            <div class="secret" role="status">
                <p>"The endpoint's signing secret, shown once: store it with your billing code now."</p>
                <code data-testid="webhook-secret">{sec}</code>
            </div>
        })}
        <section aria-labelledby="ep-h">
            <h2 id="ep-h">"Endpoints"</h2>
            {show(endpoints, move |v| {
                let list = rows(&v, "endpoints");
                if list.is_empty() {
                    return view! { <p class="muted">"No endpoints yet."</p> }.into_any();
                }
                view! {
                    <div class="scroll"><table>
                        <thead><tr><th scope="col">"URL"</th><th scope="col">"Events"</th><th scope="col">"State"</th><th scope="col">"Description"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|e| {
                                let id = s(&e, "id");
                                let events = rows(&e, "events").iter().filter_map(|x| x.as_str().map(str::to_string)).collect::<Vec<_>>();
                                let state = if e["enabled"] == true { "enabled".to_string() } else { format!("disabled: {}", s(&e, "disabled_reason")) };
                                let test_path = ctx.admin(&format!("/webhooks/endpoints/{}/test", api::enc(&id)));
                                view! {
                                    <tr>
                                        <th scope="row"><code>{s(&e, "url")}</code></th>
                                        <td>{if events.is_empty() { "all".to_string() } else { events.join(", ") }}</td>
                                        <td>{state}</td>
                                        <td>{s(&e, "description")}</td>
                                        <td>{ctx.is_owner().then(|| view! {
                                            <button class="small" on:click=move |_| post(test_path.clone(), None, "A test event is on its way.")>"Send a test event"</button>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            })}
            {move || ctx.is_owner().then(|| view! {
                <form class="inline" on:submit=add>
                    <label>"Endpoint URL"<input type="url" required bind:value=url placeholder="https://billing.example.com/holdfast"/></label>
                    <label>"Description"<input type="text" bind:value=description/></label>
                    <button type="submit">"Add endpoint"</button>
                </form>
            })}
        </section>
        <section aria-labelledby="dl-h">
            <h2 id="dl-h">"Recent deliveries"</h2>
            {show(deliveries, move |v| {
                let list = rows(&v, "deliveries");
                if list.is_empty() {
                    return view! { <p class="muted">"Nothing sent yet."</p> }.into_any();
                }
                view! {
                    <div class="scroll"><table>
                        <thead><tr><th scope="col">"Created"</th><th scope="col">"Event"</th><th scope="col">"Status"</th><th scope="col" class="num">"Attempts"</th><th scope="col">"Last attempt"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                        <tbody>
                            {list.into_iter().take(100).map(|d| {
                                let id = s(&d, "id");
                                let status = s(&d, "status");
                                let last = rows(&d, "attempt_log").last().map(|a| {
                                    let code = a["status_code"].as_i64().map(|c| format!("HTTP {c}")).unwrap_or_else(|| s(a, "error"));
                                    format!("{} · {code} · {} ms", when(i(a, "at")), i(a, "latency_ms"))
                                }).unwrap_or_else(|| "–".into());
                                let retry = ctx.admin(&format!("/webhooks/deliveries/{}/retry", api::enc(&id)));
                                view! {
                                    <tr>
                                        <td>{when(i(&d, "created_at"))}</td>
                                        <td><code>{s(&d, "type")}</code></td>
                                        <td><span class=format!("badge {status}")>{status.clone()}</span></td>
                                        <td class="num">{i(&d, "attempts")}</td>
                                        <td>{last}</td>
                                        <td>{ctx.is_owner().then(|| view! {
                                            <button class="small" on:click=move |_| post(retry.clone(), None, "Queued to be sent again.")>"Send again"</button>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            })}
        </section>
    }
}
