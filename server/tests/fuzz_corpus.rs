//! The fuzz corpus, replayed on stable: every file under `fuzz/corpus/<target>/` (what the fuzz
//! targets found worth keeping) and `fuzz/regressions/<target>/` (inputs that once broke a
//! parser) goes through the same `holdfast_server::fuzzing` function as its target, so a fixed
//! crash stays fixed without a nightly build. A target whose corpus is missing or empty fails,
//! so this can never pass by testing nothing.

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use holdfast_server::fuzzing;

/// The repository's `fuzz/` directory.
fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `fuzz/<kind>/<target>/`, sorted; none when the directory does not exist.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(fuzz_dir().join(kind).join(target)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("corpus entry reads").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Feeds every corpus and regression file of `target` to `run`, then fails naming each input
/// that panicked; fails too when the corpus is missing or empty.
fn replay(target: &str, run: impl Fn(&[u8])) {
    let corpus = inputs("corpus", target);
    assert!(
        !corpus.is_empty(),
        "fuzz/corpus/{target}/ is missing or empty: the replay would test nothing"
    );
    let mut panicked = Vec::new();
    for path in corpus.iter().chain(&inputs("regressions", target)) {
        let bytes = fs::read(path).expect("corpus file reads");
        if catch_unwind(AssertUnwindSafe(|| run(&bytes))).is_err() {
            panicked.push(path.display().to_string());
        }
    }
    assert!(
        panicked.is_empty(),
        "{target} panicked on {} input(s): {panicked:#?}",
        panicked.len()
    );
}

#[test]
fn every_app_config_in_the_corpus_is_answered_without_a_panic() {
    replay("app_config", |b| drop(fuzzing::app_config(b)));
}

#[test]
fn every_event_batch_in_the_corpus_is_answered_without_a_panic() {
    replay("event_batch", |b| drop(fuzzing::event_batch(b)));
}

#[test]
fn every_customer_token_in_the_corpus_is_answered_without_a_panic() {
    replay("customer_token", |b| {
        drop(fuzzing::customer_token(b));
        drop(fuzzing::signed_customer_claims(b));
    });
}

#[test]
fn every_cancel_form_in_the_corpus_is_answered_without_a_panic() {
    replay("cancel_form", |b| drop(fuzzing::cancel_form(b)));
}

#[test]
fn every_ingest_log_segment_in_the_corpus_is_read_without_a_panic() {
    replay("ingest_log", |b| drop(fuzzing::ingest_log(b)));
}
