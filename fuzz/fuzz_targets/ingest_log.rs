//! The ingest log: read a segment's records, decode and fold them.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = holdfast_server::fuzzing::ingest_log(data);
});
