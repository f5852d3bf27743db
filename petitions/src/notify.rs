//! The mail petitions owe, queued in `petitions.outbox` in the caller's transaction
//! ([`stadtkarte_core::mail`]): the creator's confirmation link, the signers' confirmation
//! links, and the creator's news (sponsors complete, published, rejected, threshold reached,
//! response published, closed). Links open a page; only its button changes anything.

use stadtkarte_core::AppState;
use stadtkarte_core::db::Conn;
use stadtkarte_core::db::DbError;
use stadtkarte_core::i18n::{self, Lang};
use stadtkarte_core::mail;

/// The outbox of the petitions.
pub const OUTBOX: mail::Outbox = "petitions.outbox";

fn link(state: &AppState, path: &str) -> String {
    format!("{}{path}", state.config.base_url())
}

/// The language stored with a creator or signer.
#[must_use]
pub fn lang_of(code: &str) -> Lang {
    Lang::from_code(code).unwrap_or_default()
}

/// "Bitte bestätigen Sie Ihre Petition", with the link to the confirmation page.
pub async fn creator_confirm(
    client: &impl Conn,
    state: &AppState,
    to: &str,
    lang: Lang,
    title: &str,
    token: &str,
) -> Result<(), DbError> {
    let hours = state.config.petitions.confirm_hours;
    let subject = i18n::fill(lang, "petitions.mail.creator_confirm_subject", &[&title]);
    let body = i18n::fill(
        lang,
        "petitions.mail.creator_confirm_body",
        &[
            &title,
            &link(state, &format!("/petitionen/bestaetigen/{token}")),
            &hours,
        ],
    );
    mail::enqueue(client, OUTBOX, to, &subject, &body, "petition_bestaetigen").await
}

/// "Bitte bestätigen Sie Ihre Unterschrift".
pub async fn signature_confirm(
    client: &impl Conn,
    state: &AppState,
    to: &str,
    lang: Lang,
    title: &str,
    token: &str,
) -> Result<(), DbError> {
    let hours = state.config.petitions.confirm_hours;
    let subject = i18n::fill(lang, "petitions.mail.signature_confirm_subject", &[&title]);
    let body = i18n::fill(
        lang,
        "petitions.mail.signature_confirm_body",
        &[
            &title,
            &link(state, &format!("/petitionen/unterschrift/{token}")),
            &hours,
        ],
    );
    mail::enqueue(
        client,
        OUTBOX,
        to,
        &subject,
        &body,
        "unterschrift_bestaetigen",
    )
    .await
}

/// News for the creator of petition `id`: `what` is one of `sponsoring`, `moderation`,
/// `published`, `rejected`, `threshold`, `response`, `closed`, `hidden`; `extra` is the
/// sponsors' link, the rejection reason or the response as fits. Nothing when the creator's
/// address is gone (anonymised).
pub async fn creator_news(
    client: &impl Conn,
    state: &AppState,
    id: i64,
    what: &str,
    extra: &str,
) -> Result<(), DbError> {
    let row = client
        .query_opt(
            "SELECT creator_email, lang, title FROM petitions.petitions WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(DbError::query("reading a petition's creator"))?;
    let Some(row) = row else { return Ok(()) };
    let Some(to) = row.get::<_, Option<String>>(0) else {
        return Ok(());
    };
    let lang = lang_of(row.get(1));
    let title: String = row.get(2);
    let (subject_key, body_key) = match what {
        "sponsoring" => (
            "petitions.mail.sponsoring_subject",
            "petitions.mail.sponsoring_body",
        ),
        "moderation" => (
            "petitions.mail.moderation_subject",
            "petitions.mail.moderation_body",
        ),
        "published" => (
            "petitions.mail.published_subject",
            "petitions.mail.published_body",
        ),
        "rejected" => (
            "petitions.mail.rejected_subject",
            "petitions.mail.rejected_body",
        ),
        "threshold" => (
            "petitions.mail.threshold_subject",
            "petitions.mail.threshold_body",
        ),
        "response" => (
            "petitions.mail.response_subject",
            "petitions.mail.response_body",
        ),
        "closed" => (
            "petitions.mail.closed_subject",
            "petitions.mail.closed_body",
        ),
        _ => (
            "petitions.mail.hidden_subject",
            "petitions.mail.hidden_body",
        ),
    };
    let subject = i18n::fill(lang, subject_key, &[&title]);
    // While it collects sponsors the petition's page is the sponsors' link (`extra`).
    let (page, extra) = if what == "sponsoring" {
        (
            extra.to_owned(),
            state.config.petitions.sponsors.to_string(),
        )
    } else {
        (link(state, &format!("/petitionen/{id}")), extra.to_owned())
    };
    let body = i18n::fill(lang, body_key, &[&title, &page, &extra]);
    mail::enqueue(client, OUTBOX, &to, &subject, &body, what).await
}

/// The response of the council for every confirmed signer who is not anonymised (they signed
/// for it); one mail each, queued.
pub async fn signers_response(
    client: &impl Conn,
    state: &AppState,
    id: i64,
) -> Result<u64, DbError> {
    let rows = client
        .query(
            "SELECT s.email, s.lang, p.title FROM petitions.signatures s
             JOIN petitions.petitions p ON p.id = s.petition_id
             WHERE s.petition_id = $1 AND s.confirmed_at IS NOT NULL AND s.invalidated_at IS NULL
               AND s.email IS NOT NULL",
            &[&id],
        )
        .await
        .map_err(DbError::query("reading the signers"))?;
    let mut n = 0;
    for r in &rows {
        let to: String = r.get(0);
        let lang = lang_of(r.get(1));
        let title: String = r.get(2);
        let subject = i18n::fill(lang, "petitions.mail.signer_response_subject", &[&title]);
        let body = i18n::fill(
            lang,
            "petitions.mail.signer_response_body",
            &[&title, &link(state, &format!("/petitionen/{id}"))],
        );
        mail::enqueue(client, OUTBOX, &to, &subject, &body, "antwort").await?;
        n += 1;
    }
    Ok(n)
}
