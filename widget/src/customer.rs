//! The `customer` option: a customer token (a JWT the host's backend signed: live mode) or, in
//! test mode, an object checked field by field into what the server's `Customer` type accepts
//! (known fields only, dates as Unix seconds). One table drives the checks, so the cancel bundle
//! carries a few hundred bytes of them instead of a decoder per field. A token is sent as it is;
//! its claims are read here (never verified: the server does) only for what the browser itself
//! shows or keys by: the customer id, locale, currency, plan and place.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::js::field;

/// What a field must hold.
#[derive(Clone, Copy)]
enum Kind {
    /// A string with something in it.
    NonEmpty,
    /// Any string.
    Text,
    /// A whole number of minor currency units.
    Cents,
    /// Unix seconds or an ISO 8601 date.
    Date,
    /// A seat count.
    Count,
    /// `true` or `false`.
    Flag,
    /// Custom attributes: strings, numbers or booleans.
    Attributes,
}

/// (field, kind, required), in the order the contract lists them.
const FIELDS: [(&str, Kind, bool); 13] = [
    ("id", Kind::NonEmpty, true),
    ("plan", Kind::NonEmpty, true),
    ("mrr_cents", Kind::Cents, true),
    ("created_at", Kind::Date, true),
    ("seats_used", Kind::Count, false),
    ("seats_limit", Kind::Count, false),
    ("country", Kind::Text, false),
    ("region", Kind::Text, false),
    ("locale", Kind::Text, false),
    ("currency", Kind::Text, false),
    ("segment", Kind::Text, false),
    ("discounted", Kind::Flag, false),
    ("attributes", Kind::Attributes, false),
];

fn whole(v: &JsValue, max: f64) -> Result<JsValue, &'static str> {
    match v.as_f64() {
        Some(n) if n.is_finite() => {
            if n.fract() != 0.0 || n < 0.0 || n > max {
                Err("a whole number in range")
            } else {
                Ok(n.into())
            }
        }
        _ => Err("a number"),
    }
}

fn check(kind: Kind, v: &JsValue, path: &str) -> Result<JsValue, String> {
    let expected = |what: &str| [path, ": expected ", what].concat();
    let text = |what| {
        v.as_string()
            .map(JsValue::from)
            .ok_or_else(|| expected(what))
    };
    match kind {
        Kind::NonEmpty => match v.as_string() {
            Some(s) if !s.trim().is_empty() => Ok(s.into()),
            _ => Err(expected("a non-empty string")),
        },
        Kind::Text => text("a string"),
        Kind::Cents => whole(v, 1e13).map_err(expected),
        Kind::Count => whole(v, 4_294_967_295.0).map_err(expected),
        Kind::Date => match v.as_string() {
            Some(s) => {
                let ms = js_sys::Date::parse(&s);
                if ms.is_nan() {
                    Err(expected("Unix seconds or an ISO 8601 date"))
                } else {
                    Ok((ms / 1000.0).floor().into())
                }
            }
            None => whole(v, 1e11).map_err(expected),
        },
        Kind::Flag => v
            .as_bool()
            .map(JsValue::from)
            .ok_or_else(|| expected("true or false")),
        Kind::Attributes => {
            let out = Object::new();
            if let Some(o) = v.dyn_ref::<Object>() {
                for pair in Object::entries(o).iter() {
                    let pair: Array = pair.unchecked_into();
                    let (k, a) = (pair.get(0).as_string().unwrap_or_default(), pair.get(1));
                    if a.as_bool().is_none() && a.as_f64().is_none() && a.as_string().is_none() {
                        return Err(
                            [path, ".", &k, ": expected a string, number or boolean"].concat()
                        );
                    }
                    let _ = Reflect::set(&out, &k.into(), &a);
                }
            }
            Ok(out.into())
        }
    }
}

/// Checks the customer the host passed (`path` names it in errors, e.g. `customer`) and returns
/// it normalised, or `customer.mrr_cents: expected a number`.
pub fn normalize(v: &JsValue, path: &str) -> Result<Object, String> {
    if !v.is_object() {
        return Err([
            path,
            ": expected an object { id, plan, mrr_cents, created_at, ... }",
        ]
        .concat());
    }
    let out = Object::new();
    for (key, kind, required) in FIELDS {
        let value = field(v, key);
        let field = [path, ".", key].concat();
        if value.is_undefined() || value.is_null() {
            if required {
                return Err(check(kind, &value, &field).err().unwrap_or_default());
            }
            continue;
        }
        let _ = Reflect::set(&out, &key.into(), &check(kind, &value, &field)?);
    }
    Ok(out)
}

/// The customer the host passed: what is sent to the server, and its fields for local reads.
pub struct Subject {
    /// The token string, or the normalised object.
    pub wire: JsValue,
    /// The fields (a token's claims, with `id` set from `sub`).
    pub view: Object,
}

/// Accepts a token or an object (see the module doc); an error names what is wrong.
pub fn accept(v: &JsValue, path: &str) -> Result<Subject, String> {
    if let Some(token) = v.as_string() {
        let view =
            claims(&token).ok_or_else(|| [path, ": expected a customer token (JWT)"].concat())?;
        return Ok(Subject {
            wire: v.clone(),
            view,
        });
    }
    let view = normalize(v, path)?;
    Ok(Subject {
        wire: view.clone().into(),
        view,
    })
}

/// A token's claims, decoded from its middle part, with `id` = `sub`.
pub fn claims(token: &str) -> Option<Object> {
    let payload = token.split('.').nth(1)?;
    let mut b64: String = payload
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !b64.len().is_multiple_of(4) {
        b64.push('=');
    }
    let text = web_sys::window()?.atob(&b64).ok()?;
    let claims: Object = js_sys::JSON::parse(&text).ok()?.dyn_into().ok()?;
    let _ = Reflect::set(&claims, &"id".into(), &field(&claims, "sub"));
    Some(claims)
}

/// The customer id of what was sent (a token's `sub`, an object's `id`): how the outbox groups
/// events and finds a fresher token for them.
pub fn id_of(wire: &JsValue) -> JsValue {
    match wire.as_string() {
        Some(token) => claims(&token).map_or(JsValue::UNDEFINED, |c| field(&c, "id")),
        None => field(wire, "id"),
    }
}

/// A string field of a normalised customer.
pub fn text(customer: &Object, key: &str) -> Option<String> {
    crate::js::text(customer, key)
}
