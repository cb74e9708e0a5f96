//! The server's parsers as pure functions of bytes, for the fuzz targets in `fuzz/` and the test
//! that replays their corpus on stable (`tests/fuzz_corpus.rs`).
//!
//! Each function runs the same parse and validation code as its route (or the aggregator), up to
//! the point where the route would touch storage: the request body goes in, the route's answer
//! (an [`ApiError`] for refused input) comes out. The app and the clock are fixed (see
//! [`fuzz_app`] and [`NOW`]), so a corpus file means the same thing on every run.
//!
//! The contract is that none of them panics on any input. Where the server relies on an
//! invariant of what it accepted (a saved config loads back, an accepted batch decodes back
//! from the ingest log), the function asserts it: a panic here is always a server bug.

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use holdfast_core::config::{AppConfig, Validation};
use holdfast_core::flow::Step;

use crate::apps::{KnownIds, LoadedApp};
use crate::customers::{self, CustomerInput, Expiry, VerifiedCustomer};
use crate::error::ApiError;
use crate::funnel::{self, ValidBatch};
use crate::keys::{Mode, SigningSecret};
use crate::routes::events::Batch;
use crate::storage::aggregate::{self, Decoded};
use crate::storage::{AppRecord, IngestBatch, apps::AppSettings, filelog};

/// The fixed "now" of every check (2026-01-01T00:00:00Z, Unix seconds), so token expiry and
/// event times in the corpus do not go stale.
pub const NOW: i64 = 1_767_225_600;

/// The fuzz app's id: tokens name it as their `aud`.
pub const APP_ID: &str = "app_fuzz";

/// The key id of the fuzz app's test-mode signing secret (its live one is `fuzz_live`).
pub const TEST_KID: &str = "fuzz_test";

/// The fuzz app's test-mode signing secret: a fixed, public value used only here, so seed tokens
/// can be signed for it and [`signed_customer_claims`] can reach the claims checks.
pub const TEST_SIGNING_KEY: &str = "fuzzing-only-not-a-secret-test";

/// The app every function checks input against: the demo's default config, and a test and a
/// live signing secret.
pub fn fuzz_app() -> &'static Arc<LoadedApp> {
    static APP: OnceLock<Arc<LoadedApp>> = OnceLock::new();
    APP.get_or_init(|| {
        let config_json = serde_json::to_string(&AppConfig::default())
            .unwrap_or_else(|e| unreachable!("the default config serializes: {e}"));
        let record = AppRecord {
            id: APP_ID.into(),
            settings: AppSettings {
                name: "Fuzz".into(),
                origins: Vec::new(),
            },
            config_json: config_json.clone(),
            config_version: 1,
        };
        let secret = |mode, kid: &str, secret: &str| SigningSecret {
            mode,
            kid: kid.into(),
            secret: secret.into(),
            created_at: NOW - 86_400,
            retires_at: None,
        };
        let signing = vec![
            secret(Mode::Test, TEST_KID, TEST_SIGNING_KEY),
            secret(Mode::Live, "fuzz_live", "fuzzing-only-not-a-secret-live"),
        ];
        let known = Arc::new(KnownIds::gather(&[config_json]));
        let app = LoadedApp::new(record, signing, known)
            .unwrap_or_else(|e| unreachable!("the default config loads: {e}"));
        Arc::new(app)
    })
}

/// `PUT /v1/admin/apps/{app}/config`: the body parsed as core's `AppConfig` and validated; an
/// accepted config is stored as JSON and loaded back as the app cache loads it, which must give
/// the same, still valid config.
pub fn app_config(body: &[u8]) -> Result<Validation, ApiError> {
    let config: AppConfig = crate::extract::parse_json(body)?;
    let validation = config.validate();
    if !validation.is_ok() {
        return Err(ApiError::invalid_config(validation.errors));
    }
    let json = serde_json::to_string(&config).map_err(anyhow::Error::from)?;
    let stored = AppRecord {
        id: APP_ID.into(),
        settings: fuzz_app().record.settings.clone(),
        config_json: json.clone(),
        config_version: 2,
    };
    let known = Arc::new(KnownIds::gather(&[json]));
    let loaded = LoadedApp::new(stored, Vec::new(), known)
        .unwrap_or_else(|e| panic!("an accepted config must load back: {e}"));
    assert_eq!(
        loaded.config, config,
        "an accepted config loads back as saved"
    );
    assert!(
        loaded.config.validate().is_ok(),
        "an accepted config is still valid when loaded back"
    );
    Ok(validation)
}

/// `POST /v1/apps/{app}/events`: the body parsed as the route parses it, its customer verified
/// (a token, or a plain object in test mode) and its events validated at [`NOW`]. An accepted
/// batch is encoded as the ingest log stores it and must decode back, event for event.
pub fn event_batch(body: &[u8]) -> Result<ValidBatch, ApiError> {
    let Batch(batch) = Batch::parse(body)?;
    let app = fuzz_app();
    let verified = customers::verify(app, &batch.customer, NOW, Expiry::FunnelGrace)?;
    let valid = funnel::validate_batch(app, &verified, &batch.events, NOW * 1000)?;
    let logged = aggregate::encode(&IngestBatch {
        customer_id: &verified.customer.id,
        events: &valid.stored,
        prompt_events: &valid.prompt_events,
        exposures: &valid.exposures,
        received_at: NOW,
    })
    .map_err(ApiError::internal)?;
    let entry = aggregate::decode(1, APP_ID.into(), false, NOW, logged)
        .unwrap_or_else(|(_, e)| panic!("an accepted batch must decode from the log: {e}"));
    assert_eq!(
        entry.events.len(),
        valid.stored.len(),
        "every accepted event comes back from the log"
    );
    Ok(valid)
}

/// A customer token as every public route verifies it (test-mode grace: none), for the fuzz
/// app at [`NOW`]. Input that is not UTF-8 cannot arrive in a JSON string or a query and is
/// refused as such.
pub fn customer_token(token: &[u8]) -> Result<VerifiedCustomer, ApiError> {
    let token = std::str::from_utf8(token)
        .map_err(|_| ApiError::bad_request("invalid_json", "the token is not UTF-8"))?;
    customers::verify(
        fuzz_app(),
        &CustomerInput::Token(token.to_string()),
        NOW,
        Expiry::Strict,
    )
}

/// `claims`, signed as a token with the fuzz app's test secret, then verified as
/// [`customer_token`] verifies: the fuzzer cannot forge a signature, so this is how it reaches
/// the claims' parsing and checks.
pub fn signed_customer_claims(claims: &[u8]) -> Result<VerifiedCustomer, ApiError> {
    let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{TEST_KID}"}}"#);
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(TEST_SIGNING_KEY.as_bytes())
        .map_err(anyhow::Error::from)?;
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    customer_token(format!("{signing_input}.{signature}").as_bytes())
}

/// `POST /cancel/{app}`: the form body read into the page's fields, its session checked and its
/// `history` replayed into core's flow under the form's profile, as the page does before it
/// records anything. Returns the step the replayed flow is at.
pub fn cancel_form(body: &[u8]) -> Result<Step, ApiError> {
    crate::routes::cancel_page::read_form_and_replay(body)
}

/// The SQLite backend's ingest log: `segment` read as a segment file (corrupt records skipped,
/// a torn tail refused), each record's body decoded and the events folded into sessions as the
/// aggregator does before it writes.
pub fn ingest_log(segment: &[u8]) -> std::io::Result<Decoded> {
    let (_, records) = filelog::read_segment(segment)?;
    let rows = records
        .into_iter()
        .map(|r| (r.id, r.app_id, r.live, r.received_at, r.body))
        .collect();
    let decoded = aggregate::decode_rows(rows);
    let distinct = aggregate::distinct_by_key(&decoded.entries);
    aggregate::fold_sessions(&distinct);
    Ok(decoded)
}
