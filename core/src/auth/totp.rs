//! The second factor: time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30 s), as every
//! authenticator app speaks them; enrolment by QR code; a code is accepted once (its time step
//! must be later than the last accepted one, so a code seen over a shoulder cannot be replayed
//! within its 30 s); ten recovery codes, each usable once, stored only as SHA-256.

use rand::Rng as _;
use sha2::{Digest as _, Sha256};
use totp_rs::{Algorithm, Secret, TOTP};

/// Steps before and after now that are still accepted (clock skew of ±30 s).
const SKEW: u64 = 1;
/// Seconds per step.
const STEP: u64 = 30;

fn totp(secret_base32: &str, account: &str, issuer: &str) -> Option<TOTP> {
    let secret = Secret::Encoded(secret_base32.to_owned()).to_bytes().ok()?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        u8::try_from(SKEW).unwrap_or(1),
        STEP,
        secret,
        Some(issuer.to_owned()),
        account.to_owned(),
    )
    .ok()
}

/// A new random secret (160 bits, base32).
#[must_use]
pub fn new_secret() -> String {
    let bytes: [u8; 20] = rand::rng().random();
    Secret::Raw(bytes.to_vec()).to_encoded().to_string()
}

/// The `otpauth://` address and a PNG QR code (base64) of it, for enrolment.
#[must_use]
pub fn enrolment(secret: &str, account: &str, issuer: &str) -> Option<(String, String)> {
    let t = totp(secret, account, issuer)?;
    Some((t.get_url(), t.get_qr_base64().ok()?))
}

/// The time step of `code` when it is valid now (±1 step) and later than `last_step`.
#[must_use]
pub fn check(secret: &str, code: &str, last_step: i64, now_unix: u64) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().ok()?;
    let t = TOTP::new_unchecked(Algorithm::SHA1, 6, 1, STEP, bytes, None, String::new());
    let now_step = now_unix / STEP;
    (now_step.saturating_sub(SKEW)..=now_step + SKEW)
        .filter(|step| i64::try_from(*step).is_ok_and(|s| s > last_step))
        .find(|step| {
            let expected = t.generate(step * STEP);
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()).into()
        })
        .and_then(|step| i64::try_from(step).ok())
}

/// The code of `secret` at `unix` seconds (what an authenticator app shows then).
#[must_use]
pub fn code_at(secret: &str, unix: u64) -> Option<String> {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().ok()?;
    let t = TOTP::new_unchecked(Algorithm::SHA1, 6, 1, STEP, bytes, None, String::new());
    Some(t.generate(unix))
}

/// Ten new recovery codes (`abcd-efgh-ijkl`), and their hashes to store.
#[must_use]
pub fn recovery_codes() -> (Vec<String>, Vec<String>) {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let codes: Vec<String> = (0..10)
        .map(|_| {
            (0..3)
                .map(|_| {
                    (0..4)
                        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect();
    let hashes = codes.iter().map(|c| recovery_hash(c)).collect();
    (codes, hashes)
}

/// The stored form of a recovery code (case and dashes do not matter).
#[must_use]
pub fn recovery_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Sha256::digest(normal.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_codes_are_accepted_once() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890": 59 s → 94287082 (8 digits),
        // whose last six are 287082.
        let secret = Secret::Raw(b"12345678901234567890".to_vec())
            .to_encoded()
            .to_string();
        let step = check(&secret, "287082", 0, 59).unwrap();
        assert_eq!(step, 1);
        assert!(
            check(&secret, "287082", step, 59).is_none(),
            "replay in the same step"
        );
        assert!(check(&secret, "287083", 0, 59).is_none());
        assert!(check(&secret, "28708", 0, 59).is_none());
        // 1111111109 s → 07081804.
        assert!(check(&secret, "081804", 0, 1_111_111_109).is_some());
    }

    #[test]
    fn recovery_codes_hash_without_dashes_or_case() {
        let (codes, hashes) = recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(
            recovery_hash(&codes[0].to_uppercase().replace('-', " ")),
            hashes[0]
        );
        assert!(
            enrolment(&new_secret(), "a@b.de", "Stadtkarte Koblenz")
                .unwrap()
                .0
                .starts_with("otpauth://totp/")
        );
    }
}
