//! `POST /cancel/{app}`: read the form and replay its flow history.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = holdfast_server::fuzzing::cancel_form(data);
});
