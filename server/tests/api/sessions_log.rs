//! The sessions log the growth team reads: each cancel session with what its subscriber wrote in
//! the survey, searchable, filtered, a page at a time behind a cursor, or all of it as CSV. Events
//! go through the real ingest endpoint; runs on SQLite and on the real PostgreSQL of
//! `scripts/test`.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    TEST_APP, TestApp, customer, event, json_of, now, spawn_app, spawn_app_on_postgres, uuid,
};

/// Words with a comma and quotes, as subscribers write them.
const WORDS: &str = "Too pricey, and the \"team\" plan still lacks SSO";

/// A moment of its own in the past (the PostgreSQL database outlives one test), within the last
/// day: the server closes sessions a day old as abandoned, and one of the story's stays open.
fn moment() -> i64 {
    now() - 3_600 - i64::from(uuid::Uuid::new_v4().as_fields().0 % 80_000)
}

async fn log(app: &TestApp, query: &str) -> (u16, Value) {
    json_of(
        app.admin(Method::GET, TEST_APP, &format!("/sessions?{query}"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The session ids of a log page, in order.
fn ids(page: &Value) -> Vec<&str> {
    page["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {page}"))
        .iter()
        .map(|s| s["session_id"].as_str().unwrap())
        .collect()
}

/// The sessions a story plays, newest first.
struct Story {
    /// `other` with [`WORDS`], no offer, cancelled.
    other: String,
    /// `too_expensive` with words, on the starter plan, saved by a discount.
    price: String,
    /// Answered `other` with words, then `not_using` without: abandoned on a pause.
    changed: String,
    /// `other` with words, then (in a later request) `missing_feature` with others; still open.
    open: String,
    /// Its customer id.
    open_customer: String,
}

async fn story(app: &TestApp, t0: i64) -> Story {
    let run = uuid();
    let ms = t0 * 1000;
    let started = |s: &str, at: i64| event("flow_started", s, at, json!({ "profile": "standard" }));

    let other = uuid();
    app.play(TEST_APP, &json!({ "customer": customer(&format!("cus_other_{run}")), "events": [
        started(&other, ms),
        event("reason_selected", &other, ms + 1_000, json!({ "reason": "other", "free_text": WORDS })),
        event("cancel_confirmed", &other, ms + 2_000, json!({ "reason": "other" })),
    ]}))
    .await;

    let price = uuid();
    let mut starter = customer(&format!("cus_price_{run}"));
    starter["plan"] = json!("starter");
    starter["mrr_cents"] = json!(1900);
    app.play(TEST_APP, &json!({ "customer": starter, "events": [
        started(&price, ms + 10_000),
        event("reason_selected", &price, ms + 11_000, json!({ "reason": "too_expensive", "free_text": "The price doubled since spring" })),
        event("offer_shown", &price, ms + 12_000, json!({ "offer_id": "discount_25" })),
        event("offer_accepted", &price, ms + 13_000, json!({ "offer_id": "discount_25" })),
    ]}))
    .await;

    let changed = uuid();
    app.play(TEST_APP, &json!({ "customer": customer(&format!("cus_changed_{run}")), "events": [
        started(&changed, ms + 20_000),
        event("reason_selected", &changed, ms + 21_000, json!({ "reason": "other", "free_text": "first draft of an answer" })),
        event("reason_selected", &changed, ms + 22_000, json!({ "reason": "not_using" })),
        event("offer_shown", &changed, ms + 23_000, json!({ "offer_id": "pause_2" })),
        event("flow_abandoned", &changed, ms + 24_000, json!({})),
    ]}))
    .await;

    let open = uuid();
    let open_customer = format!("cus_open_{run}");
    app.play(TEST_APP, &json!({ "customer": customer(&open_customer), "events": [
        started(&open, ms + 30_000),
        event("reason_selected", &open, ms + 31_000, json!({ "reason": "other", "free_text": "first thoughts" })),
    ]}))
    .await;
    // A later request: the stored row folds the new answer over the old one.
    app.play(TEST_APP, &json!({ "customer": customer(&open_customer), "events": [
        event("reason_selected", &open, ms + 32_000, json!({ "reason": "missing_feature", "free_text": "  We need SSO  " })),
        event("offer_shown", &open, ms + 33_000, json!({ "offer_id": "roadmap" })),
    ]}))
    .await;
    Story {
        other,
        price,
        changed,
        open,
        open_customer,
    }
}

async fn the_log_shows_searches_and_filters_what_subscribers_wrote(app: TestApp) {
    let t0 = moment();
    let s = story(&app, t0).await;
    let range = format!("from={t0}&to={}", t0 + 60);

    let (status, page) = log(&app, &range).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        ids(&page),
        [&s.open, &s.changed, &s.price, &s.other],
        "newest first"
    );
    assert_eq!(
        (&page["total"], &page["next_cursor"]),
        (&json!(4), &json!(null))
    );
    let by = |id: &str| {
        page["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["session_id"] == id)
            .unwrap()
            .clone()
    };
    let other = by(&s.other);
    assert_eq!(
        (&other["reason"], &other["free_text"], &other["outcome"]),
        (&json!("other"), &json!(WORDS), &json!("cancelled"))
    );
    assert_eq!(
        (&other["offer_id"], &other["offer_kind"], &other["profile"]),
        (&json!(null), &json!(null), &json!("standard"))
    );
    assert_eq!(
        (&other["started_at"], &other["plan"], &other["mrr_cents"]),
        (&json!(t0), &json!("pro"), &json!(4900))
    );
    assert_eq!(
        (&other["tenure_band"], &other["variant"]),
        (&json!("90-365d"), &json!(null)),
        "a customer of a year, the session a little earlier"
    );
    let price = by(&s.price);
    assert_eq!(
        (&price["outcome"], &price["offer_id"], &price["offer_kind"]),
        (&json!("saved"), &json!("discount_25"), &json!("discount"))
    );
    assert_eq!(price["free_text"], "The price doubled since spring");
    let changed = by(&s.changed);
    assert_eq!(
        (
            &changed["reason"],
            &changed["free_text"],
            &changed["outcome"]
        ),
        (&json!("not_using"), &json!(null), &json!("abandoned")),
        "the latest answer wins, its lack of words too"
    );
    let open = by(&s.open);
    assert_eq!(
        (&open["reason"], &open["free_text"], &open["outcome"]),
        (
            &json!("missing_feature"),
            &json!("We need SSO"),
            &json!("open")
        ),
        "a later request's answer replaces the stored one"
    );
    assert_eq!(open["customer_id"], s.open_customer);

    // Search: a word of the free text, any case; a customer id; a session id; wildcards that
    // match only themselves.
    let search = |q: &str| format!("{range}&q={}", urlencode(q));
    let session_prefix = s.price[..13].to_uppercase();
    for (q, expected) in [
        ("sso", vec![&s.open, &s.other]),
        ("PRICEY", vec![&s.other]),
        ("\"team\"", vec![&s.other]),
        (&s.open_customer[4..], vec![&s.open]),
        (session_prefix.as_str(), vec![&s.price]),
        // As LIKE wildcards these would find "SSO"; they are searched for as written.
        ("s%o", vec![]),
        ("ss_", vec![]),
        ("draft", vec![]),
    ] {
        let (status, page) = log(&app, &search(q)).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(ids(&page), expected, "q={q}");
        assert_eq!(page["total"], expected.len(), "q={q}");
    }

    // Each filter, alone and with a search.
    for (filter, expected) in [
        ("reason=other", vec![&s.other]),
        ("reason=none", vec![]),
        ("outcome=saved", vec![&s.price]),
        ("outcome=cancelled", vec![&s.other]),
        ("outcome=abandoned", vec![&s.changed]),
        ("outcome=open", vec![&s.open]),
        ("offer_kind=discount", vec![&s.price]),
        ("offer_kind=none", vec![&s.other]),
        ("plan=starter", vec![&s.price]),
        (
            "variant=none",
            vec![&s.open, &s.changed, &s.price, &s.other],
        ),
        ("variant=x%3Ay", vec![]),
        ("q=sso&outcome=open", vec![&s.open]),
        (
            "reason=&plan=&q=",
            vec![&s.open, &s.changed, &s.price, &s.other],
        ),
    ] {
        let (status, page) = log(&app, &format!("{range}&{filter}")).await;
        assert_eq!(status, 200, "{filter}: {page}");
        assert_eq!(ids(&page), expected, "{filter}");
    }

    // The CSV holds every matching session (no page limit), its free text intact.
    let r = app
        .admin(
            Method::GET,
            TEST_APP,
            &format!("/sessions?{range}&format=csv&limit=1"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"sessions.csv\""
    );
    let rows = parse_csv(&r.text().await.unwrap());
    let header = &rows[0];
    assert_eq!(
        header,
        &[
            "session_id",
            "customer_id",
            "started_at",
            "plan",
            "mrr_cents",
            "tenure_band",
            "variant",
            "reason",
            "free_text",
            "offer_id",
            "offer_kind",
            "outcome",
            "profile"
        ]
    );
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let csv_ids: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r[column("session_id")].as_str())
        .collect();
    assert_eq!(csv_ids, [&s.open, &s.changed, &s.price, &s.other]);
    let other = rows.iter().find(|r| r[0] == s.other).unwrap();
    assert_eq!(
        other[column("free_text")],
        WORDS,
        "a comma and quotes round-trip"
    );
    assert_eq!(
        (
            other[column("outcome")].as_str(),
            other[column("profile")].as_str()
        ),
        ("cancelled", "standard")
    );
    let r = app
        .admin(
            Method::GET,
            TEST_APP,
            &format!("/sessions?{range}&format=csv&outcome=saved"),
        )
        .send()
        .await
        .unwrap();
    let rows = parse_csv(&r.text().await.unwrap());
    assert_eq!(rows.len(), 2, "the header and the one saved session");
    assert_eq!(rows[1][0], s.price);
}

#[tokio::test]
async fn the_log_shows_what_subscribers_wrote_searchable_and_filtered() {
    the_log_shows_searches_and_filters_what_subscribers_wrote(spawn_app().await).await;
}

#[tokio::test]
async fn the_log_is_the_same_on_postgres() {
    let Some(app) = spawn_app_on_postgres().await else {
        eprintln!("HOLDFAST_TEST_POSTGRES_URL unset: the PostgreSQL sessions log test is skipped");
        return;
    };
    the_log_shows_searches_and_filters_what_subscribers_wrote(app).await;
}

async fn pages_cover_every_session_once_newest_first(app: TestApp) {
    let t0 = moment();
    // 23 sessions, three to a second: pages break inside a second.
    let events: Vec<Value> = (0..23)
        .map(|i| {
            event(
                "flow_started",
                &uuid(),
                (t0 + i / 3) * 1000,
                json!({ "profile": "standard" }),
            )
        })
        .collect();
    let mut expected: Vec<(i64, String)> = events
        .iter()
        .map(|e| {
            (
                e["at"].as_i64().unwrap() / 1000,
                e["session_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    expected.sort();
    expected.reverse();
    app.play(
        TEST_APP,
        &json!({ "customer": customer(&format!("cus_pages_{}", uuid())), "events": events }),
    )
    .await;

    let range = format!("from={t0}&to={}", t0 + 60);
    let mut seen: Vec<(i64, String)> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("{range}&limit=5&cursor={c}"),
            None => format!("{range}&limit=5"),
        };
        let (status, page) = log(&app, &query).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total"], 23, "the total is the same on every page");
        pages += 1;
        seen.extend(page["sessions"].as_array().unwrap().iter().map(|s| {
            (
                s["started_at"].as_i64().unwrap(),
                s["session_id"].as_str().unwrap().to_string(),
            )
        }));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 5, "5 + 5 + 5 + 5 + 3");
    assert_eq!(seen, expected, "every session once, newest first, no gap");
    let unique: HashSet<&(i64, String)> = seen.iter().collect();
    assert_eq!(unique.len(), 23);
}

#[tokio::test]
async fn pages_follow_one_another_without_a_duplicate_or_a_gap() {
    pages_cover_every_session_once_newest_first(spawn_app().await).await;
}

#[tokio::test]
async fn pages_follow_one_another_on_postgres() {
    let Some(app) = spawn_app_on_postgres().await else {
        eprintln!("HOLDFAST_TEST_POSTGRES_URL unset: the PostgreSQL pagination test is skipped");
        return;
    };
    pages_cover_every_session_once_newest_first(app).await;
}

#[tokio::test]
async fn a_bad_outcome_limit_cursor_filter_or_range_is_refused_naming_it() {
    let app = spawn_app().await;
    for (query, status, field) in [
        ("outcome=maybe", 400, "outcome"),
        ("limit=0", 422, "limit"),
        ("limit=201", 422, "limit"),
        ("limit=ten", 400, "limit"),
        ("cursor=not-a-cursor", 422, "cursor"),
        // A well-formed base64 of something that is no page's end.
        ("cursor=aGVsbG8", 422, "cursor"),
        ("reason=a%01b", 422, "reason"),
        ("q=%00", 422, "q"),
        ("from=100&to=100", 422, "from"),
        ("sort=newest", 400, "sort"),
    ] {
        let (got, body) = log(&app, query).await;
        assert_eq!(got, status, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    let (status, body) = log(&app, "mode=live").await;
    assert_eq!(status, 403, "a test key reads test data only: {body}");
    let r = app
        .client
        .get(format!("{}/v1/admin/apps/{TEST_APP}/sessions", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_viewer_reads_the_log_in_the_dashboard() {
    let app = spawn_app().await;
    let t0 = moment();
    story(&app, t0).await;
    let email = "viewer@acme.example";
    let password = "correct horse battery staple";
    holdfast_server::operator::create_user(
        &app.storage,
        email,
        TEST_APP,
        "viewer",
        Some(password.into()),
        now(),
    )
    .await
    .unwrap();
    let r = app
        .post("/v1/auth/sign-in")
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let (status, page) = json_of(
        app.client
            .get(format!(
                "{}/v1/admin/apps/{TEST_APP}/sessions?from={t0}&to={}&q=sso",
                app.url,
                t0 + 60
            ))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "a viewer reads: {page}");
    assert_eq!(page["total"], 2);
}

/// Percent-encodes a query value.
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Reads CSV as RFC 4180 writes it: quoted fields, `""` for a quote, line breaks inside quotes.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field) = (Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}
