//! The mail a report owes: the reporter's confirmation and status updates (with the question
//! "is it fixed?" once it is done), and the department's notice of a new report, at once or in
//! a daily digest. Every mail is queued in `maengel.outbox` in the caller's transaction
//! ([`stadtkarte_core::mail`]); nothing here talks to an SMTP server.

use stadtkarte_core::AppState;
use std::fmt::Write as _;

use stadtkarte_core::db::Conn;
use stadtkarte_core::db::DbError;
use stadtkarte_core::i18n::{self, Lang};
use stadtkarte_core::mail;

use crate::model::{Category, Created, Status};

/// The outbox of the Mängelmelder.
pub const OUTBOX: mail::Outbox = "maengel.outbox";

fn link(state: &AppState, path: &str) -> String {
    format!("{}{path}", state.config.base_url())
}

/// "Ihre Meldung Nr. 42 ist eingegangen", with the tracking link.
pub async fn confirmation(
    client: &impl Conn,
    state: &AppState,
    email: &str,
    lang: Lang,
    created: &Created,
    secret: &str,
) -> Result<(), DbError> {
    let category = lang.pick(&created.category.0, &created.category.1);
    let place = created
        .placed
        .address
        .clone()
        .or_else(|| created.placed.district.clone())
        .unwrap_or_default();
    let subject = i18n::fill(lang, "maengel.mail.confirmation_subject", &[&created.id]);
    let body = i18n::fill(
        lang,
        "maengel.mail.confirmation_body",
        &[
            &created.id,
            &category,
            &place,
            &link(state, &format!("/maengel/{}", created.id)),
            &link(state, &format!("/maengel/{}/abmelden/{secret}", created.id)),
        ],
    );
    mail::enqueue(client, OUTBOX, email, &subject, &body, "bestaetigung").await
}

/// A new report for the department (only where it has a mailbox).
pub async fn department_new(
    client: &impl Conn,
    state: &AppState,
    category: &Category,
    created: &Created,
    description: &str,
) -> Result<(), DbError> {
    // The mailbox came with the category (one statement less per report).
    let Some(to) = category.department_email.clone() else {
        return Ok(());
    };
    let place = created
        .placed
        .address
        .clone()
        .or_else(|| created.placed.district.clone())
        .unwrap_or_default();
    let subject = i18n::fill(
        Lang::De,
        "maengel.mail.department_subject",
        &[&created.id, &category.name_de, &place],
    );
    let body = i18n::fill(
        Lang::De,
        "maengel.mail.department_body",
        &[
            &category.name_de,
            &place,
            &description,
            &link(state, &format!("/admin/maengel/{}", created.id)),
        ],
    );
    mail::enqueue(client, OUTBOX, &to, &subject, &body, "amt").await
}

/// A public status change for the reporter (if they want updates and their address is still
/// kept). After "erledigt" the mail asks whether it is fixed, with a link to answer.
pub async fn status_changed(
    client: &impl Conn,
    state: &AppState,
    report: i64,
    status: Status,
    note: Option<&str>,
) -> Result<(), DbError> {
    let Some(row) = client
        .query_opt(
            "SELECT reporter_email, lang, secret, c.name_de, c.name_en, r.duplicate_of
             FROM maengel.reports r JOIN maengel.categories c ON c.code = r.category
             WHERE r.id = $1 AND r.wants_updates AND r.reporter_email IS NOT NULL",
            &[&report],
        )
        .await
        .map_err(DbError::query("reading a reporter's address"))?
    else {
        return Ok(());
    };
    let email: String = row.get(0);
    let lang = Lang::from_code(row.get(1)).unwrap_or(Lang::De);
    let secret: String = row.get(2);
    let category: String = row.get(lang.pick(3, 4));
    let duplicate_of: Option<i64> = row.get(5);
    let subject = i18n::fill(
        lang,
        "maengel.mail.status_subject",
        &[&report, &status.label(lang)],
    );
    let mut body = i18n::fill(
        lang,
        "maengel.mail.status_body",
        &[&report, &category, &status.label(lang)],
    );
    if let Some(note) = note.filter(|n| !n.trim().is_empty()) {
        body.push_str("\n\n");
        body.push_str(&i18n::fill(
            lang,
            "maengel.mail.status_note",
            &[&note.trim()],
        ));
    }
    if let Some(target) = duplicate_of.filter(|_| status == Status::Duplikat) {
        body.push_str("\n\n");
        body.push_str(&i18n::fill(
            lang,
            "maengel.mail.duplicate_of",
            &[&link(state, &format!("/maengel/{target}"))],
        ));
    }
    if status == Status::Erledigt {
        body.push_str("\n\n");
        body.push_str(&i18n::fill(
            lang,
            "maengel.mail.fixed_question",
            &[&link(
                state,
                &format!("/maengel/{report}/rueckmeldung/{secret}"),
            )],
        ));
    }
    body.push_str("\n\n");
    body.push_str(&i18n::fill(
        lang,
        "maengel.mail.footer",
        &[
            &link(state, &format!("/maengel/{report}")),
            &link(state, &format!("/maengel/{report}/abmelden/{secret}")),
        ],
    ));
    if status == Status::Erledigt {
        client
            .execute(
                "UPDATE maengel.reports SET asked_fixed_at = now() WHERE id = $1",
                &[&report],
            )
            .await
            .map_err(DbError::query("noting the question"))?;
    }
    mail::enqueue(client, OUTBOX, &email, &subject, &body, "status").await
}

/// Sends the daily digests that are due: at `maengel.digest_hour` (Europe/Berlin) each
/// department with a mailbox and digest categories gets the reports of the last day, once.
pub async fn digests(state: &AppState) -> Result<usize, DbError> {
    let mut client = state.pool.get().await?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("preparing digests"))?;
    let hour = i32::try_from(state.config.maengel.digest_hour).unwrap_or(7);
    let due = tx
        .query(
            "SELECT d.id, d.email, (now() AT TIME ZONE 'Europe/Berlin')::date::text
             FROM auth.departments d
             WHERE d.email IS NOT NULL
               AND extract(hour FROM now() AT TIME ZONE 'Europe/Berlin') >= $1
               AND EXISTS (SELECT 1 FROM maengel.categories c WHERE c.department = d.id AND c.notify = 'digest')
               AND NOT EXISTS (SELECT 1 FROM maengel.digests g WHERE g.department = d.id
                               AND g.day = (now() AT TIME ZONE 'Europe/Berlin')::date)
             FOR UPDATE OF d SKIP LOCKED",
            &[&f64::from(hour)],
        )
        .await
        .map_err(DbError::query("finding due digests"))?;
    let mut sent = 0;
    for row in due {
        let (department, email, day): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        let reports = tx
            .query(
                "SELECT r.id, c.name_de, coalesce(r.address, r.district, ''), left(r.description, 200)
                 FROM maengel.reports r JOIN maengel.categories c ON c.code = r.category
                 WHERE c.department = $1 AND c.notify = 'digest'
                   AND r.created_at >= now() - interval '1 day'
                 ORDER BY r.id",
                &[&department],
            )
            .await
            .map_err(DbError::query("collecting a digest"))?;
        tx.execute(
            "INSERT INTO maengel.digests (department, day) VALUES ($1, $2::date)",
            &[&department, &day],
        )
        .await
        .map_err(DbError::query("noting a digest"))?;
        if reports.is_empty() {
            continue;
        }
        let mut lines = String::new();
        for r in &reports {
            let (id, category, place, text): (i64, String, String, String) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            let _ = write!(
                lines,
                "- Nr. {id} · {category} · {place}\n  {}\n  {}\n",
                text.replace('\n', " "),
                link(state, &format!("/admin/maengel/{id}"))
            );
        }
        let subject = i18n::fill(
            Lang::De,
            "maengel.mail.digest_subject",
            &[&reports.len(), &day],
        );
        let body = i18n::fill(Lang::De, "maengel.mail.digest_body", &[&lines]);
        mail::enqueue(&*tx, OUTBOX, &email, &subject, &body, "tagesuebersicht").await?;
        sent += 1;
    }
    tx.commit()
        .await
        .map_err(DbError::query("sending digests"))?;
    Ok(sent)
}

/// The reporter says it is not fixed: the department hears of it (where it has a mailbox).
pub async fn department_reopened(
    client: &impl Conn,
    state: &AppState,
    category: &Category,
    report: i64,
) -> Result<(), DbError> {
    let Some(row) = client
        .query_opt(
            "SELECT email FROM auth.departments WHERE id = $1 AND email IS NOT NULL",
            &[&category.department],
        )
        .await
        .map_err(DbError::query("reading a department's mailbox"))?
    else {
        return Ok(());
    };
    let to: String = row.get(0);
    let subject = i18n::fill(Lang::De, "maengel.mail.reopened_subject", &[&report]);
    let body = i18n::fill(
        Lang::De,
        "maengel.mail.reopened_body",
        &[
            &report,
            &category.name_de,
            &link(state, &format!("/admin/maengel/{report}")),
        ],
    );
    mail::enqueue(client, OUTBOX, &to, &subject, &body, "amt").await
}
