//! The event outbox: every widget event is written to `localStorage` first, sent in batches, and
//! removed only once the server has taken it. A reload, a closed tab or a flaky network loses
//! nothing, and because every event carries a UUID the server counts a resent event once.
//!
//! On a host page the loader is the one sender (its `flush`, whichever bundles are loaded), so the
//! prompt bundle carries no sender at all. The cancel bundle keeps its own ([`flush`] without the
//! loader: the crate embedded directly, and the browser tests).

use std::cell::RefCell;

use js_sys::{Array, Function, JSON, Object};
use wasm_bindgen::prelude::*;

use crate::js::set;
use crate::net;

/// Oldest events are dropped past this, so a long-offline page cannot fill the quota.
const CAPACITY: usize = 1000;

thread_local! {
    /// The loader's settings object: its `token` is the newest customer token the page handed
    /// to `Holdfast.identify`; `flush` sends the outbox and `post` sends one request.
    static LOADER: RefCell<JsValue> = const { RefCell::new(JsValue::UNDEFINED) };
}

/// A function of the loader's settings (`flush`, `post`); `None` without the loader.
pub fn loader_fn(name: &str) -> Option<Function> {
    let f = LOADER.with(|l| crate::js::field(&l.borrow(), name));
    f.is_function().then(|| f.unchecked_into())
}

/// Starts sending to the configured server and app ([`net::target`]), beginning with what a
/// previous page left.
pub fn start() {
    #[cfg(feature = "cancel")]
    if loader_fn("flush").is_none() {
        sender::install_pagehide();
    }
    flush();
}

fn key(app: &str) -> String {
    ["holdfast:outbox:", app].concat()
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The stored entries, `[{customer, event}]`.
pub fn pending(app: &str) -> Array {
    storage()
        .and_then(|s| s.get_item(&key(app)).ok()?)
        .and_then(|text| JSON::parse(&text).ok())
        .filter(Array::is_array)
        .map(|v| Array::from(&v))
        .unwrap_or_default()
}

fn store(app: &str, entries: &Array) {
    if let (Some(s), Ok(text)) = (storage(), JSON::stringify(entries))
        && let Some(text) = text.as_string()
    {
        let _ = s.set_item(&key(app), &text);
    }
}

/// A random UUID v4 from the browser's CSPRNG: event ids, session ids, idempotency keys.
pub fn uuid() -> String {
    // From getRandomValues, which every page has: randomUUID exists only on https pages, and a
    // plain-http host page must not lose its events to empty ids.
    let mut b = [0u8; 16];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut b).is_ok());
    if !filled {
        return String::new();
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(char::from(HEX[usize::from(byte >> 4)]));
        s.push(char::from(HEX[usize::from(byte & 15)]));
    }
    s
}

/// The page's session id, for events outside a cancel flow (prompts, gate hits).
fn page_session() -> String {
    thread_local!(static PAGE: String = uuid());
    PAGE.with(Clone::clone)
}

/// A new event object with its UUID and timestamp: `{id, type, at, session_id}`; an empty
/// `session_id` means the page's own session.
pub fn event(kind: &str, session_id: &str) -> Object {
    let session_id = if session_id.is_empty() {
        page_session()
    } else {
        session_id.to_string()
    };
    let session_id = session_id.as_str();
    let e = Object::new();
    set(&e, "id", &uuid().into());
    set(&e, "type", &kind.into());
    set(&e, "at", &js_sys::Date::now().into());
    set(&e, "session_id", &session_id.into());
    e
}

/// Records `event` for `customer` (already normalised) and starts sending.
pub fn push(customer: &JsValue, event: Object) {
    let Some(net::Target { app, .. }) = net::target() else {
        return;
    };
    let entries = pending(&app);
    let entry = Object::new();
    set(&entry, "customer", customer);
    set(&entry, "event", &event);
    entries.push(&entry);
    while entries.length() as usize > CAPACITY {
        entries.shift();
    }
    store(&app, &entries);
    flush();
}

/// Keeps the loader's settings object, whose `token` `Holdfast.identify` sets.
pub fn watch_loader(settings: JsValue) {
    LOADER.with(|l| *l.borrow_mut() = settings);
}

/// Sends everything pending: through the loader when it is on the page; otherwise (cancel bundle)
/// batch by batch, retrying with jittered exponential backoff while the server is unreachable or
/// busy, one flush at a time.
pub fn flush() {
    if let Some(f) = loader_fn("flush") {
        let _ = f.call0(&JsValue::NULL);
    } else {
        #[cfg(feature = "cancel")]
        sender::flush();
    }
}

/// The cancel bundle's own sender, for pages without the loader (the prompt bundle has none).
#[cfg(feature = "cancel")]
mod sender {
    use std::cell::Cell;

    use js_sys::{Array, JSON, Object, Reflect};
    use wasm_bindgen::prelude::*;

    use super::{LOADER, pending, store};
    use crate::js::{later, set};
    use crate::net;

    /// At most this many events per request (the server's batch limit).
    const BATCH: usize = 100;

    thread_local! {
        static SENDING: Cell<bool> = const { Cell::new(false) };
    }

    /// Sends everything pending unless a flush is already running.
    pub(super) fn flush() {
        if !SENDING.with(|s| s.replace(true)) {
            send_next(0);
        }
    }

    /// The next batch: up to [`BATCH`] events of the first entry's customer.
    fn next_batch(entries: &Array) -> Option<(JsValue, Array)> {
        let first = entries.get(0);
        if first.is_undefined() {
            return None;
        }
        let customer = Reflect::get(&first, &"customer".into()).ok()?;
        let id = crate::customer::id_of(&customer);
        let events = Array::new();
        for entry in entries.iter() {
            let c = Reflect::get(&entry, &"customer".into()).unwrap_or_default();
            if crate::customer::id_of(&c) == id && (events.length() as usize) < BATCH {
                events.push(&Reflect::get(&entry, &"event".into()).unwrap_or_default());
            }
        }
        // A token may have expired while the events waited: send with the newest one the page
        // handed over for the same customer (`Holdfast.identify`).
        let newest =
            LOADER.with(|l| Reflect::get(&l.borrow(), &"token".into()).unwrap_or_default());
        let customer = if customer.is_string()
            && newest.is_string()
            && crate::customer::id_of(&newest) == id
        {
            newest
        } else {
            customer
        };
        Some((customer, events))
    }

    fn body(customer: &JsValue, events: &Array) -> Option<String> {
        let b = Object::new();
        set(&b, "customer", customer);
        set(&b, "events", events);
        JSON::stringify(&b).ok()?.as_string()
    }

    fn remove(app: &str, sent: &Array) {
        let ids: Vec<JsValue> = sent
            .iter()
            .map(|e| Reflect::get(&e, &"id".into()).unwrap_or_default())
            .collect();
        let kept = pending(app).filter(&mut |entry, _, _| {
            let id = Reflect::get(&entry, &"event".into())
                .and_then(|e| Reflect::get(&e, &"id".into()))
                .unwrap_or_default();
            !ids.contains(&id)
        });
        store(app, &kept);
    }

    /// The index `i` of an error body whose field is `events[i]...`.
    fn refused_index(body: &JsValue) -> Option<u32> {
        let field = Reflect::get(body, &"error".into())
            .and_then(|e| Reflect::get(&e, &"field".into()))
            .ok()?
            .as_string()?;
        let rest = field.strip_prefix("events[")?;
        rest.split(']').next()?.parse().ok()
    }

    /// Sends the next batch; `attempt` counts failures in a row.
    fn send_next(attempt: u32) {
        let done = || SENDING.with(|s| s.set(false));
        let Some(target) = net::target() else {
            return done();
        };
        let entries = pending(&target.app);
        let Some((customer, events)) = next_batch(&entries) else {
            return done();
        };
        let url = target.url("/events");
        let app = target.app;
        let Some(payload) = body(&customer, &events) else {
            return done();
        };
        net::request(
            "POST",
            &url,
            Some(&payload),
            10_000,
            false,
            move |answer| match answer {
                Ok(_) => {
                    remove(&app, &events);
                    send_next(0);
                }
                // Refused for good: keeping it would block the queue forever. When the server names
                // one event (`events[3].id`), only that one is dropped and the rest are sent again.
                Err(net::Failure::Refused(body)) => {
                    web_sys::console::warn_2(&"Holdfast: the server refused events".into(), &body);
                    match refused_index(&body).map(|i| events.get(i)) {
                        Some(bad) if !bad.is_undefined() => remove(&app, &Array::of1(&bad)),
                        _ => remove(&app, &events),
                    }
                    send_next(0);
                }
                Err(net::Failure::Later) => {
                    let attempt = attempt + 1;
                    if attempt > 8 {
                        // Kept in storage: the next page load tries again.
                        return SENDING.with(|s| s.set(false));
                    }
                    let base = 1000.0 * f64::from(1u32 << attempt.min(6));
                    let delay = base.min(60_000.0) * (0.5 + js_sys::Math::random());
                    later(delay as i32, move || send_next(attempt));
                }
            },
        );
    }

    /// On `pagehide`, hand what is pending to a keepalive request that outlives the page. The entries
    /// stay stored: if that request is lost the next page sends them, and the server drops duplicates.
    pub(super) fn install_pagehide() {
        thread_local!(static INSTALLED: Cell<bool> = const { Cell::new(false) });
        if INSTALLED.with(|i| i.replace(true)) {
            return;
        }
        let Some(window) = web_sys::window() else {
            return;
        };
        let handler = Closure::<dyn FnMut()>::new(|| {
            let Some(target) = net::target() else {
                return;
            };
            if let Some((customer, events)) = next_batch(&pending(&target.app))
                && let Some(payload) = body(&customer, &events)
            {
                let url = target.url("/events");
                net::request("POST", &url, Some(&payload), 10_000, true, drop);
            }
        });
        let _ =
            window.add_event_listener_with_callback("pagehide", handler.as_ref().unchecked_ref());
        handler.forget();
    }
}
