//! The revision-safe audit log (`catalog.audit_log`): every change by staff, the command line or
//! an import is one row — who, what, which object, before and after (without personal data),
//! when, the request id — chained by SHA-256 hashes in the order rows are appended (the chain is
//! made by a trigger in the database, so no writer can bypass it). UPDATE and DELETE are refused
//! by the database; [`verify`] recomputes every hash and names the first broken link.

use std::fmt::Write as _;

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tokio_postgres::GenericClient;

use crate::db::DbError;

/// One entry to append.
#[derive(Debug, Clone, Default)]
pub struct Entry<'a> {
    /// Who: `staff:ID`, a command-line user, `system`, `bürger` (a citizen, never named).
    pub actor: &'a str,
    /// What, as `area.verb` (`auth.sign_in`, `dataset.update`, `report.status`, …).
    pub action: &'a str,
    /// The kind and id of what was changed (`dataset:gebaeude`, `user:7`).
    pub subject: &'a str,
    /// A finer object within the subject, when there is one.
    pub object: Option<&'a str>,
    /// Further facts (counts, reasons).
    pub details: Value,
    /// The state before (personal data is removed by [`redact`]).
    pub before: Option<Value>,
    /// The state after (personal data is removed by [`redact`]).
    pub after: Option<Value>,
    /// The request that made the change.
    pub request_id: Option<&'a str>,
}

/// Keys whose values are personal data and never go into the log.
const PERSONAL: &[&str] = &[
    "email",
    "e_mail",
    "mail",
    "name",
    "display_name",
    "vorname",
    "nachname",
    "phone",
    "telefon",
    "ip",
    "address_ip",
    "client",
    "client_hash",
    "password",
    "password_hash",
    "totp_secret",
    "recovery_codes",
    "token",
];

/// `value` with every personal field replaced by `"(entfernt)"`, at any depth.
#[must_use]
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let personal = PERSONAL.contains(&k.to_lowercase().as_str());
                    (
                        k.clone(),
                        if personal && !v.is_null() {
                            Value::String("(entfernt)".to_owned())
                        } else {
                            redact(v)
                        },
                    )
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

tokio::task_local! {
    /// The id of the request being answered (set by [`crate::http`] around every handler).
    static REQUEST_ID: String;
}

/// Runs `future` as part of the request `id`: every entry it appends carries that id.
pub async fn in_request<F: std::future::Future>(id: String, future: F) -> F::Output {
    REQUEST_ID.scope(id, future).await
}

/// The id of the request being answered, if any.
#[must_use]
pub fn current_request() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Appends `entry` (within the caller's transaction, so the entry and the change commit
/// together). Without an explicit request id, the entry carries the current request's.
pub async fn append(client: &impl GenericClient, entry: &Entry<'_>) -> Result<(), DbError> {
    let before = entry.before.as_ref().map(redact);
    let after = entry.after.as_ref().map(redact);
    let request = entry.request_id.map(str::to_owned).or_else(current_request);
    client
        .execute(
            "INSERT INTO catalog.audit_log (actor, action, subject, object, details, before, after, request_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &entry.actor,
                &entry.action,
                &entry.subject,
                &entry.object,
                &redact(&entry.details),
                &before,
                &after,
                &request,
            ],
        )
        .await
        .map_err(DbError::query("writing the audit log"))?;
    Ok(())
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every link holds.
    Intact {
        /// Entries checked.
        entries: u64,
    },
    /// The first broken link.
    Broken {
        /// Position in the chain.
        chain: i64,
        /// The row's id.
        id: i64,
        /// What is wrong.
        reason: String,
    },
}

/// Recomputes the chain from the first entry: each row's hash over its content and the
/// previous hash, no position missing.
pub async fn verify(client: &impl GenericClient) -> Result<Verdict, DbError> {
    let rows = client
        .query(
            "SELECT chain, id, catalog.audit_content(a), prev_hash, hash FROM catalog.audit_log a ORDER BY chain",
            &[],
        )
        .await
        .map_err(DbError::query("reading the audit log"))?;
    let mut prev: Vec<u8> = Vec::new();
    for (expected_chain, row) in (1_i64..).zip(&rows) {
        let (chain, id): (i64, i64) = (row.get(0), row.get(1));
        let content: Vec<u8> = row.get(2);
        let stored_prev: Option<Vec<u8>> = row.get(3);
        let stored: Option<Vec<u8>> = row.get(4);
        let broken = |reason: String| Verdict::Broken { chain, id, reason };
        if chain != expected_chain {
            return Ok(broken(format!(
                "entries {expected_chain}–{} are missing (deleted?)",
                chain - 1
            )));
        }
        if stored_prev.as_deref() != Some(prev.as_slice()) {
            return Ok(broken(
                "its link to the previous entry does not match (an entry before it was changed, removed or inserted)"
                    .to_owned(),
            ));
        }
        let mut h = Sha256::new();
        h.update(&prev);
        h.update(&content);
        let computed = h.finalize().to_vec();
        if stored.as_deref() != Some(computed.as_slice()) {
            return Ok(broken(
                "its content does not match its hash (the entry was changed)".to_owned(),
            ));
        }
        prev = computed;
    }
    Ok(Verdict::Intact {
        entries: rows.len() as u64,
    })
}

/// A hex string of bytes (for showing hashes).
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn personal_data_never_reaches_the_log() {
        let v = json!({"status": "geprüft", "email": "anna@example.org", "reporter": {"name": "Anna", "phone": "0261 1"}, "list": [{"ip": "1.2.3.4"}]});
        let r = redact(&v);
        assert_eq!(r["status"], "geprüft");
        assert_eq!(r["email"], "(entfernt)");
        assert_eq!(r["reporter"]["name"], "(entfernt)");
        assert_eq!(r["reporter"]["phone"], "(entfernt)");
        assert_eq!(r["list"][0]["ip"], "(entfernt)");
        assert!(!r.to_string().contains("anna@"));
    }
}
