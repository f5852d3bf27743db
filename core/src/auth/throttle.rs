//! Sign-in throttling per account and per client: after `auth.delay_after_failures` failures
//! each further attempt must wait 1 s, 2 s, 4 s, … (at most a minute); after
//! `auth.lock_after_failures` the key is locked for `auth.lock_minutes`. Locks and their end are
//! written to the audit log (without the e-mail address: accounts are named by id, unknown
//! addresses and clients only by hash).

use sha2::{Digest as _, Sha256};
use tokio_postgres::GenericClient;

use crate::catalog;
use crate::config::AuthConfig;
use crate::db::DbError;

/// The throttle key of an account (the e-mail address is hashed: also unknown ones are kept).
#[must_use]
pub fn account_key(email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    format!(
        "konto:{}",
        digest[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// The throttle key of a client hash.
#[must_use]
pub fn client_key(client_hash: &str) -> String {
    format!("client:{client_hash}")
}

/// Seconds to wait before `keys` may try again (0: now).
pub async fn wait_secs(client: &impl GenericClient, keys: &[&str]) -> Result<u32, DbError> {
    // Locks that have run out end here, and the audit log says so.
    let ended = client
        .query(
            "UPDATE auth.throttle SET locked_until = NULL, failures = 0, updated_at = now()
             WHERE key = ANY($1) AND locked_until IS NOT NULL AND locked_until <= now() RETURNING key",
            &[&keys],
        )
        .await
        .map_err(DbError::query("reading the sign-in throttle"))?;
    for row in ended {
        let key: String = row.get(0);
        catalog::audit(
            client,
            "system",
            "auth.unlock",
            &key,
            &serde_json::json!({"reason": "lock time over"}),
        )
        .await?;
    }
    let row = client
        .query_one(
            "SELECT coalesce(ceil(extract(epoch FROM max(greatest(next_allowed, coalesce(locked_until, next_allowed)) - now())))::int, 0)
             FROM auth.throttle WHERE key = ANY($1)",
            &[&keys],
        )
        .await
        .map_err(DbError::query("reading the sign-in throttle"))?;
    Ok(u32::try_from(row.get::<_, i32>(0).max(0)).unwrap_or(0))
}

/// Records a failed attempt for every key; returns the keys that are now locked.
pub async fn failed(
    client: &impl GenericClient,
    config: &AuthConfig,
    keys: &[&str],
) -> Result<Vec<String>, DbError> {
    let mut locked = Vec::new();
    for key in keys {
        let row = client
            .query_one(
                "INSERT INTO auth.throttle (key, failures) VALUES ($1, 1)
                 ON CONFLICT (key) DO UPDATE SET failures = auth.throttle.failures + 1, updated_at = now()
                 RETURNING failures",
                &[key],
            )
            .await
            .map_err(DbError::query("counting a failed sign-in"))?;
        let failures: i32 = row.get(0);
        let failures = u32::try_from(failures).unwrap_or(0);
        if failures >= config.lock_after_failures {
            let minutes = i32::try_from(config.lock_minutes.max(1)).unwrap_or(15);
            client
                .execute(
                    "UPDATE auth.throttle SET locked_until = now() + make_interval(mins => $2) WHERE key = $1",
                    &[key, &minutes],
                )
                .await
                .map_err(DbError::query("locking after failed sign-ins"))?;
            catalog::audit(
                client,
                "system",
                "auth.lock",
                key,
                &serde_json::json!({"failures": failures, "minutes": minutes}),
            )
            .await?;
            locked.push((*key).to_owned());
        } else if failures >= config.delay_after_failures {
            let secs = 2_i32
                .pow((failures - config.delay_after_failures).min(6))
                .min(60);
            client
                .execute(
                    "UPDATE auth.throttle SET next_allowed = now() + make_interval(secs => $2) WHERE key = $1",
                    &[key, &f64::from(secs)],
                )
                .await
                .map_err(DbError::query("delaying after failed sign-ins"))?;
        }
    }
    Ok(locked)
}

/// A successful sign-in clears the account's failures.
pub async fn succeeded(client: &impl GenericClient, account: &str) -> Result<(), DbError> {
    client
        .execute("DELETE FROM auth.throttle WHERE key = $1", &[&account])
        .await
        .map_err(DbError::query("clearing the sign-in throttle"))?;
    Ok(())
}
