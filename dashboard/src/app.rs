//! The shell: who is signed in, which app, mode and range the pages show, the navigation, and
//! the sign-in and invitation pages.

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{Value, json};
use wasm_bindgen::JsCast;

use crate::api::{self, Failure};
use crate::nav::{BASE, Ctx, Link, current_path, hash};
use crate::pages;

/// The whole dashboard.
#[component]
pub fn App() -> impl IntoView {
    let ctx = Ctx {
        me: RwSignal::new(None),
        app: RwSignal::new(String::new()),
        mode: RwSignal::new("test"),
        days: RwSignal::new(90),
        route: RwSignal::new(current_path()),
        version: RwSignal::new(0),
    };
    provide_context(ctx);
    let checked = RwSignal::new(false);
    let accept_token = RwSignal::new(hash().strip_prefix("#accept=").map(str::to_string));

    // Back and forward move between pages.
    let on_pop =
        wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || ctx.route.set(current_path()));
    if let Some(w) = web_sys::window() {
        let _ = w.add_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref());
    }
    on_pop.forget();
    // A one-time link opened in a tab already on the dashboard changes only the hash.
    let on_hash = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
        if let Some(token) = hash().strip_prefix("#accept=") {
            accept_token.set(Some(token.to_string()));
        }
    });
    if let Some(w) = web_sys::window() {
        let _ = w.add_event_listener_with_callback("hashchange", on_hash.as_ref().unchecked_ref());
    }
    on_hash.forget();

    Effect::new(move |_| {
        let mode = ctx.mode.get();
        api::set_mode(mode);
    });
    spawn_local(async move {
        if let Ok(me) = api::call("GET", "/v1/auth/me", None).await {
            signed_in(ctx, me);
        }
        checked.set(true);
    });

    view! {
        <a class="skip" href="#main">"Skip to content"</a>
        {move || {
            if let Some(token) = accept_token.get() {
                view! { <Accept token=token done=accept_token/> }.into_any()
            } else if !checked.get() {
                view! { <p class="boot" aria-busy="true">"Loading…"</p> }.into_any()
            } else if ctx.me.get().is_none() {
                view! { <SignIn/> }.into_any()
            } else {
                view! { <Shell/> }.into_any()
            }
        }}
    }
}

fn signed_in(ctx: Ctx, me: Value) {
    api::set_csrf(me["csrf_token"].as_str().unwrap_or_default());
    if ctx.app.get_untracked().is_empty()
        && let Some(first) = me["apps"][0]["app_id"].as_str()
    {
        ctx.app.set(first.to_string());
    }
    ctx.me.set(Some(me));
}

/// Sign-in with email and password.
#[component]
fn SignIn() -> impl IntoView {
    let ctx = Ctx::get();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        error.set(None);
        let body = json!({ "email": email.get_untracked(), "password": password.get_untracked() });
        spawn_local(async move {
            match api::call("POST", "/v1/auth/sign-in", Some(&body)).await {
                Ok(me) => signed_in(ctx, me),
                Err(f) => error.set(Some(f.message)),
            }
            busy.set(false);
        });
    };
    view! {
        <main id="main" class="narrow">
            <h1>"Sign in to Holdfast"</h1>
            <form on:submit=submit class="stack" data-testid="sign-in">
                <label for="email">"Email"</label>
                <input id="email" type="email" autocomplete="username" required bind:value=email/>
                <label for="password">"Password"</label>
                <input id="password" type="password" autocomplete="current-password" required bind:value=password/>
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <button type="submit" class="primary" disabled=move || busy.get()>"Sign in"</button>
            </form>
            <p class="muted">"No account yet? An owner of your app invites you with a one-time link; the first owner is created with "<code>"holdfast-server users create"</code>"."</p>
        </main>
    }
}

/// Taking up an invitation or reset link: choose a password, then you are signed in.
#[component]
fn Accept(token: String, done: RwSignal<Option<String>>) -> impl IntoView {
    let ctx = Ctx::get();
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<Failure>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = json!({ "token": token.clone(), "password": password.get_untracked() });
        spawn_local(async move {
            match api::call("POST", "/v1/auth/accept", Some(&body)).await {
                Ok(me) => {
                    signed_in(ctx, me);
                    if let Some(w) = web_sys::window()
                        && let Ok(h) = w.history()
                    {
                        let _ = h.replace_state_with_url(
                            &wasm_bindgen::JsValue::NULL,
                            "",
                            Some(&format!("{BASE}/")),
                        );
                    }
                    done.set(None);
                }
                Err(f) => error.set(Some(f)),
            }
        });
    };
    view! {
        <main id="main" class="narrow">
            <h1>"Choose your password"</h1>
            <form on:submit=submit class="stack">
                <label for="new-password">"New password (at least 10 characters)"</label>
                <input id="new-password" type="password" autocomplete="new-password" required minlength="10" bind:value=password/>
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e.message}</p> })}
                <button type="submit" class="primary">"Set password and sign in"</button>
            </form>
        </main>
    }
}

/// The signed-in layout: the header's choices, the navigation and the page.
#[component]
fn Shell() -> impl IntoView {
    let ctx = Ctx::get();
    let sign_out = move |_| {
        spawn_local(async move {
            let _ = api::call("POST", "/v1/auth/sign-out", None).await;
            ctx.me.set(None);
        });
    };
    let apps = move || {
        ctx.me
            .get()
            .and_then(|me| me["apps"].as_array().cloned())
            .unwrap_or_default()
    };
    let nav = [
        ("/", "Overview"),
        ("/breakdowns", "Breakdowns"),
        ("/sessions", "Sessions"),
        ("/experiments", "Experiments"),
        ("/prompts", "Prompts"),
        ("/flow", "Flow editor"),
        ("/webhooks", "Webhooks"),
        ("/compliance", "Compliance"),
        ("/settings", "Settings"),
    ];
    view! {
        <header class="top">
            <span class="brand">"Holdfast"</span>
            <div class="choices">
                <label>
                    <span class="sr-only">"App"</span>
                    <select
                        aria-label="App"
                        on:change=move |ev| ctx.app.set(event_target_value(&ev))
                        prop:value=move || ctx.app.get()
                    >
                        {move || apps().into_iter().map(|a| {
                            let id = a["app_id"].as_str().unwrap_or_default().to_string();
                            view! { <option value=id.clone()>{id.clone()}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <div class="toggle" role="group" aria-label="Mode">
                    <button aria-pressed=move || (ctx.mode.get() == "test").to_string() on:click=move |_| ctx.mode.set("test")>"Test"</button>
                    <button aria-pressed=move || (ctx.mode.get() == "live").to_string() on:click=move |_| ctx.mode.set("live")>"Live"</button>
                </div>
                <label>
                    <span class="sr-only">"Range"</span>
                    <select
                        aria-label="Range"
                        on:change=move |ev| ctx.days.set(event_target_value(&ev).parse().unwrap_or(90))
                        prop:value=move || ctx.days.get().to_string()
                    >
                        <option value="7">"Last 7 days"</option>
                        <option value="30">"Last 30 days"</option>
                        <option value="90">"Last 90 days"</option>
                        <option value="365">"Last 12 months"</option>
                    </select>
                </label>
                <span class="who">{move || ctx.me.get().and_then(|m| m["email"].as_str().map(str::to_string))}</span>
                <button class="link" on:click=sign_out>"Sign out"</button>
            </div>
        </header>
        <nav class="side" aria-label="Dashboard">
            <ul>
                {nav.into_iter().map(|(to, name)| view! { <li><Link to=to.to_string()>{name}</Link></li> }).collect_view()}
            </ul>
        </nav>
        <main id="main" tabindex="-1">
            {move || {
                let route = ctx.route.get();
                let parts: Vec<&str> = route.trim_matches('/').split('/').collect();
                match parts.as_slice() {
                    [""] => view! { <pages::overview::Overview/> }.into_any(),
                    ["breakdowns"] => view! { <pages::overview::Breakdowns/> }.into_any(),
                    ["sessions"] => view! { <pages::sessions::Sessions/> }.into_any(),
                    ["experiments"] => view! { <pages::experiments::List/> }.into_any(),
                    ["experiments", key] => view! { <pages::experiments::Report key=key.to_string()/> }.into_any(),
                    ["prompts"] => view! { <pages::prompts::Prompts/> }.into_any(),
                    ["flow"] => view! { <pages::flow::Editor/> }.into_any(),
                    ["webhooks"] => view! { <pages::webhooks::Webhooks/> }.into_any(),
                    ["compliance"] => view! { <pages::compliance::Compliance/> }.into_any(),
                    ["settings"] => view! { <pages::settings::Settings/> }.into_any(),
                    _ => view! { <h1>"Not found"</h1><p>"No such page. "<Link to="/".to_string()>"Back to the overview"</Link></p> }.into_any(),
                }
            }}
        </main>
    }
}
