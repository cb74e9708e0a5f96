//! Who may call what: the admin bearer key and live-mode customer signatures.
//!
//! Both compare secrets in constant time, so response timing never reveals how much of a guess
//! was right.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// `hex(HMAC-SHA256(secret, customer_id))`: what the host's backend puts in `customer.hash`.
pub fn customer_hash(secret: &str, customer_id: &str) -> String {
    hex::encode(mac(secret, customer_id).finalize().into_bytes())
}

fn mac(secret: &str, customer_id: &str) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(customer_id.as_bytes());
    mac
}

/// Checks a live-mode customer's `hash` against the app secret.
pub fn verify_customer(
    secret: &str,
    customer_id: &str,
    hash: Option<&str>,
) -> Result<(), ApiError> {
    let hash = hash.ok_or_else(|| {
        ApiError::bad_customer_hash(
            "live mode requires customer.hash = hex(HMAC-SHA256(secret, id))",
        )
    })?;
    let bytes = hex::decode(hash)
        .map_err(|_| ApiError::bad_customer_hash("customer.hash is not hexadecimal"))?;
    mac(secret, customer_id)
        .verify_slice(&bytes)
        .map_err(|_| ApiError::bad_customer_hash("customer.hash does not match the customer id"))
}

/// Checks `Authorization: Bearer <secret>` against the app's secret.
pub fn verify_bearer(header: Option<&str>, secret: &str) -> Result<(), ApiError> {
    let header = header.ok_or_else(ApiError::missing_key)?;
    let key = header
        .strip_prefix("Bearer ")
        .ok_or_else(ApiError::missing_key)?
        .trim();
    if bool::from(key.as_bytes().ct_eq(secret.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::wrong_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_made_with_the_secret_verifies_and_any_other_does_not() {
        let good = customer_hash("sk", "cus_1");
        assert!(verify_customer("sk", "cus_1", Some(&good)).is_ok());
        assert!(verify_customer("sk", "cus_2", Some(&good)).is_err());
        assert!(verify_customer("other", "cus_1", Some(&good)).is_err());
        assert!(verify_customer("sk", "cus_1", None).is_err());
    }
}
