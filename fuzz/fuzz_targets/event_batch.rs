//! `POST /v1/apps/{app}/events`: parse a batch, verify its customer, validate its events.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = holdfast_server::fuzzing::event_batch(data);
});
