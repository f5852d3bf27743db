//! The signer's and creator's rights (DSGVO Art. 15 and 17) for petitions: everything kept
//! about an e-mail address, as JSON, and its deletion. Used by `stadtkarte privacy
//! export|delete` together with the Mängelmelder's.

use serde_json::{Value, json};
use stadtkarte_core::audit;
use stadtkarte_core::db::DbError;
use stadtkarte_core::tokio_postgres::GenericClient;

use crate::model::canonical_email;
use crate::notify;

/// Everything about `email`: petitions started, signatures (also under an alias of the
/// address), and mail.
pub async fn export(client: &impl GenericClient, email: &str) -> Result<Value, DbError> {
    let lower = email.trim().to_lowercase();
    let canonical = canonical_email(email).map(|c| c.0).unwrap_or_default();
    let petitions = client
        .query(
            "SELECT json_build_object('nummer', id, 'titel', title, 'text', body, 'status', status,
                 'name', creator_name, 'e_mail', creator_email, 'name_oeffentlich', creator_public,
                 'stadtteile', districts, 'erstellt', created_at, 'veroeffentlicht', published_at)
             FROM petitions.petitions WHERE lower(creator_email) = $1 ORDER BY id",
            &[&lower],
        )
        .await
        .map_err(DbError::query("exporting personal data"))?
        .iter()
        .map(|r| r.get::<_, Value>(0))
        .collect::<Vec<_>>();
    let signatures = client
        .query(
            "SELECT json_build_object('petition', s.petition_id, 'titel', p.title, 'name', s.name,
                 'e_mail', s.email, 'postleitzahl', s.postcode, 'stadtteil', s.district,
                 'einwohner', s.resident, 'sichtbarkeit', s.visibility, 'unterzeichnet', s.created_at,
                 'bestaetigt', s.confirmed_at, 'ungueltig', s.invalidated_at)
             FROM petitions.signatures s JOIN petitions.petitions p ON p.id = s.petition_id
             WHERE lower(s.email) = $1 OR s.email_canonical = $2 ORDER BY s.id",
            &[&lower, &canonical],
        )
        .await
        .map_err(DbError::query("exporting personal data"))?
        .iter()
        .map(|r| r.get::<_, Value>(0))
        .collect::<Vec<_>>();
    let mails = client
        .query(
            &format!(
                "SELECT json_build_object('betreff', subject, 'text', body, 'art', kind,
                     'erstellt', created_at, 'gesendet', sent_at)
                 FROM {} WHERE lower(recipient) = $1 ORDER BY id",
                notify::OUTBOX
            ),
            &[&lower],
        )
        .await
        .map_err(DbError::query("exporting personal data"))?
        .iter()
        .map(|r| r.get::<_, Value>(0))
        .collect::<Vec<_>>();
    Ok(json!({
        "petitionen": petitions,
        "unterschriften": signatures,
        "e_mails_petitionen": mails,
    }))
}

/// Deletes the personal data of `email`: the creator's name and address on their petitions
/// (the petitions stay), the signatures' personal fields (a confirmed signature keeps counting,
/// anonymous, with its district; an unconfirmed one is deleted), and the mail. Returns
/// (petitions, signatures, mails). Audited with counts.
pub async fn delete(
    client: &impl GenericClient,
    email: &str,
    actor: &str,
) -> Result<(u64, u64, u64), DbError> {
    let lower = email.trim().to_lowercase();
    let canonical = canonical_email(email).map(|c| c.0).unwrap_or_default();
    let petitions = client
        .execute(
            "UPDATE petitions.petitions SET creator_name = NULL, creator_email = NULL, creator_public = false
             WHERE lower(creator_email) = $1",
            &[&lower],
        )
        .await
        .map_err(DbError::query("deleting personal data"))?;
    let unconfirmed = client
        .execute(
            "DELETE FROM petitions.signatures
             WHERE (lower(email) = $1 OR email_canonical = $2) AND confirmed_at IS NULL",
            &[&lower, &canonical],
        )
        .await
        .map_err(DbError::query("deleting personal data"))?;
    let confirmed = client
        .execute(
            "UPDATE petitions.signatures SET name = 'Unterschrift ' || id, email = NULL,
                 email_canonical = NULL, email_domain = NULL, postcode = NULL, client_hash = NULL,
                 visibility = 'anonymous', token_hash = NULL, anonymised_at = now()
             WHERE lower(email) = $1 OR email_canonical = $2",
            &[&lower, &canonical],
        )
        .await
        .map_err(DbError::query("deleting personal data"))?;
    let mails = client
        .execute(
            &format!("DELETE FROM {} WHERE lower(recipient) = $1", notify::OUTBOX),
            &[&lower],
        )
        .await
        .map_err(DbError::query("deleting personal data"))?;
    audit::append(
        client,
        &audit::Entry {
            actor,
            action: "privacy.delete",
            subject: "petitions",
            details: json!({"petitions": petitions, "signatures": unconfirmed + confirmed, "mails": mails}),
            ..audit::Entry::default()
        },
    )
    .await?;
    Ok((petitions, unconfirmed + confirmed, mails))
}
