//! The petitions' background work. Every node starts it; a round runs on one node at a time
//! (the advisory lock of [`exclusive::Task::Petitions`]: a node that dies mid-round releases it,
//! and another does the next round), and each step is safe to repeat after a cut-off round:
//! closing petitions at their deadline, deleting unconfirmed signatures and petitions whose
//! confirmation time passed, and anonymising signatures and creators a configured time after
//! closing (UK e-petitions' rule: the name is replaced, the e-mail address and postcode are
//! removed, the district stays for the counts). Each is logged in the audit log with counts,
//! never data. Tiles carry the counts: the tile server hears when they changed. The mail is sent by [`stadtkarte_core::mail::spawn_sender`].

use std::time::Duration;

use serde_json::json;
use stadtkarte_core::db::DbError;
use stadtkarte_core::{AppState, audit, exclusive, mail};

use crate::notify;

/// Closes the open petitions whose deadline passed; tells their creators. Returns how many.
pub async fn close_due(state: &AppState) -> Result<u64, DbError> {
    let mut client = state.pool.get().await?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("closing petitions"))?;
    let rows = tx
        .query(
            "UPDATE petitions.petitions SET status = 'closed', closed_at = now(), updated_at = now()
             WHERE status = 'open' AND deadline <= now() RETURNING id",
            &[],
        )
        .await
        .map_err(DbError::query("closing petitions"))?;
    for r in &rows {
        let id: i64 = r.get(0);
        let lang = tx
            .query_one("SELECT lang FROM petitions.petitions WHERE id = $1", &[&id])
            .await
            .map_err(DbError::query("closing petitions"))?;
        let note = stadtkarte_core::i18n::tr(
            notify::lang_of(lang.get(0)),
            "petitions.mail.deadline_passed",
        );
        notify::creator_news(&*tx, state, id, "closed", note).await?;
        let subject = format!("petition:{id}");
        audit::append(
            &*tx,
            &audit::Entry {
                actor: "system",
                action: "petition.close",
                subject: &subject,
                details: json!({"reason": "deadline"}),
                after: Some(json!({"status": "closed"})),
                ..audit::Entry::default()
            },
        )
        .await?;
    }
    tx.commit()
        .await
        .map_err(DbError::query("closing petitions"))?;
    Ok(rows.len() as u64)
}

/// Deletes unconfirmed signatures and unconfirmed new petitions older than
/// `petitions.confirm_hours`. Returns (signatures, petitions).
pub async fn expire_unconfirmed(state: &AppState) -> Result<(u64, u64), DbError> {
    let client = state.pool.get().await?;
    let hours = i32::try_from(state.config.petitions.confirm_hours).unwrap_or(72);
    let signatures = client
        .execute(
            "DELETE FROM petitions.signatures
             WHERE confirmed_at IS NULL AND created_at < now() - make_interval(hours => $1)",
            &[&hours],
        )
        .await
        .map_err(DbError::query("expiring unconfirmed signatures"))?;
    let petitions = client
        .execute(
            "DELETE FROM petitions.petitions
             WHERE status = 'pending' AND created_at < now() - make_interval(hours => $1)",
            &[&hours],
        )
        .await
        .map_err(DbError::query("expiring unconfirmed petitions"))?;
    Ok((signatures, petitions))
}

/// Anonymises the signatures and the creator of petitions closed (or rejected) more than
/// `petitions.anonymise_after_days` ago, and their mail. Returns how many signatures.
pub async fn anonymise(state: &AppState) -> Result<u64, DbError> {
    let mut client = state.pool.get().await?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("anonymising signatures"))?;
    let days = i32::try_from(state.config.petitions.anonymise_after_days).unwrap_or(182);
    let petitions = tx
        .query(
            "UPDATE petitions.petitions SET creator_name = NULL, creator_email = NULL,
                 creator_public = false, anonymised_at = now()
             WHERE anonymised_at IS NULL AND status IN ('closed', 'rejected', 'hidden')
               AND coalesce(closed_at, updated_at) < now() - make_interval(days => $1)
             RETURNING id",
            &[&days],
        )
        .await
        .map_err(DbError::query("anonymising petitions"))?;
    let ids: Vec<i64> = petitions.iter().map(|r| r.get(0)).collect();
    if ids.is_empty() {
        return Ok(0);
    }
    let signatures = anonymise_signatures(&*tx, &ids).await?;
    let mails = tx
        .execute(
            "DELETE FROM petitions.outbox WHERE created_at < now() - make_interval(days => $1)",
            &[&days],
        )
        .await
        .map_err(DbError::query("anonymising mail"))?;
    audit::append(
        &*tx,
        &audit::Entry {
            actor: "system",
            action: "petition.anonymise",
            subject: "petitions:signatures",
            details: json!({"petitions": ids, "signatures": signatures, "mails": mails, "days_after_closing": days}),
            ..audit::Entry::default()
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("anonymising signatures"))?;
    tracing::info!(petitions = ids.len(), signatures, "petitions anonymised");
    Ok(signatures)
}

/// Replaces the names of the petitions' signatures by "Unterschrift N" and removes e-mail
/// addresses, postcodes and client hashes (district and residency stay for the counts).
pub async fn anonymise_signatures(
    client: &impl stadtkarte_core::tokio_postgres::GenericClient,
    petition_ids: &[i64],
) -> Result<u64, DbError> {
    client
        .execute(
            "UPDATE petitions.signatures SET name = 'Unterschrift ' || id, email = NULL,
                 email_canonical = NULL, email_domain = NULL, postcode = NULL, client_hash = NULL,
                 visibility = 'anonymous', token_hash = NULL, anonymised_at = now()
             WHERE petition_id = ANY($1) AND anonymised_at IS NULL",
            &[&petition_ids],
        )
        .await
        .map_err(DbError::query("anonymising signatures"))
}

/// Tells the tile server that the petitions' counts changed when signatures were confirmed or
/// invalidated since `since` (tiles carry the counts; the pages read them live). Returns the
/// database's time for the next call.
pub async fn announce_counts(state: &AppState, since: &str) -> Result<String, DbError> {
    let client = state.pool.get().await?;
    let row = client
        .query_one(
            "SELECT now()::text, CASE WHEN EXISTS (
                 SELECT 1 FROM petitions.signatures
                  WHERE confirmed_at > $1::text::timestamptz OR invalidated_at > $1::text::timestamptz)
             THEN pg_notify('stadtkarte_tiles', json_build_object('collection', 'petitionen')::text)::text END",
            &[&since],
        )
        .await
        .map_err(DbError::query("announcing changed counts"))?;
    Ok(row.get(0))
}

/// One round of the background work (under the node's lock). `since`: when this node last
/// announced changed counts (another node's round in between announces them again, which only
/// evicts the petitions' tiles once more).
async fn round(state: &AppState, since: &mut String) {
    match announce_counts(state, since).await {
        Ok(now) => *since = now,
        Err(e) => tracing::debug!(error = %e, "announcing changed counts failed"),
    }
    for (what, result) in [
        ("closing", close_due(state).await.map(drop)),
        ("expiry", expire_unconfirmed(state).await.map(drop)),
        ("anonymisation", anonymise(state).await.map(drop)),
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
                    exclusive::run(&url, exclusive::Task::Petitions, round(&state, &mut since))
                        .await
                {
                    tracing::debug!(error = %e, "petition tasks: database not ready");
                }
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    });
}
