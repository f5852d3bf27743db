//! The reporter's rights (DSGVO Art. 15 and 17): everything the Mängelmelder keeps about an
//! e-mail address, as JSON, and its deletion. Used by `stadtkarte privacy export|delete`.

use serde_json::{Value, json};
use stadtkarte_core::db::DbError;
use stadtkarte_core::tokio_postgres::GenericClient;
use stadtkarte_core::{audit, mail};

use crate::notify;

/// Everything about `email`: the reports sent with it (with their public history) and the mail
/// sent or queued to it.
pub async fn export(client: &impl GenericClient, email: &str) -> Result<Value, DbError> {
    let email = email.trim().to_lowercase();
    let reports = client
        .query(
            "SELECT json_build_object(
                 'nummer', r.id, 'kategorie', r.category, 'status', r.status,
                 'beschreibung', r.description, 'adresse', r.address, 'stadtteil', r.district,
                 'laenge', ST_X(ST_Transform(r.geom, 4326)), 'breite', ST_Y(ST_Transform(r.geom, 4326)),
                 'angaben', r.attributes, 'links', r.media_urls,
                 'e_mail', r.reporter_email, 'name', r.reporter_name, 'telefon', r.reporter_phone,
                 'benachrichtigungen', r.wants_updates, 'sprache', r.lang, 'kanal', r.channel,
                 'gemeldet', r.created_at, 'geaendert', r.updated_at, 'abgeschlossen', r.closed_at,
                 'fotos', (SELECT count(*) FROM maengel.photos p WHERE p.report_id = r.id),
                 'verlauf', (SELECT coalesce(json_agg(json_build_object('zeit', e.at, 'status', e.status, 'text', e.text) ORDER BY e.at), '[]'::json)
                             FROM maengel.events e WHERE e.report_id = r.id AND e.public))
             FROM maengel.reports r WHERE lower(r.reporter_email) = $1 ORDER BY r.id",
            &[&email],
        )
        .await
        .map_err(DbError::query("exporting personal data"))?
        .iter()
        .map(|r| r.get::<_, Value>(0))
        .collect::<Vec<_>>();
    let mut mails = Vec::new();
    for outbox in [notify::OUTBOX] {
        let rows = client
            .query(
                &format!(
                    "SELECT json_build_object('betreff', subject, 'text', body, 'art', kind,
                         'erstellt', created_at, 'gesendet', sent_at)
                     FROM {outbox} WHERE lower(recipient) = $1 ORDER BY id"
                ),
                &[&email],
            )
            .await
            .map_err(DbError::query("exporting personal data"))?;
        mails.extend(rows.iter().map(|r| r.get::<_, Value>(0)));
    }
    Ok(json!({
        "e_mail": email,
        "maengelmeldungen": reports,
        "e_mails": mails,
        "hinweis": "Die Stadt speichert keine IP-Adressen. Kontaktdaten werden nach Abschluss einer Meldung nach der konfigurierten Frist gelöscht.",
    }))
}

/// Deletes every personal datum of `email`: contact data of its reports (the reports stay,
/// anonymous), the unredacted photo originals, and its mail. Returns (reports, mails).
pub async fn delete(
    client: &impl GenericClient,
    email: &str,
    actor: &str,
) -> Result<(u64, u64), DbError> {
    let email = email.trim().to_lowercase();
    let ids: Vec<i64> = client
        .query(
            "UPDATE maengel.reports SET reporter_email = NULL, reporter_name = NULL, reporter_phone = NULL,
                 wants_updates = false, personal_deleted_at = now()
             WHERE lower(reporter_email) = $1 RETURNING id",
            &[&email],
        )
        .await
        .map_err(DbError::query("deleting personal data"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    client
        .execute(
            "UPDATE maengel.photos SET original = NULL WHERE report_id = ANY($1)",
            &[&ids],
        )
        .await
        .map_err(DbError::query("deleting personal data"))?;
    let mut mails = 0;
    for outbox in mail::OUTBOXES {
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[outbox])
            .await
            .map_err(DbError::query("deleting personal data"))?
            .get(0);
        if exists {
            mails += client
                .execute(
                    &format!("DELETE FROM {outbox} WHERE lower(recipient) = $1"),
                    &[&email],
                )
                .await
                .map_err(DbError::query("deleting personal data"))?;
        }
    }
    audit::append(
        client,
        &audit::Entry {
            actor,
            action: "privacy.delete",
            subject: "privacy:request",
            object: None,
            details: json!({"reports": ids, "mails": mails}),
            before: None,
            after: None,
            request_id: None,
        },
    )
    .await?;
    Ok((ids.len() as u64, mails))
}
