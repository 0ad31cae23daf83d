//! Signing of deliveries: `X-Recordport-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<body>")>`.
//!
//! In: a webhook's secret, the delivery's body and the time. Out: the header value ([`sign`]),
//! and the check a receiver makes ([`verify`]). Guarantees: the timestamp is part of what is
//! signed, so a receiver that rejects old timestamps is safe from replays; [`verify`] compares in
//! constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header every delivery carries.
pub const SIGNATURE_HEADER: &str = "X-Recordport-Signature";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; the error is unreachable, but never a panic.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| HmacSha256::new_from_slice(&[]).expect("an empty HMAC key is valid"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// Whether `header` is a valid signature of `body` with `secret`: what a receiver checks.
pub fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return false;
    };
    signatures.into_iter().any(|hex| {
        decode_hex(hex)
            .is_some_and(|bytes| mac(secret, timestamp, body).verify_slice(&bytes).is_ok())
    })
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_hmac() {
        // RFC 4231 test case 2 pins the primitive; the header then adds "<t>." before the body.
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let header = sign("Jefe", 1_700_000_000, b"{}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(header.len(), "t=1700000000,v1=".len() + 64);
    }

    #[test]
    fn verify_accepts_the_signature_and_rejects_any_change() {
        let body = br#"{"event":"record.created"}"#;
        let header = sign("s3cret-s3cret-s3cret", 1_700_000_000, body);
        assert!(verify("s3cret-s3cret-s3cret", &header, body));
        assert!(!verify("another-secret-entirely", &header, body));
        assert!(!verify("s3cret-s3cret-s3cret", &header, b"{}"));
        let other_time = header.replace("t=1700000000", "t=1700000001");
        assert!(!verify("s3cret-s3cret-s3cret", &other_time, body));
        assert!(!verify("s3cret-s3cret-s3cret", "v1=abc", body));
    }
}
