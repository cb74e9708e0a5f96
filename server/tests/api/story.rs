//! The storage story: one sequence of use cases driven through the `Store` trait, run against
//! SQLite always and against PostgreSQL when `HOLDFAST_TEST_POSTGRES_URL` is set (scripts/test
//! starts a real server and sets it).

use holdfast_core::caps::{Impression, Snooze};
use holdfast_core::offer::OfferKind;
use holdfast_core::targeting::Redemption;
use holdfast_server::Storage;
use holdfast_server::storage::Scope;
use holdfast_server::storage::prompts::{PromptChange, PromptEvent, ShownPrompt};
use holdfast_server::storage::{
    AcceptanceRecord, IngestBatch, IngestOptions, LifecycleRecord, NewApp, SessionFacts,
    StatsRange, StoredEvent,
};

const DAY: i64 = 86_400;

fn facts(customer: &str, at: i64) -> SessionFacts {
    SessionFacts {
        customer_id: customer.into(),
        started_at: at,
        week: "2026-01-05".into(),
        plan: "pro".into(),
        mrr_cents: 4900,
        tenure_band: "365d+".into(),
        ..SessionFacts::default()
    }
}

fn event(id: &str, session: &str, kind: &'static str, at: i64, f: SessionFacts) -> StoredEvent {
    StoredEvent {
        id: id.into(),
        session_id: session.into(),
        kind,
        at,
        payload: "{}".into(),
        customer_id: f.customer_id.clone(),
        session: Some(f),
        outcome: None,
    }
}

async fn story(storage: Storage, app_id: &str) {
    let t0 = 1_767_571_200; // 2026-01-05
    assert!(storage.ping().await);
    storage
        .ensure_app(&NewApp {
            id: app_id.into(),
            name: "story".into(),
            origins: vec!["https://a.example".into()],
            config_json: "{\"v\":1}".into(),
            now: t0,
        })
        .await
        .unwrap();
    let app = storage.app(app_id).await.unwrap().expect("the app exists");
    assert_eq!((app.config_version, app.settings.origins.len()), (1, 1));
    assert!(storage.app("app_story_missing").await.unwrap().is_none());

    // Config history only grows.
    assert_eq!(
        storage
            .replace_config(app_id, "{\"v\":2}", t0 + 1)
            .await
            .unwrap(),
        2
    );
    let versions = storage.config_versions(app_id).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(
        storage.config_version(app_id, 1).await.unwrap().as_deref(),
        Some("{\"v\":1}")
    );
    assert_eq!(storage.config_version(app_id, 9).await.unwrap(), None);

    // Events: a cancelled session and an abandoned one; a retry is received, then dropped when
    // the log is folded.
    let cancelled = SessionFacts {
        cancelled: true,
        reason: Some("too_expensive".into()),
        ..facts("c1", t0 + 10)
    };
    let batch = [
        event("e1", "s1", "flow_started", t0 + 5, facts("c1", t0 + 5)),
        event("e2", "s1", "cancel_confirmed", t0 + 10, cancelled),
        event(
            "e3",
            "s2",
            "flow_abandoned",
            t0 + 20,
            SessionFacts {
                abandoned: true,
                ..facts("c2", t0 + 20)
            },
        ),
    ];
    let first = storage
        .record_events(Scope::new(app_id, false), &batch)
        .await
        .unwrap();
    assert_eq!(first.accepted, 3);
    let retry = storage
        .record_events(Scope::new(app_id, false), &batch)
        .await
        .unwrap();
    assert_eq!(retry.accepted, 3, "received; the fold drops it");
    storage.settle().await.unwrap();
    let status = storage.ingest_status().await.unwrap();
    if storage.backend() == "sqlite" {
        assert_eq!(status.backlog_rows, 0, "settle folds the whole log");
        assert_eq!(status.folded_events, 6, "both batches were folded");
    }
    // On PostgreSQL other tests' stores share the log: any of them may fold these batches (and
    // this one theirs), and may append more between the settle and this read, so neither count
    // is this store's own; the stats below say the batches were folded.

    // Exposures are sticky.
    let exposure = [("exp".to_string(), "a".to_string())];
    storage
        .record_exposures(Scope::new(app_id, false), "c3", &exposure, t0)
        .await
        .unwrap();
    storage
        .record_exposures(
            Scope::new(app_id, false),
            "c3",
            &[("exp".into(), "b".into())],
            t0,
        )
        .await
        .unwrap();
    assert_eq!(
        storage
            .exposures(Scope::new(app_id, false), "c3")
            .await
            .unwrap(),
        exposure
    );
    assert!(
        storage
            .exposures(Scope::new(app_id, true), "c3")
            .await
            .unwrap()
            .is_empty(),
        "modes are apart"
    );

    // An acceptance saves its session, enters the ledger and is idempotent.
    let saved = SessionFacts {
        saved: true,
        saved_at: Some(t0 + 30),
        offer_id: Some("discount_25".into()),
        offer_kind: Some("discount".into()),
        offer_cost_cents: 3675,
        ..facts("c3", t0 + 30)
    };
    let accept = AcceptanceRecord {
        event_id: "a1".into(),
        session_id: "s3".into(),
        offer_id: "discount_25".into(),
        kind: "discount".into(),
        at: t0 + 30,
        response_json: "{\"accepted\":true}".into(),
        session: saved,
    };
    assert_eq!(
        storage
            .record_acceptance(Scope::new(app_id, false), "c3", &accept)
            .await
            .unwrap(),
        "{\"accepted\":true}"
    );
    let again = AcceptanceRecord {
        response_json: "{\"other\":1}".into(),
        ..accept.clone()
    };
    assert_eq!(
        storage
            .record_acceptance(Scope::new(app_id, false), "c3", &again)
            .await
            .unwrap(),
        "{\"accepted\":true}"
    );
    assert_eq!(
        storage.acceptance(app_id, "a1").await.unwrap().as_deref(),
        Some("{\"accepted\":true}")
    );
    assert_eq!(
        storage
            .ledger(Scope::new(app_id, false), "c3")
            .await
            .unwrap(),
        [Redemption {
            kind: OfferKind::Discount,
            at: t0 + 30
        }]
    );

    // The saved customer churns 40 days later.
    storage
        .record_lifecycle(
            Scope::new(app_id, false),
            &LifecycleRecord {
                customer_id: "c3".into(),
                kind: "churned".into(),
                at: t0 + 40 * DAY,
                plan: None,
                mrr_cents: None,
            },
        )
        .await
        .unwrap();

    let range = StatsRange {
        live: false,
        from: t0,
        to: t0 + DAY,
        now: t0 + 100 * DAY,
    };
    let stats = storage.stats(app_id, &range).await.unwrap();
    let t = stats.totals;
    // s2 was closed the second it opened, with no step: a bounce, reported apart.
    assert_eq!(
        (t.sessions, t.bounces, t.saves, t.cancels, t.abandons),
        (2, 1, 1, 1, 0)
    );
    assert_eq!((t.saved_mrr_cents, t.offer_cost_cents), (4900, 3675));
    let reasons = &stats
        .breakdowns
        .iter()
        .find(|(d, _)| *d == "reason")
        .unwrap()
        .1;
    assert_eq!(
        reasons.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["none", "too_expensive"]
    );
    let durability: Vec<(i64, i64, i64)> = stats
        .durability
        .iter()
        .map(|d| (d.days, d.measured, d.retained))
        .collect();
    assert_eq!(durability, [(30, 1, 1), (60, 1, 0), (90, 1, 0)]);
    let live = storage
        .stats(
            app_id,
            &StatsRange {
                live: true,
                ..range
            },
        )
        .await
        .unwrap();
    assert_eq!(live.totals.sessions, 0);
    assert_eq!(storage.session_count(app_id).await.unwrap(), 3);

    prompt_story(&storage, app_id, t0).await;
    change_story(&storage, app_id, t0).await;
    people_story(&storage, app_id, t0).await;
}

/// People: a person with a role, a session, a one-time link used once, and a role taken away.
async fn people_story(storage: &Storage, app_id: &str, t0: i64) {
    use holdfast_server::storage::users::Invitation;
    let email = format!("{}@example.com", app_id.replace('_', "-"));
    let id = storage.upsert_user(&email, "hash-1", t0).await.unwrap();
    assert_eq!(
        storage.upsert_user(&email, "hash-2", t0 + 1).await.unwrap(),
        id,
        "a second upsert replaces the password of the same person"
    );
    let user = storage.user_by_email(&email).await.unwrap().unwrap();
    assert_eq!(
        (user.id.as_str(), user.password_hash.as_str()),
        (id.as_str(), "hash-2")
    );
    storage.set_role(&id, app_id, "viewer", t0).await.unwrap();
    storage.set_role(&id, app_id, "editor", t0).await.unwrap();
    assert_eq!(
        storage.roles(&id).await.unwrap(),
        [(app_id.to_string(), "editor".to_string())]
    );
    storage
        .create_user_session(&format!("tok-{app_id}"), &id, "csrf", t0, t0 + 60)
        .await
        .unwrap();
    let session = storage
        .user_session(&format!("tok-{app_id}"), t0 + 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (session.user.id, session.csrf),
        (id.clone(), "csrf".to_string())
    );
    assert!(
        storage
            .user_session(&format!("tok-{app_id}"), t0 + 61)
            .await
            .unwrap()
            .is_none(),
        "an expired session is no session"
    );
    let invitation = Invitation {
        token_hash: format!("inv-{app_id}"),
        app_id: app_id.into(),
        email: format!("new-{email}"),
        role: "viewer".into(),
        created_by: email.clone(),
        created_at: t0,
        expires_at: t0 + 60,
    };
    storage.create_invitation(&invitation).await.unwrap();
    assert_eq!(
        storage
            .use_invitation(&invitation.token_hash, t0 + 1)
            .await
            .unwrap(),
        Some(invitation.clone())
    );
    assert_eq!(
        storage
            .use_invitation(&invitation.token_hash, t0 + 2)
            .await
            .unwrap(),
        None,
        "a link works once"
    );
    assert!(storage.remove_role(app_id, &email).await.unwrap());
    assert!(
        !storage.remove_role(app_id, &email).await.unwrap(),
        "no role left"
    );
    assert!(storage.people(app_id).await.unwrap().is_empty());
}

/// The change log: newest first, filtered by an action prefix whose `_` and `%` are literal.
async fn change_story(storage: &Storage, app_id: &str, t0: i64) {
    use holdfast_server::storage::changes::Change;
    let change = |at: i64, action: &str| Change {
        at,
        actor: "user:ed@example.com".into(),
        action: action.into(),
        subject: "3".into(),
        detail: String::new(),
    };
    for (at, action) in [
        (t0, "config.published"),
        (t0 + 1, "key.created"),
        (t0 + 2, "config.restored"),
        (t0 + 3, "configXpublished"),
    ] {
        storage
            .record_change(app_id, &change(at, action))
            .await
            .unwrap();
    }
    let actions = |changes: Vec<Change>| changes.into_iter().map(|c| c.action).collect::<Vec<_>>();
    assert_eq!(
        actions(storage.changes(app_id, None, 10).await.unwrap()),
        [
            "configXpublished",
            "config.restored",
            "key.created",
            "config.published"
        ]
    );
    assert_eq!(
        actions(storage.changes(app_id, Some("config."), 1).await.unwrap()),
        ["config.restored"],
        "the newest of the prefix, at most the limit"
    );
    assert_eq!(
        actions(storage.changes(app_id, Some("config_"), 10).await.unwrap()),
        Vec::<String>::new(),
        "an underscore in the prefix is not a wildcard"
    );
}

fn shown(id: &str, session: &str, at: i64, prompt: &str, trigger_key: &str) -> PromptEvent {
    PromptEvent {
        id: id.into(),
        session_id: session.into(),
        at,
        at_ms: at * 1000,
        prompt: Some(prompt.into()),
        trigger_key: Some(trigger_key.into()),
        change: PromptChange::Shown(ShownPrompt {
            prompt: prompt.into(),
            trigger_key: trigger_key.into(),
            trigger_kind: trigger_key.into(),
            threshold: None,
            plan: "pro".into(),
            variant: None,
        }),
    }
}

fn action(id: &str, session: &str, at: i64, change: PromptChange) -> PromptEvent {
    PromptEvent {
        id: id.into(),
        session_id: session.into(),
        at,
        at_ms: at * 1000,
        prompt: None,
        trigger_key: None,
        change,
    }
}

/// Upgrade prompts: a customer's state across devices, idempotent by event id, and conversions
/// attributed to the latest impression in the 30 days before an upgrade.
async fn prompt_story(storage: &Storage, app_id: &str, t0: i64) {
    let t = t0 + 200 * DAY;
    let batch = [
        shown("p1", "ps1", t, "usage", "usage:projects:90:none"),
        // A click recorded before its impression still counts for it.
        action("p2", "ps2", t + 11, PromptChange::Clicked),
        shown("p3", "ps2", t + 10, "gate", "gate:sso"),
        action(
            "p4",
            "ps1",
            t + 1,
            PromptChange::Dismissed(Some(Snooze {
                prompt: "usage".into(),
                until: t + 7 * DAY,
            })),
        ),
        action(
            "p5",
            "pg",
            t + 9,
            PromptChange::GateHit {
                feature: "sso".into(),
            },
        ),
    ];
    storage
        .record_prompt_events(Scope::new(app_id, false), "c9", &batch)
        .await
        .unwrap();
    storage
        .record_prompt_events(Scope::new(app_id, false), "c9", &batch)
        .await
        .unwrap();
    let state = storage
        .prompt_state(Scope::new(app_id, false), "c9", t - DAY, t + 2, 1000)
        .await
        .unwrap();
    assert_eq!(
        state.impressions,
        [
            Impression {
                prompt: "usage".into(),
                at: t,
                trigger_key: "usage:projects:90:none".into(),
            },
            Impression {
                prompt: "gate".into(),
                at: t + 10,
                trigger_key: "gate:sso".into(),
            },
        ]
    );
    assert_eq!(
        state.snoozes,
        [Snooze {
            prompt: "usage".into(),
            until: t + 7 * DAY
        }]
    );
    assert_eq!(
        state.gate_hits.into_iter().collect::<Vec<_>>(),
        [("sso".to_string(), 1)],
        "a retry counts nothing twice"
    );
    let later = storage
        .prompt_state(Scope::new(app_id, false), "c9", t + 5, t + 8 * DAY, 1)
        .await
        .unwrap();
    assert_eq!(later.impressions.len(), 1, "since and limit bound the list");
    assert!(later.snoozes.is_empty(), "an elapsed snooze is gone");
    let other_mode = storage
        .prompt_state(Scope::new(app_id, true), "c9", 0, t, 1000)
        .await
        .unwrap();
    assert!(other_mode.impressions.is_empty() && other_mode.gate_hits.is_empty());

    // An upgrade 20 days later converts the latest impression before it, and only that one.
    storage
        .record_lifecycle(
            Scope::new(app_id, false),
            &LifecycleRecord {
                customer_id: "c9".into(),
                kind: "upgraded".into(),
                at: t + 20 * DAY,
                plan: Some("team".into()),
                mrr_cents: Some(9900),
            },
        )
        .await
        .unwrap();
    storage
        .attribute_upgrades(Scope::new(app_id, false), "c9")
        .await
        .unwrap();
    let range = StatsRange {
        live: false,
        from: t,
        to: t + DAY,
        now: t + 30 * DAY,
    };
    let stats = storage.prompt_stats(app_id, &range).await.unwrap();
    let totals = stats.totals;
    assert_eq!(
        (
            totals.shown,
            totals.clicked,
            totals.dismissed,
            totals.trials,
            totals.upgraded
        ),
        (2, 1, 1, 0, 1)
    );
    let by_prompt = &stats
        .breakdowns
        .iter()
        .find(|(d, _)| *d == "prompt")
        .unwrap()
        .1;
    let converted: Vec<(&str, i64)> = by_prompt
        .iter()
        .map(|(k, tally)| (k.as_str(), tally.upgraded))
        .collect();
    assert_eq!(converted, [("gate", 1), ("usage", 0)]);
    assert_eq!(
        stats.breakdowns.iter().map(|(d, _)| *d).collect::<Vec<_>>(),
        ["prompt", "trigger", "threshold", "plan", "variant"]
    );
    let live = storage
        .prompt_stats(
            app_id,
            &StatsRange {
                live: true,
                ..range
            },
        )
        .await
        .unwrap();
    assert_eq!(live.totals.shown, 0);
}

/// A batch answered but not folded before the process stopped is folded by the next start: the
/// first store runs without its aggregator, as if it crashed right after the 200.
async fn the_log_survives_a_restart(url: &str, app_id: &str) {
    let t0 = 1_767_571_200;
    let stopped = Storage::open_with(
        url,
        IngestOptions {
            aggregate: false,
            ..IngestOptions::default()
        },
    )
    .await
    .unwrap();
    stopped
        .ensure_app(&NewApp {
            id: app_id.into(),
            name: "story".into(),
            origins: vec![],
            config_json: "{}".into(),
            now: t0,
        })
        .await
        .unwrap();
    let events = [
        event("r1", "rs1", "flow_started", t0 + 5, facts("c1", t0 + 5)),
        event(
            "r2",
            "rs1",
            "cancel_confirmed",
            t0 + 6,
            SessionFacts {
                cancelled: true,
                ..facts("c1", t0 + 6)
            },
        ),
    ];
    let prompts = [shown(
        "rp1",
        "rps1",
        t0 + 7,
        "usage",
        "usage:projects:90:none",
    )];
    let exposures = [("exp".to_string(), "b".to_string())];
    let batch = IngestBatch {
        customer_id: "c1",
        events: &events,
        prompt_events: &prompts,
        exposures: &exposures,
        received_at: t0 + 8,
    };
    assert_eq!(
        stopped
            .ingest(Scope::new(app_id, false), &batch)
            .await
            .unwrap()
            .accepted,
        2
    );
    assert!(
        stopped.settle().await.is_err(),
        "without an aggregator, settling cannot succeed"
    );
    let status = stopped.ingest_status().await.unwrap();
    assert!(status.backlog_rows >= 1 && status.backlog_events >= 2);
    drop(stopped);

    let restarted = Storage::open(url).await.unwrap();
    let range = StatsRange {
        live: false,
        from: t0,
        to: t0 + DAY,
        now: t0 + DAY,
    };
    let totals = restarted.stats(app_id, &range).await.unwrap().totals;
    assert_eq!((totals.sessions, totals.cancels), (1, 1));
    let state = restarted
        .prompt_state(Scope::new(app_id, false), "c1", t0, t0 + DAY, 10)
        .await
        .unwrap();
    assert_eq!(state.impressions.len(), 1);
    assert_eq!(
        restarted
            .exposures(Scope::new(app_id, false), "c1")
            .await
            .unwrap(),
        exposures
    );
    // Folding the same batch again (a retry) changes nothing.
    restarted
        .ingest(Scope::new(app_id, false), &batch)
        .await
        .unwrap();
    let again = restarted.stats(app_id, &range).await.unwrap().totals;
    assert_eq!(again, totals);
    assert_eq!(
        restarted
            .prompt_stats(app_id, &range)
            .await
            .unwrap()
            .totals
            .shown,
        1
    );
}

#[tokio::test]
async fn the_storage_story_holds_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("story.db").display());
    story(Storage::open(&url).await.unwrap(), "app_story").await;
}

#[tokio::test]
async fn the_storage_story_holds_on_postgres() {
    let Ok(url) = std::env::var("HOLDFAST_TEST_POSTGRES_URL") else {
        println!(
            "skipped PostgreSQL: HOLDFAST_TEST_POSTGRES_URL is not set (scripts/test sets it)"
        );
        return;
    };
    // A fresh app id per run, so a reused database never collides with an earlier run.
    let app_id = format!("app_story_{}", uuid::Uuid::new_v4().simple());
    story(Storage::open(&url).await.unwrap(), &app_id).await;
    let app_id = format!("app_restart_{}", uuid::Uuid::new_v4().simple());
    the_log_survives_a_restart(&url, &app_id).await;
}

#[tokio::test]
async fn accepted_batches_survive_a_restart_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("restart.db").display());
    the_log_survives_a_restart(&url, "app_restart").await;
}

/// A row the database refuses (PostgreSQL has no U+0000 in `text`) is set aside with its error,
/// and the rows around it are folded: reads keep answering. The edge refuses such values (see
/// `events`); this is the storage's own guarantee for anything that gets past it. Returns the
/// sessions folded of the three.
async fn a_row_that_cannot_be_folded_never_stops_the_fold(storage: &Storage, app_id: &str) -> i64 {
    let t0 = 1_767_571_200;
    storage
        .ensure_app(&NewApp {
            id: app_id.into(),
            name: "story".into(),
            origins: vec![],
            config_json: "{}".into(),
            now: t0,
        })
        .await
        .unwrap();
    let poisoned = SessionFacts {
        reason: Some("x\u{0}y".into()),
        ..facts("c2", t0 + 2)
    };
    let batches = [
        event("n1", "ns1", "flow_started", t0 + 1, facts("c1", t0 + 1)),
        event("n2", "ns2", "reason_selected", t0 + 2, poisoned),
        event("n3", "ns3", "flow_started", t0 + 3, facts("c3", t0 + 3)),
    ];
    for e in &batches {
        let batch = IngestBatch {
            customer_id: &e.customer_id,
            events: std::slice::from_ref(e),
            prompt_events: &[],
            exposures: &[],
            received_at: e.at,
        };
        storage
            .ingest(Scope::new(app_id, false), &batch)
            .await
            .unwrap();
    }
    let range = StatsRange {
        live: false,
        from: t0,
        to: t0 + DAY,
        now: t0 + DAY,
    };
    let totals = storage
        .stats(app_id, &range)
        .await
        .expect("stats answer after a row that cannot be folded")
        .totals;
    assert!(totals.sessions >= 2, "the good rows around it are folded");
    // A later batch still folds.
    let later = [event(
        "n4",
        "ns4",
        "flow_started",
        t0 + 4,
        facts("c4", t0 + 4),
    )];
    let batch = IngestBatch {
        customer_id: "c4",
        events: &later,
        prompt_events: &[],
        exposures: &[],
        received_at: t0 + 4,
    };
    storage
        .ingest(Scope::new(app_id, false), &batch)
        .await
        .unwrap();
    let after = storage.stats(app_id, &range).await.unwrap().totals;
    assert_eq!(after.sessions, totals.sessions + 1);
    totals.sessions
}

#[tokio::test]
async fn a_row_postgresql_refuses_is_set_aside_and_the_fold_goes_on() {
    let Ok(url) = std::env::var("HOLDFAST_TEST_POSTGRES_URL") else {
        println!(
            "skipped PostgreSQL: HOLDFAST_TEST_POSTGRES_URL is not set (scripts/test sets it)"
        );
        return;
    };
    let app_id = format!("app_poison_{}", uuid::Uuid::new_v4().simple());
    let storage = Storage::open(&url).await.unwrap();
    let sessions = a_row_that_cannot_be_folded_never_stops_the_fold(&storage, &app_id).await;
    assert_eq!(
        sessions, 2,
        "PostgreSQL refuses NUL: that row is not folded"
    );
    // Set aside with the reason (by whichever replica's aggregator met it: tests share the
    // database).
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let (count, error): (i64, Option<String>) =
        sqlx::query_as("SELECT COUNT(*), MAX(error) FROM ingest_log_failed WHERE app_id = $1")
            .bind(&app_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(count, 1);
    assert!(error.unwrap_or_default().contains("0x00"));
}

#[tokio::test]
async fn a_row_with_a_nul_folds_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("poison.db").display());
    let storage = Storage::open(&url).await.unwrap();
    let sessions = a_row_that_cannot_be_folded_never_stops_the_fold(&storage, "app_poison").await;
    assert_eq!(sessions, 3, "SQLite stores NUL in text");
}

/// An app from before keys existed (one secret, one mode) keeps working: at the next start its
/// secret becomes that mode's signing secret and an admin key of that mode, stored hashed.
async fn a_legacy_app_keeps_its_secret_as_keys(
    url: &str,
    app_id: &str,
    insert: impl std::future::Future<Output = ()>,
) {
    drop(Storage::open(url).await.unwrap());
    insert.await;
    let storage = Storage::open(url).await.unwrap();
    let secrets = storage.signing_secrets(app_id).await.unwrap();
    assert_eq!(secrets.len(), 1);
    assert_eq!(
        (
            secrets[0].kid.as_str(),
            secrets[0].mode,
            secrets[0].secret.as_str()
        ),
        ("legacy", holdfast_server::keys::Mode::Live, "sk_old")
    );
    let key = storage
        .admin_key(app_id, &holdfast_server::keys::hash_admin_key("sk_old"))
        .await
        .unwrap()
        .expect("the old secret opens the admin API");
    assert_eq!(
        (key.app_id.as_str(), key.mode),
        (app_id, holdfast_server::keys::Mode::Live)
    );
    // Once moved, a restart changes nothing.
    drop(storage);
    let storage = Storage::open(url).await.unwrap();
    assert_eq!(storage.signing_secrets(app_id).await.unwrap().len(), 1);
    assert_eq!(storage.admin_keys(app_id).await.unwrap().len(), 1);
}

const LEGACY_APP: &str = "INSERT INTO apps (id, secret, live, origins, config, config_version, created_at) VALUES ($1, 'sk_old', $2, '[]', '{}', 1, 1)";

#[tokio::test]
async fn a_legacy_app_keeps_its_secret_as_keys_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("legacy.db").display());
    let insert = async {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query(LEGACY_APP)
            .bind("app_old")
            .bind(true)
            .execute(&pool)
            .await
            .unwrap();
    };
    a_legacy_app_keeps_its_secret_as_keys(&url, "app_old", insert).await;
}

#[tokio::test]
async fn a_legacy_app_keeps_its_secret_as_keys_on_postgres() {
    let Ok(url) = std::env::var("HOLDFAST_TEST_POSTGRES_URL") else {
        println!(
            "skipped PostgreSQL: HOLDFAST_TEST_POSTGRES_URL is not set (scripts/test sets it)"
        );
        return;
    };
    let app_id = format!("app_old_{}", uuid::Uuid::new_v4().simple());
    let insert = async {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query(LEGACY_APP)
            .bind(&app_id)
            .bind(true)
            .execute(&pool)
            .await
            .unwrap();
    };
    a_legacy_app_keeps_its_secret_as_keys(&url, &app_id, insert).await;
}
