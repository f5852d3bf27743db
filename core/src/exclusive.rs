//! Background work that one node of several does at a time. Every node runs the same background
//! tasks (the download preparer, the Mängelmelder's and the petitions' rounds); a round first
//! takes a PostgreSQL session-level advisory lock named after its task ([`Task`]) on a connection
//! of its own, and a node that does not get it skips the round. The lock needs no table and no
//! expiry: PostgreSQL releases it when the holding connection ends — at the end of the round, or
//! when the node dies (a killed process's socket closes; a node cut off from the network is
//! dropped once PostgreSQL's `tcp_keepalives_*` notice), so another node takes the work over at
//! its next round.
//!
//! When the lock's connection breaks while the work runs (failover, network), the work is
//! dropped at its next `.await`: another node may hold the lock by then, and every step of the
//! tasks is safe to repeat (files are written under a temporary name and renamed, rows change in
//! transactions).
//!
//! The lock lives on a plain connection, not on a pooled one: a pooled connection given back with
//! the lock still held (after a cancelled round) would keep it for ever. Connection poolers in
//! transaction mode (`PgBouncer` `pool_mode = transaction`) cannot keep session locks: the nodes
//! connect to PostgreSQL directly or through a session-mode pooler (see `docs/operations.md`).

use std::future::Future;
use std::str::FromStr as _;
use std::time::Duration;

use tokio_postgres::NoTls;

use crate::db::DbError;

/// A kind of background work with its advisory lock key (keys are per database; the high bits
/// spell "STK" so that they do not meet other applications' keys in a shared database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// The open-data download preparer's round.
    PrepareDownloads,
    /// The Mängelmelder's round: retention, digests, rate-limit counters.
    Maengel,
    /// The petitions' round: closing, expiry, anonymisation.
    Petitions,
    /// Creating the participation datasets at start-up (a transaction-level lock that waits:
    /// every node needs them to exist before it is ready).
    ParticipationDatasets,
}

impl Task {
    /// The advisory lock key.
    #[must_use]
    pub fn key(self) -> i64 {
        const BASE: i64 = 0x5354_4B00_0000_0000;
        BASE + match self {
            Self::PrepareDownloads => 1,
            Self::Maengel => 2,
            Self::Petitions => 3,
            Self::ParticipationDatasets => 4,
        }
    }

    /// The name in log lines.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::PrepareDownloads => "download preparer",
            Self::Maengel => "Mängelmelder tasks",
            Self::Petitions => "petition tasks",
            Self::ParticipationDatasets => "participation datasets",
        }
    }
}

/// Runs `work` when this node gets `task`'s lock; `Ok(None)` when another node holds it (or
/// the lock's connection broke while `work` ran: the work was dropped). `url` is the server's
/// `database.url` (the primary: advisory locks are not replicated).
pub async fn run<F: Future>(url: &str, task: Task, work: F) -> Result<Option<F::Output>, DbError> {
    let mut config = tokio_postgres::Config::from_str(url)
        .map_err(|e| DbError::Setup(format!("database.url: {e}")))?;
    config.application_name("stadtkarte-lock");
    config.connect_timeout(Duration::from_secs(10));
    // This side notices a database that went away (failover) and stops the work.
    config.keepalives_idle(Duration::from_secs(30));
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(DbError::query("connecting for a task lock"))?;
    let mut connection = tokio::spawn(connection);
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&task.key()])
        .await
        .map_err(DbError::query("taking a task lock"))?
        .get(0);
    if !locked {
        tracing::debug!(task = task.name(), "another node does this round");
        return Ok(None);
    }
    tracing::debug!(task = task.name(), "this node does this round");
    let result = tokio::select! {
        output = work => Some(output),
        _ = &mut connection => {
            tracing::warn!(task = task.name(), "the task lock's connection broke; the round stops");
            None
        }
    };
    // Dropping the client ends the session, which releases the lock.
    drop(client);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_has_its_own_key() {
        let all = [
            Task::PrepareDownloads,
            Task::Maengel,
            Task::Petitions,
            Task::ParticipationDatasets,
        ];
        let mut keys: Vec<i64> = all.iter().map(|t| t.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), all.len());
    }
}
