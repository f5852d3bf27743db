//! Who a request comes from, without storing who that is: the client's address (from the
//! connection, or from `X-Forwarded-For` when the connection comes from a trusted proxy) is
//! only ever kept as a salted hash, with a salt that changes every day (UTC) and is shared by
//! every node through the database. Yesterday's hashes cannot be linked to today's, and no
//! address is written anywhere. Rate limits and sign-in throttling use these hashes.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use rand::Rng as _;
use sha2::{Digest as _, Sha256};

use crate::db::{Conn, DbError};

/// The connection's peer address, put into each request's extensions by [`crate::serve`].
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// The client's address: the peer, or — when the peer is a trusted proxy — the last address
/// in `X-Forwarded-For` that is not a trusted proxy itself.
#[must_use]
pub fn address(peer: Option<Peer>, headers: &HeaderMap, trusted: &[String]) -> Option<IpAddr> {
    let peer = peer?.0.ip();
    let is_trusted = |ip: &IpAddr| {
        trusted
            .iter()
            .any(|t| t.parse::<IpAddr>().is_ok_and(|t| t == *ip))
    };
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(Some(peer))
}

/// The salt as last read, and when: every citizen's form needs it, and it changes once a day, so
/// it is read again at most once a minute (a node may hash with yesterday's salt for that
/// minute after midnight).
static SALT: std::sync::RwLock<Option<(std::time::Instant, Vec<u8>)>> =
    std::sync::RwLock::new(None);
const SALT_FRESH: std::time::Duration = std::time::Duration::from_mins(1);

/// Today's salt (made by whichever node asks first, kept for a minute); salts older than
/// yesterday are deleted.
async fn salt(client: &impl Conn) -> Result<Vec<u8>, DbError> {
    if let Ok(cache) = SALT.read()
        && let Some((at, salt)) = cache.as_ref()
        && at.elapsed() < SALT_FRESH
    {
        return Ok(salt.clone());
    }
    let salt = read_salt(client).await?;
    if let Ok(mut cache) = SALT.write() {
        *cache = Some((std::time::Instant::now(), salt.clone()));
    }
    Ok(salt)
}

async fn read_salt(client: &impl Conn) -> Result<Vec<u8>, DbError> {
    let fresh: [u8; 32] = rand::rng().random();
    let row = client
        .query_one(
            "WITH made AS (
                 INSERT INTO auth.client_salts (day, salt) VALUES ((now() AT TIME ZONE 'UTC')::date, $1)
                 ON CONFLICT (day) DO NOTHING RETURNING salt)
             SELECT salt FROM made
             UNION ALL SELECT salt FROM auth.client_salts WHERE day = (now() AT TIME ZONE 'UTC')::date
             LIMIT 1",
            &[&fresh.to_vec()],
        )
        .await
        .map_err(DbError::query("reading the client salt"))?;
    let _ = client
        .execute(
            "DELETE FROM auth.client_salts WHERE day < (now() AT TIME ZONE 'UTC')::date - 1",
            &[],
        )
        .await;
    Ok(row.get(0))
}

/// The client's hash for today (hex), or `"unbekannt"` when the address is not known.
pub async fn hash(
    client: &impl Conn,
    peer: Option<Peer>,
    headers: &HeaderMap,
    trusted: &[String],
) -> Result<String, DbError> {
    let Some(ip) = address(peer, headers, trusted) else {
        return Ok("unbekannt".to_owned());
    };
    let salt = salt(client).await?;
    let mut h = Sha256::new();
    h.update(&salt);
    h.update(ip.to_string().as_bytes());
    Ok(h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, 10.0.0.2"),
        );
        let direct = Some(Peer("198.51.100.1:5000".parse().unwrap()));
        let proxy = Some(Peer("10.0.0.2:5000".parse().unwrap()));
        let trusted = vec!["10.0.0.2".to_owned()];
        assert_eq!(
            address(direct, &h, &trusted).unwrap().to_string(),
            "198.51.100.1"
        );
        assert_eq!(
            address(proxy, &h, &trusted).unwrap().to_string(),
            "203.0.113.9"
        );
        assert_eq!(address(proxy, &h, &[]).unwrap().to_string(), "10.0.0.2");
        assert!(address(None, &h, &trusted).is_none());
    }
}
