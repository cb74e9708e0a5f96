//! `PUT /v1/admin/apps/{app}/config`: parse and validate an app config.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = holdfast_server::fuzzing::app_config(data);
});
