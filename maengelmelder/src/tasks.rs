//! The Mängelmelder's background work. Every node starts it; a round runs on one node at a time
//! (the advisory lock of [`exclusive::Task::Maengel`]: a node that dies mid-round releases it,
//! and another does the next round), and each step is safe to repeat after a cut-off round:
//! retention (contact data and unredacted photo originals deleted a configured number of days
//! after closing, logged without the data), telling the tile server when delayed descriptions
//! become public, the departments' daily digests, and expiring rate-limit counters. The mail
//! itself is sent by [`stadtkarte_core::mail::spawn_sender`].

use std::time::Duration;

use serde_json::json;
use stadtkarte_core::db::DbError;
use stadtkarte_core::{AppState, audit, exclusive, mail};

use crate::notify;

/// Deletes the reporter's e-mail, name and phone and the unredacted photo originals of reports
/// closed more than `maengel.retention_days` ago; returns how many reports were cleaned. One
/// audit entry with the count, never the data.
pub async fn retention(state: &AppState) -> Result<u64, DbError> {
    let mut client = state.pool.get().await?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("applying retention"))?;
    let days = i32::try_from(state.config.maengel.retention_days).unwrap_or(90);
    let rows = tx
        .query(
            "UPDATE maengel.reports SET reporter_email = NULL, reporter_name = NULL, reporter_phone = NULL,
                 wants_updates = false, personal_deleted_at = now()
             WHERE personal_deleted_at IS NULL AND closed_at IS NOT NULL
               AND closed_at < now() - make_interval(days => $1)
             RETURNING id",
            &[&days],
        )
        .await
        .map_err(DbError::query("applying retention"))?;
    let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    // Mails carry addresses too: the outbox keeps none longer than the reports keep theirs.
    let mails = tx
        .execute(
            "DELETE FROM maengel.outbox WHERE created_at < now() - make_interval(days => $1)",
            &[&days],
        )
        .await
        .map_err(DbError::query("applying retention to the outbox"))?;
    if ids.is_empty() && mails == 0 {
        return Ok(0);
    }
    let originals = tx
        .execute(
            "UPDATE maengel.photos SET original = NULL WHERE report_id = ANY($1) AND original IS NOT NULL",
            &[&ids],
        )
        .await
        .map_err(DbError::query("applying retention"))?;
    audit::append(
        &*tx,
        &audit::Entry {
            actor: "system",
            action: "report.retention",
            subject: "maengel:reports",
            object: None,
            details: json!({"reports": ids.len(), "photo_originals": originals, "mails": mails, "days_after_closing": days}),
            before: None,
            after: None,
            request_id: None,
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("applying retention"))?;
    tracing::info!(
        reports = ids.len(),
        originals,
        mails,
        "retention: contact data deleted"
    );
    Ok(ids.len() as u64)
}

/// Descriptions released by time since `since`: touch them so that the tile server hears of
/// the change (the statement trigger reports their extent).
async fn announce_released(state: &AppState, since: &str) -> Result<(), DbError> {
    let client = state.pool.get().await?;
    client
        .execute(
            "UPDATE maengel.reports SET updated_at = updated_at
             WHERE released_at > $1::text::timestamptz AND released_at <= now()",
            &[&since],
        )
        .await
        .map_err(DbError::query("announcing released reports"))?;
    Ok(())
}

async fn expire_counters(state: &AppState) -> Result<(), DbError> {
    let client = state.pool.get().await?;
    client
        .execute(
            "DELETE FROM auth.rate_limits WHERE window_start < now() - interval '2 days'",
            &[],
        )
        .await
        .map_err(DbError::query("expiring rate limits"))?;
    Ok(())
}

/// One round of the background work (under the node's lock). `since`: when this node last
/// announced released descriptions (another node's round in between announces them again, which
/// only evicts tiles once more).
async fn round(state: &AppState, since: &mut String) {
    let now: Option<String> = match state.pool.get().await {
        Ok(c) => c
            .query_one("SELECT now()::text", &[])
            .await
            .ok()
            .map(|r| r.get(0)),
        Err(_) => None,
    };
    if let Some(now) = now {
        if since != "-infinity"
            && let Err(e) = announce_released(state, since).await
        {
            tracing::debug!(error = %e, "announcing released reports failed");
        }
        *since = now;
    }
    for (what, result) in [
        ("retention", retention(state).await.map(drop)),
        ("digests", notify::digests(state).await.map(drop)),
        ("rate limits", expire_counters(state).await),
    ] {
        if let Err(e) = result {
            tracing::debug!(error = %e, task = what, "background task failed; retrying");
        }
    }
}

/// Starts the background work (and the mail sender of the outbox).
pub fn spawn(state: AppState) {
    mail::spawn_sender(state.clone(), vec![notify::OUTBOX]);
    tokio::spawn(async move {
        let mut since = String::from("-infinity");
        loop {
            if state.is_migrated() {
                let url = state.config.database.url.clone();
                if let Err(e) =
                    exclusive::run(&url, exclusive::Task::Maengel, round(&state, &mut since)).await
                {
                    tracing::debug!(error = %e, "Mängelmelder tasks: database not ready");
                }
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    });
}
