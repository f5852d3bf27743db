//! `/admin/audit` (`admin`): the audit log, newest first, filtered by who, what, which object
//! and when; `?f=csv` exports the same selection. Staff appear by name (from the accounts),
//! nobody else by anything personal.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use stadtkarte_core::auth;
use stadtkarte_core::backoffice::Shell;
use stadtkarte_core::db::DbError;
use stadtkarte_core::page::{Page, PageContext, html};
use stadtkarte_core::{AppState, Problem, values};

/// The filter of the list.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    f: String,
}

/// One entry as shown.
pub struct Entry {
    chain: i64,
    at: String,
    actor: String,
    action: String,
    subject: String,
    change: String,
    request_id: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct Audit {
    page: Page,
    shell: Shell,
    filter: Filter,
    entries: Vec<Entry>,
    csv_href: String,
}

/// Most entries shown or exported at once.
const LIMIT: i64 = 2_000;

/// `GET /admin/audit`
pub async fn page(
    State(state): State<AppState>,
    ctx: PageContext,
    auth::Admin(staff): auth::Admin,
    Query(filter): Query<Filter>,
) -> Result<Response, Problem> {
    for (name, value) in [("from", &filter.from), ("to", &filter.to)] {
        if !value.is_empty() && values::date(value).is_none() {
            return Err(Problem::bad_request(format!(
                "{name}={value:?} is not a date (YYYY-MM-DD)"
            )));
        }
    }
    let client = state.pool.get().await.map_err(DbError::from)?;
    let like = |s: &str| {
        format!(
            "%{}%",
            s.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    };
    // Checked above; empty means no bound.
    let (from, to) = (
        Some(filter.from.clone()).filter(|d| !d.is_empty()),
        Some(filter.to.clone()).filter(|d| !d.is_empty()),
    );
    let rows = client
        .query(
            "SELECT a.chain, to_char(a.at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD HH24:MI:SS'),
                    CASE WHEN a.actor LIKE 'staff:%' OR a.actor LIKE 'user:%'
                         THEN coalesce(u.display_name || ' (' || a.actor || ')', a.actor) ELSE a.actor END,
                    a.action, a.subject || coalesce(' / ' || a.object, ''),
                    concat_ws(' → ', a.before::text, a.after::text, nullif(a.details::text, '{}')),
                    coalesce(a.request_id, '')
             FROM catalog.audit_log a
             LEFT JOIN auth.users u ON u.id::text = split_part(a.actor, ':', 2) AND (a.actor LIKE 'staff:%' OR a.actor LIKE 'user:%')
             WHERE a.actor ILIKE $1 AND a.action ILIKE $2 AND a.subject ILIKE $3
               AND ($4::text IS NULL OR a.at >= $4::text::date) AND ($5::text IS NULL OR a.at < $5::text::date + 1)
             ORDER BY a.chain DESC LIMIT $6",
            &[&like(&filter.actor), &like(&filter.action), &like(&filter.subject), &from, &to, &LIMIT],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("reading the audit log")(e)))?;
    let entries: Vec<Entry> = rows
        .iter()
        .map(|r| Entry {
            chain: r.get(0),
            at: r.get(1),
            actor: r.get(2),
            action: r.get(3),
            subject: r.get(4),
            change: r.get(5),
            request_id: r.get(6),
        })
        .collect();
    if filter.f == "csv" {
        let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
        let _ = w.write_record(["nr", "zeit", "wer", "was", "objekt", "aenderung", "anfrage"]);
        for e in &entries {
            let _ = w.write_record([
                e.chain.to_string(),
                e.at.clone(),
                e.actor.clone(),
                e.action.clone(),
                e.subject.clone(),
                e.change.clone(),
                e.request_id.clone(),
            ]);
        }
        let body = w.into_inner().unwrap_or_default();
        let mut response = body.into_response();
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"audit-log.csv\""),
        );
        return Ok(response);
    }
    let mut query: Vec<String> = Vec::new();
    for (k, v) in [
        ("actor", &filter.actor),
        ("action", &filter.action),
        ("subject", &filter.subject),
        ("from", &filter.from),
        ("to", &filter.to),
    ] {
        if !v.is_empty() {
            query.push(format!("{k}={}", encode(v)));
        }
    }
    query.push("f=csv".to_owned());
    html(&Audit {
        page: ctx.page(&state.config, ctx.lang.tr("admin.audit").to_owned()),
        shell: Shell::of(&state, &staff),
        csv_href: format!("/admin/audit?{}", query.join("&")),
        filter,
        entries,
    })
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
