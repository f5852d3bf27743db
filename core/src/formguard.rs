//! Bots filling citizens' forms: every form carries a signed timestamp of when it was shown
//! ([`token`]) and an empty decoy field (the honeypot, named `website`) that people never see.
//! A submission that comes back faster than a person can type, with an old or forged stamp, or
//! with the decoy filled, is refused ([`check`]). No captcha, nothing from elsewhere.

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use rand::Rng as _;
use sha2::Sha256;

use crate::db::{Conn, DbError};
use crate::problem::Problem;

/// Name of the decoy field.
pub const HONEYPOT: &str = "website";

/// Longest a form may stay open (seconds).
const MAX_AGE: i64 = 24 * 3600;

/// The key as read: it never changes once made, so every form after the first needs no query.
static KEY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

/// The key that signs the stamps, shared by every node (made by the first that asks).
async fn key(client: &impl Conn) -> Result<Vec<u8>, DbError> {
    if let Some(key) = KEY.get() {
        return Ok(key.clone());
    }
    let key = read_key(client).await?;
    Ok(KEY.get_or_init(|| key).clone())
}

async fn read_key(client: &impl Conn) -> Result<Vec<u8>, DbError> {
    let fresh: [u8; 32] = rand::rng().random();
    let row = client
        .query_one(
            "WITH made AS (
                 INSERT INTO auth.secrets (name, value) VALUES ('formular', $1)
                 ON CONFLICT (name) DO NOTHING RETURNING value)
             SELECT value FROM made UNION ALL SELECT value FROM auth.secrets WHERE name = 'formular' LIMIT 1",
            &[&fresh.to_vec()],
        )
        .await
        .map_err(DbError::query("reading the form key"))?;
    Ok(row.get(0))
}

fn sign(key: &[u8], form: &str, at: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable_mac());
    mac.update(format!("{form}:{at}").as_bytes());
    let sig = mac.finalize().into_bytes();
    format!(
        "{at}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&sig[..16])
    )
}

#[allow(clippy::panic)]
fn unreachable_mac() -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this cannot happen.
    panic!("HMAC rejected its key")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// The stamp for a form named `form`, shown now.
pub async fn token(client: &impl Conn, form: &str) -> Result<String, DbError> {
    Ok(sign(&key(client).await?, form, now()))
}

/// Refuses a submission of `form` with `stamp` that came back in under `min_secs`, whose stamp
/// is forged or older than a day, or whose decoy is filled.
pub async fn check(
    client: &impl Conn,
    form: &str,
    stamp: &str,
    decoy: &str,
    min_secs: i64,
) -> Result<(), Problem> {
    let refused = |why: &str| {
        tracing::info!(form, why, "form refused as automated");
        Problem::bad_request(
            "Das Formular konnte nicht angenommen werden; bitte laden Sie die Seite neu und senden Sie es noch einmal. / The form could not be accepted; please reload the page and send it again.",
        )
    };
    if !decoy.is_empty() {
        return Err(refused("decoy filled"));
    }
    let key = key(client).await?;
    let Some((at, _)) = stamp.split_once('.') else {
        return Err(refused("no stamp"));
    };
    let Ok(at) = at.parse::<i64>() else {
        return Err(refused("bad stamp"));
    };
    let expected = sign(&key, form, at);
    let same: bool = subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), stamp.as_bytes()).into();
    if !same {
        return Err(refused("forged stamp"));
    }
    let age = now() - at;
    if age < min_secs {
        return Err(refused("too fast"));
    }
    if age > MAX_AGE {
        return Err(refused("too old"));
    }
    Ok(())
}
