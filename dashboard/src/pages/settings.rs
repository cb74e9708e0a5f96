//! Settings: the app's name and origins, admin keys, and people with their roles.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Value, json};

use super::{Notice, i, notice_view, rows, s, show};
use crate::api;
use crate::nav::Ctx;
use crate::text::{date, label};

/// The app's settings, keys and people.
#[component]
pub fn Settings() -> impl IntoView {
    let ctx = Ctx::get();
    let app = api::fetch(move || {
        ctx.version.get();
        ctx.admin("")
    });
    let notice = RwSignal::new(None::<Notice>);
    let shown_once = RwSignal::new(None::<(String, String)>);
    let send = move |method: &'static str, path: String, body: Option<Value>, done: String| {
        spawn_local(async move {
            match api::call(method, &path, body.as_ref()).await {
                Ok(v) => {
                    if let Some(key) = v["key"].as_str() {
                        shown_once.set(Some((
                            "The new admin key, shown once: store it in your secrets manager now."
                                .into(),
                            key.to_string(),
                        )));
                    } else if let Some(link) = v["link"].as_str() {
                        let origin = web_sys::window()
                            .and_then(|w| w.location().origin().ok())
                            .unwrap_or_default();
                        shown_once.set(Some(("The one-time link, shown once: pass it on. It works once, within a week.".into(), format!("{origin}{link}"))));
                    }
                    notice.set(Some(Notice::Done(done)));
                    ctx.changed();
                }
                Err(f) => notice.set(Some(Notice::Refused(f.message))),
            }
        });
    };
    view! {
        <h1>"Settings"</h1>
        {notice_view(notice)}
        {move || shown_once.get().map(|(why, value)| view! {
            <div class="secret" role="status"><p>{why}</p><code data-testid="shown-once">{value}</code></div>
        })}
        <section aria-labelledby="app-h">
            <h2 id="app-h">"App"</h2>
            {show(app, move |v| view! { <AppForm v=v send=send/> }.into_any())}
        </section>
        {move || ctx.is_owner().then(|| view! { <Keys send=send/><People send=send/> })}
        <Activity/>
    }
}

/// Who changed what: config versions, experiment steps, keys, endpoints and people.
#[component]
fn Activity() -> impl IntoView {
    let ctx = Ctx::get();
    let changes = api::fetch(move || {
        ctx.version.get();
        format!("{}?limit=50", ctx.admin("/changes"))
    });
    view! {
        <section aria-labelledby="activity-h">
            <h2 id="activity-h">"Recent changes"</h2>
            {show(changes, |v| {
                let list = rows(&v, "changes");
                if list.is_empty() {
                    return view! { <p class="muted">"No changes made through the API or the dashboard yet."</p> }.into_any();
                }
                view! {
                    <div class="scroll"><table>
                        <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"What"</th><th scope="col">"To"</th><th scope="col">"Detail"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|c| view! {
                                <tr>
                                    <td>{crate::text::when(i(&c, "at"))}</td>
                                    <td>{s(&c, "actor").trim_start_matches("user:").to_string()}</td>
                                    <td><code>{s(&c, "action")}</code></td>
                                    <td>{s(&c, "subject")}</td>
                                    <td>{s(&c, "detail")}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table></div>
                }.into_any()
            })}
        </section>
    }
}

#[component]
fn AppForm(
    v: Value,
    send: impl Fn(&'static str, String, Option<Value>, String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let ctx = Ctx::get();
    let name = RwSignal::new(s(&v, "name"));
    let origins = RwSignal::new(
        rows(&v, "origins")
            .iter()
            .filter_map(|o| o.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let list: Vec<String> = origins
            .get_untracked()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        send(
            "PATCH",
            ctx.admin(""),
            Some(json!({ "name": name.get_untracked(), "origins": list })),
            "Saved.".into(),
        );
    };
    let editable = ctx.is_owner();
    view! {
        <form class="stack" on:submit=save>
            <p class="muted">{format!("App id {} · {} audience · config version {}", s(&v, "app_id"), s(&v, "audience"), i(&v, "config_version"))}</p>
            <label for="app-name">"Name"</label>
            <input id="app-name" type="text" bind:value=name disabled=!editable/>
            <label for="app-origins">"Origins allowed to embed the widget (one per line)"</label>
            <textarea id="app-origins" rows="3" bind:value=origins disabled=!editable></textarea>
            {editable.then(|| view! { <button type="submit">"Save"</button> })}
        </form>
    }
}

#[component]
fn Keys(
    send: impl Fn(&'static str, String, Option<Value>, String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let ctx = Ctx::get();
    let keys = api::fetch(move || {
        ctx.version.get();
        ctx.mode.get();
        ctx.admin("/keys")
    });
    let name = RwSignal::new(String::new());
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send(
            "POST",
            ctx.admin("/keys"),
            Some(json!({ "name": name.get_untracked() })),
            "Key created.".into(),
        );
        name.set(String::new());
    };
    view! {
        <section aria-labelledby="keys-h">
            <h2 id="keys-h">"Admin keys"</h2>
            <p class="muted">"For scripts and the host's backend; a key works in the mode it was made in."</p>
            {show(keys, move |v| view! {
                <div class="scroll"><table>
                    <thead><tr><th scope="col">"Key"</th><th scope="col">"Name"</th><th scope="col">"Mode"</th><th scope="col">"Created"</th><th scope="col">"State"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                    <tbody>
                        {rows(&v, "keys").into_iter().map(|k| {
                            let id = s(&k, "id");
                            let revoked = !k["revoked_at"].is_null();
                            let path = ctx.admin(&format!("/keys/{}", api::enc(&id)));
                            let id2 = id.clone();
                            view! {
                                <tr>
                                    <th scope="row"><code>{id.clone()}</code></th>
                                    <td>{s(&k, "name")}</td>
                                    <td>{label(&s(&k, "mode"))}</td>
                                    <td>{date(i(&k, "created_at"))}</td>
                                    <td>{if revoked { format!("revoked {}", date(i(&k, "revoked_at"))) } else { "active".into() }}</td>
                                    <td>{(!revoked).then(|| view! {
                                        <button class="small danger" on:click=move |_| send("DELETE", path.clone(), None, format!("Key {id2} revoked: it stops working now."))>"Revoke"</button>
                                    })}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table></div>
            }.into_any())}
            <form class="inline" on:submit=create>
                <label>"New key's name"<input type="text" required bind:value=name placeholder="billing backend"/></label>
                <button type="submit">"Create key"</button>
            </form>
        </section>
    }
}

#[component]
fn People(
    send: impl Fn(&'static str, String, Option<Value>, String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let ctx = Ctx::get();
    let people = api::fetch(move || {
        ctx.version.get();
        ctx.admin("/people")
    });
    let email = RwSignal::new(String::new());
    let role = RwSignal::new("viewer".to_string());
    let invite = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send(
            "POST",
            ctx.admin("/people/invitations"),
            Some(json!({ "email": email.get_untracked(), "role": role.get_untracked() })),
            "Invitation created.".into(),
        );
        email.set(String::new());
    };
    view! {
        <section aria-labelledby="people-h">
            <h2 id="people-h">"People"</h2>
            <p class="muted">"Viewers read; editors also change the flow and experiments; owners also manage keys, webhooks and people."</p>
            {show(people, move |v| view! {
                <div class="scroll"><table>
                    <thead><tr><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                    <tbody>
                        {rows(&v, "people").into_iter().map(|p| {
                            let who = s(&p, "email");
                            let enc_who = api::enc(&who);
                            let reset = ctx.admin(&format!("/people/{enc_who}/reset"));
                            let remove = ctx.admin(&format!("/people/{enc_who}"));
                            let me = ctx.me.get_untracked().map(|m| s(&m, "email")) == Some(who.clone());
                            let w2 = who.clone();
                            view! {
                                <tr>
                                    <th scope="row">{who.clone()}</th>
                                    <td>{label(&s(&p, "role"))}</td>
                                    <td class="row-actions">
                                        <button class="small" on:click=move |_| send("POST", reset.clone(), None, "Reset link created.".into())>"Reset password…"</button>
                                        {(!me).then(|| view! {
                                            <button class="small danger" on:click=move |_| send("DELETE", remove.clone(), None, format!("{w2} no longer has a role in this app."))>"Remove"</button>
                                        })}
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table></div>
            }.into_any())}
            <form class="inline" on:submit=invite>
                <label>"Email"<input type="email" required bind:value=email/></label>
                <label>"Role"
                    <select on:change=move |ev| role.set(event_target_value(&ev))>
                        <option value="viewer">"Viewer"</option>
                        <option value="editor">"Editor"</option>
                        <option value="owner">"Owner"</option>
                    </select>
                </label>
                <button type="submit">"Invite"</button>
            </form>
        </section>
    }
}
