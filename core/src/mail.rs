//! Mail that must not get lost: a transactional outbox. A change that owes someone a mail (a
//! report received, a status changed, a signature to confirm) writes the mail into its area's
//! outbox table in the same transaction ([`enqueue`]); a background task ([`spawn_sender`])
//! sends what is due over SMTP (lettre), retrying with growing pauses while the SMTP server is
//! away, and deletes sent mail after `mail.keep_sent_days`. Rows are taken with
//! `FOR UPDATE SKIP LOCKED`, one transaction per mail, so several nodes send each mail once (at
//! least once when a node dies between sending and committing: that one mail, with the same
//! `Message-ID`).
//!
//! With `mail.enabled = false` (the demo) mail stays in the outboxes, where an admin can read
//! it (`/admin/postausgang`).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use tokio_postgres::GenericClient;

use crate::config::MailConfig;
use crate::db::{Conn, DbError};
use crate::state::AppState;

/// An outbox table: `schema.table`, from code only (never from a request).
pub type Outbox = &'static str;

/// Every outbox of the platform (an area's table may not exist yet: it is skipped).
pub const OUTBOXES: &[Outbox] = &["maengel.outbox", "petitions.outbox"];

/// The SQL of an outbox table (each area creates its own in its migration).
pub const TABLE_COLUMNS: &str = "id bigserial PRIMARY KEY, recipient text NOT NULL, subject text NOT NULL, \
    body text NOT NULL, kind text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), \
    attempts integer NOT NULL DEFAULT 0, next_attempt timestamptz NOT NULL DEFAULT now(), \
    sent_at timestamptz, last_error text";

/// Queues a mail (in the caller's transaction).
pub async fn enqueue(
    client: &impl Conn,
    outbox: Outbox,
    recipient: &str,
    subject: &str,
    body: &str,
    kind: &str,
) -> Result<(), DbError> {
    client
        .execute(
            &format!(
                "INSERT INTO {outbox} (recipient, subject, body, kind) VALUES ($1, $2, $3, $4)"
            ),
            &[&recipient, &subject, &body, &kind],
        )
        .await
        .map_err(DbError::query("queuing a mail"))?;
    Ok(())
}

/// One queued or sent mail, for the admin's view of the outbox.
#[derive(Debug, Clone)]
pub struct Queued {
    /// Id within its outbox.
    pub id: i64,
    /// The outbox.
    pub outbox: &'static str,
    /// To.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Text.
    pub body: String,
    /// What kind of mail.
    pub kind: String,
    /// When queued (Europe/Berlin, for display).
    pub created: String,
    /// When sent, if yet.
    pub sent: Option<String>,
    /// Attempts so far.
    pub attempts: i32,
    /// The last error, if the last attempt failed.
    pub last_error: Option<String>,
}

/// The newest mails of `outboxes`, newest first.
pub async fn recent(
    client: &impl GenericClient,
    outboxes: &[Outbox],
    limit: i64,
) -> Result<Vec<Queued>, DbError> {
    let mut all = Vec::new();
    for outbox in outboxes {
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[outbox])
            .await
            .map_err(DbError::query("reading an outbox"))?
            .get(0);
        if !exists {
            continue;
        }
        let rows = client
            .query(
                &format!(
                    "SELECT id, recipient, subject, body, kind,
                            to_char(created_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD HH24:MI:SS'),
                            to_char(sent_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD HH24:MI:SS'),
                            attempts, last_error
                     FROM {outbox} ORDER BY id DESC LIMIT $1"
                ),
                &[&limit],
            )
            .await
            .map_err(DbError::query("reading an outbox"))?;
        all.extend(rows.iter().map(|r| Queued {
            id: r.get(0),
            outbox,
            recipient: r.get(1),
            subject: r.get(2),
            body: r.get(3),
            kind: r.get(4),
            created: r.get(5),
            sent: r.get(6),
            attempts: r.get(7),
            last_error: r.get(8),
        }));
    }
    all.sort_by(|a, b| b.created.cmp(&a.created));
    all.truncate(usize::try_from(limit).unwrap_or(100));
    Ok(all)
}

fn transport(config: &MailConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let builder = match config.smtp_tls.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.smtp_host)
            .map_err(|e| e.to_string())?,
        "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.smtp_host)
            .map_err(|e| e.to_string())?,
        _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.smtp_host),
    };
    let mut builder = builder
        .port(config.smtp_port)
        .timeout(Some(Duration::from_secs(10)));
    if !config.smtp_user.is_empty() {
        builder = builder.credentials(Credentials::new(
            config.smtp_user.clone(),
            config.smtp_password.clone(),
        ));
    }
    Ok(builder.build())
}

fn message(
    config: &MailConfig,
    to: &str,
    subject: &str,
    body: &str,
    message_id: String,
) -> Result<Message, String> {
    Message::builder()
        .message_id(Some(message_id))
        .from(config.from.parse().map_err(|e| format!("mail.from: {e}"))?)
        .to(to.parse().map_err(|e| format!("recipient: {e}"))?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_owned())
        .map_err(|e| e.to_string())
}

/// Sends what is due in `outbox` (up to a batch of 20); returns how many were sent.
///
/// Each mail is taken, sent and marked in a transaction of its own, with `FOR UPDATE SKIP
/// LOCKED`: several nodes send side by side and never the same mail, and a node that dies
/// while sending loses its lock on that one mail only (another node sends it again: at least
/// once; its fixed `Message-ID` lets mail systems recognise the repetition).
pub async fn send_due(state: &AppState, outbox: Outbox) -> Result<usize, DbError> {
    let config = &state.config.mail;
    let smtp = transport(config);
    let mut client = state.pool.get().await?;
    let mut sent = 0;
    for _ in 0..20 {
        let tx = client
            .transaction()
            .await
            .map_err(DbError::query("sending mail"))?;
        let Some(row) = tx
            .query_opt(
                &format!(
                    "SELECT id, recipient, subject, body, attempts,
                            extract(epoch FROM created_at)::bigint FROM {outbox}
                     WHERE sent_at IS NULL AND next_attempt <= now()
                     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
                ),
                &[],
            )
            .await
            .map_err(DbError::query("sending mail"))?
        else {
            break;
        };
        let (id, to, subject, body, attempts, created): (i64, String, String, String, i32, i64) = (
            row.get(0),
            row.get(1),
            row.get(2),
            row.get(3),
            row.get(4),
            row.get(5),
        );
        let message_id = message_id(state, outbox, id, created);
        let result = match &smtp {
            Ok(smtp) => match message(config, &to, &subject, &body, message_id) {
                Ok(m) => smtp.send(m).await.map(drop).map_err(|e| e.to_string()),
                Err(e) => Err(e),
            },
            Err(e) => Err(e.clone()),
        };
        match result {
            Ok(()) => {
                tx.execute(
                    &format!("UPDATE {outbox} SET sent_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1"),
                    &[&id],
                )
                .await
                .map_err(DbError::query("marking a mail sent"))?;
                sent += 1;
            }
            Err(e) => {
                // 30 s, 1 min, 2 min, … up to an hour (from mail.retry_base_secs).
                let base = i32::try_from(config.retry_base_secs.max(1)).unwrap_or(30);
                let pause = base
                    .saturating_mul(
                        2_i32.saturating_pow(u32::try_from(attempts.clamp(0, 7)).unwrap_or(7)),
                    )
                    .min(3600);
                tracing::warn!(outbox, id, attempts = attempts + 1, error = %e, "mail not sent; retrying later");
                tx.execute(
                    &format!("UPDATE {outbox} SET attempts = attempts + 1, last_error = $2, next_attempt = now() + make_interval(secs => $3) WHERE id = $1"),
                    &[&id, &e.chars().take(500).collect::<String>(), &f64::from(pause)],
                )
                .await
                .map_err(DbError::query("scheduling a mail again"))?;
            }
        }
        tx.commit().await.map_err(DbError::query("sending mail"))?;
    }
    Ok(sent)
}

/// The mail's `Message-ID`: the same at every attempt and on every node (outbox, id and the
/// time it was queued, at the host of `server.public_url`).
fn message_id(state: &AppState, outbox: Outbox, id: i64, created: i64) -> String {
    let base = state.config.base_url();
    let host = base
        .split("://")
        .nth(1)
        .unwrap_or(&base)
        .split(['/', ':'])
        .next()
        .filter(|h| !h.is_empty())
        .unwrap_or("stadtkarte.invalid");
    format!("<{}.{id}.{created}@{host}>", outbox.replace('.', "-"))
}

/// Deletes sent mail older than `mail.keep_sent_days` (it holds addresses).
pub async fn forget_sent(state: &AppState, outbox: Outbox) -> Result<u64, DbError> {
    let client = state.pool.get().await?;
    let days = i32::try_from(state.config.mail.keep_sent_days).unwrap_or(7);
    client
        .execute(
            &format!("DELETE FROM {outbox} WHERE sent_at < now() - make_interval(days => $1)"),
            &[&days],
        )
        .await
        .map_err(DbError::query("deleting sent mail"))
}

/// Starts the sender of `outboxes` (when `mail.enabled`).
pub fn spawn_sender(state: AppState, outboxes: Vec<Outbox>) {
    if !state.config.mail.enabled {
        return;
    }
    tokio::spawn(async move {
        let pause = Duration::from_secs(state.config.mail.interval_secs.max(1));
        loop {
            if state.is_migrated() {
                for outbox in &outboxes {
                    loop {
                        match send_due(&state, outbox).await {
                            Ok(n) if n > 0 => {}
                            Ok(_) => break,
                            Err(e) => {
                                tracing::debug!(error = %e, "mail sender: database not ready");
                                break;
                            }
                        }
                    }
                    let _ = forget_sent(&state, outbox).await;
                }
            }
            tokio::time::sleep(pause).await;
        }
    });
}
