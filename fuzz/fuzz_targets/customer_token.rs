//! A customer token: verified as sent, and (so the claims checks are reached) signed as claims.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = holdfast_server::fuzzing::customer_token(data);
    let _ = holdfast_server::fuzzing::signed_customer_claims(data);
});
