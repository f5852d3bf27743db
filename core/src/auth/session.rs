//! Server-side sessions: a random 256-bit token in an `HttpOnly`, `SameSite=Lax` cookie
//! (`Secure` and with the `__Host-` prefix when the public address is https); the database
//! keeps only its SHA-256, with idle and absolute expiry, and a CSRF token for the forms.
//! Signing in always makes a new session (no fixation); signing out deletes it on the server.

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use rand::Rng as _;
use sha2::{Digest as _, Sha256};
use tokio_postgres::GenericClient;

use crate::config::Config;
use crate::db::DbError;

/// A new random token (32 bytes, URL-safe base64).
#[must_use]
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a session token.
#[must_use]
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether the platform is reached over https (then cookies are `Secure` with `__Host-`).
#[must_use]
pub fn is_https(config: &Config) -> bool {
    config.server.public_url.starts_with("https://")
}

/// The session cookie's name.
#[must_use]
pub fn cookie_name(config: &Config) -> &'static str {
    if is_https(config) {
        "__Host-stadtkarte_sitzung"
    } else {
        "stadtkarte_sitzung"
    }
}

/// The `Set-Cookie` value that carries `token` (or clears the cookie with `None`).
#[must_use]
pub fn set_cookie(config: &Config, token: Option<&str>) -> HeaderValue {
    let secure = if is_https(config) { "; Secure" } else { "" };
    let value = match token {
        Some(t) => format!(
            "{}={t}; Path=/; HttpOnly; SameSite=Lax{secure}",
            cookie_name(config)
        ),
        None => format!(
            "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
            cookie_name(config)
        ),
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session token of a request, if it carries our cookie.
#[must_use]
pub fn token_of(config: &Config, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(config);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() < 100)
}

/// Starts a session for `user`; returns its token. `pending_totp`: the second factor is still
/// to be given.
pub async fn create(
    client: &impl GenericClient,
    config: &Config,
    user: i64,
    pending_totp: bool,
    via_oidc: bool,
) -> Result<String, DbError> {
    let token = random_token();
    let hours = i64::try_from(config.auth.session_absolute_hours.max(1)).unwrap_or(10);
    client
        .execute(
            "INSERT INTO auth.sessions (token_hash, user_id, csrf_token, expires_at, pending_totp, via_oidc)
             VALUES ($1, $2, $3, now() + make_interval(hours => $4::int), $5, $6)",
            &[
                &token_hash(&token),
                &user,
                &random_token(),
                &i32::try_from(hours).unwrap_or(10),
                &pending_totp,
                &via_oidc,
            ],
        )
        .await
        .map_err(DbError::query("starting a session"))?;
    Ok(token)
}

/// Ends the session of `token` on the server.
pub async fn end(client: &impl GenericClient, token: &str) -> Result<(), DbError> {
    client
        .execute(
            "DELETE FROM auth.sessions WHERE token_hash = $1",
            &[&token_hash(token)],
        )
        .await
        .map_err(DbError::query("ending a session"))?;
    Ok(())
}

/// Ends every session of `user` (disabled, password reset, roles changed).
pub async fn end_all(client: &impl GenericClient, user: i64) -> Result<u64, DbError> {
    client
        .execute("DELETE FROM auth.sessions WHERE user_id = $1", &[&user])
        .await
        .map_err(DbError::query("ending sessions"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_httponly_lax_and_secure_with_host_prefix_over_https() {
        let mut config = Config::default();
        let plain = set_cookie(&config, Some("abc"));
        assert_eq!(
            plain,
            "stadtkarte_sitzung=abc; Path=/; HttpOnly; SameSite=Lax"
        );
        config.server.public_url = "https://geo.koblenz.de".to_owned();
        let secure = set_cookie(&config, Some("abc"));
        assert_eq!(
            secure,
            "__Host-stadtkarte_sitzung=abc; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-stadtkarte_sitzung=xyz"),
        );
        assert_eq!(token_of(&config, &headers).as_deref(), Some("xyz"));
        assert_eq!(random_token().len(), 43, "256 bits");
        assert_ne!(random_token(), random_token());
    }
}
