//! Comments under open petitions (when `petitions.comments` is on), with report-and-hide: a
//! comment reported by `petitions.comment_reports_to_hide` different clients (one report per
//! client's daily hash) is hidden until a moderator restores it in the back office. The
//! author's name is optional and shown as typed; the client's hash is kept only to count
//! reports and limit the rate, and never shown.

use askama::Template;
use axum::Extension;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use stadtkarte_core::client::{self, Peer};
use stadtkarte_core::db::DbError;
use stadtkarte_core::page::{Page, PageContext, html};
use stadtkarte_core::tokio_postgres::GenericClient;
use stadtkarte_core::{Problem, formguard, ratelimit};

use crate::Pt;
use crate::citizen::FORM;
use crate::model::{self, Status};

/// Longest comment (characters).
pub(crate) const BODY_MAX: usize = 2000;
/// Longest author name.
const AUTHOR_MAX: usize = 80;
/// Comments per client and hour.
const PER_CLIENT_HOUR: u32 = 10;

/// The routes of the comments.
pub(crate) fn routes() -> Router<Pt> {
    Router::new()
        .route("/petitionen/{id}/kommentare", post(comment))
        .route("/petitionen/{id}/kommentare/{cid}/melden", post(report))
}

/// A comment as the public sees it.
#[derive(Debug, Clone)]
pub(crate) struct Comment {
    /// Number.
    pub id: i64,
    /// The name the author chose to show (may be empty).
    pub author: String,
    /// Text.
    pub body: String,
    /// When (date and time, Europe/Berlin).
    pub date: String,
}

/// The comments of a petition that are not hidden, oldest first.
pub(crate) async fn list(
    client: &impl GenericClient,
    petition_id: i64,
) -> Result<Vec<Comment>, DbError> {
    let rows = client
        .query(
            "SELECT id, author, body, to_char(created_at AT TIME ZONE 'Europe/Berlin', 'DD.MM.YYYY HH24:MI')
             FROM petitions.comments WHERE petition_id = $1 AND NOT hidden
             ORDER BY created_at, id LIMIT 500",
            &[&petition_id],
        )
        .await
        .map_err(DbError::query("listing comments"))?;
    Ok(rows
        .iter()
        .map(|r| Comment {
            id: r.get(0),
            author: r.get(1),
            body: r.get(2),
            date: r.get(3),
        })
        .collect())
}

/// The comment form as typed.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct CommentTyped {
    /// The name to show (may be empty).
    #[serde(default)]
    pub autor: String,
    /// The comment.
    #[serde(default)]
    pub kommentar: String,
    #[serde(default)]
    stamp: String,
    #[serde(default)]
    website: String,
}

#[derive(Template)]
#[template(path = "kommentar.html")]
struct CommentPage {
    page: Page,
    id: i64,
    typed: CommentTyped,
    error: String,
    message: String,
    stamp: String,
    body_max: usize,
}

#[allow(clippy::too_many_arguments)]
fn render(
    pt: &Pt,
    ctx: &PageContext,
    status: StatusCode,
    id: i64,
    typed: CommentTyped,
    error: String,
    message: String,
    stamp: String,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let page = ctx
        .page(
            &pt.app.config,
            lang.tr("petitions.comments.title").to_owned(),
        )
        .crumb(
            lang.tr("petitions.title"),
            format!("/petitionen?lang={lang}"),
        )
        .crumb(
            lang.tr("petitions.sign.back"),
            format!("/petitionen/{id}?lang={lang}"),
        );
    let mut response = html(&CommentPage {
        page,
        id,
        typed,
        error,
        message,
        stamp,
        body_max: BODY_MAX,
    })?;
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(5));
    }
    Ok(response)
}

fn back_to(id: i64, what: &str, lang: stadtkarte_core::i18n::Lang) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            format!("/petitionen/{id}?{what}=1&lang={lang}#kommentare"),
        )],
    )
        .into_response()
}

/// `POST /petitionen/{id}/kommentare`: a comment under an open petition; back to its page.
#[allow(clippy::too_many_lines)]
async fn comment(
    State(pt): State<Pt>,
    ctx: PageContext,
    Path(id): Path<String>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    Form(typed): Form<CommentTyped>,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let config = &pt.app.config;
    let not_found = || Problem::not_found(format!("There is no petition {id:?} to comment on."));
    if !config.petitions.comments {
        return Err(not_found());
    }
    let Ok(number) = id.parse::<i64>() else {
        return Err(not_found());
    };
    let unavailable = |typed: CommentTyped, p: &Problem| {
        tracing::warn!(status = %p.status, detail = %p.detail, "a comment could not be stored");
        let stamp = typed.stamp.clone();
        render(
            &pt,
            &ctx,
            p.status,
            number,
            typed,
            String::new(),
            lang.tr("petitions.comments.unavailable").to_owned(),
            stamp,
        )
    };
    let mut client = match pt.app.pool.get().await {
        Ok(c) => c,
        Err(e) => return unavailable(typed, &Problem::from(DbError::from(e))),
    };
    let status = match model::petition(&**client, number).await {
        Ok(p) => p.map(|p| p.status),
        Err(e) => return unavailable(typed, &Problem::from(e)),
    };
    match status {
        Some(Status::Open) => {}
        Some(s) if s.is_public() => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "Konflikt / conflict",
                lang.tr("petitions.comments.closed"),
            ));
        }
        _ => return Err(not_found()),
    }
    if let Err(p) = formguard::check(
        &**client,
        FORM,
        &typed.stamp,
        &typed.website,
        config.petitions.min_fill_secs,
    )
    .await
    {
        if !p.status.is_client_error() {
            return unavailable(typed, &p);
        }
        let stamp = formguard::token(&**client, FORM).await.unwrap_or_default();
        return render(
            &pt,
            &ctx,
            StatusCode::BAD_REQUEST,
            number,
            typed,
            String::new(),
            lang.tr("petitions.comments.refused_automated").to_owned(),
            stamp,
        );
    }
    let length = typed.kommentar.trim().chars().count();
    let author_length = typed.autor.trim().chars().count();
    if length == 0 || length > BODY_MAX || author_length > AUTHOR_MAX {
        let stamp = formguard::token(&**client, FORM).await.unwrap_or_default();
        let error = if author_length > AUTHOR_MAX {
            lang.tr("petitions.comments.author_too_long")
        } else {
            lang.tr("petitions.comments.invalid")
        };
        return render(
            &pt,
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            number,
            typed,
            error.to_owned(),
            String::new(),
            stamp,
        );
    }
    let stored = async {
        let who = client::hash(
            &**client,
            peer.map(|p| p.0),
            &headers,
            &config.auth.trusted_proxies,
        )
        .await?;
        ratelimit::hit(
            &**client,
            &format!("petitions:comment:{who}"),
            PER_CLIENT_HOUR,
            3600,
        )
        .await?;
        let tx = client
            .transaction()
            .await
            .map_err(DbError::query("storing a comment"))?;
        tx.execute(
            "INSERT INTO petitions.comments (petition_id, author, body, client_hash)
             SELECT id, $2, $3, $4 FROM petitions.petitions WHERE id = $1 AND status = 'open'",
            &[&number, &typed.autor.trim(), &typed.kommentar.trim(), &who],
        )
        .await
        .map_err(DbError::query("storing a comment"))?;
        tx.commit()
            .await
            .map_err(DbError::query("storing a comment"))?;
        Ok::<_, Problem>(())
    }
    .await;
    match stored {
        Ok(()) => Ok(back_to(number, "kommentiert", lang)),
        Err(p) if p.status == StatusCode::TOO_MANY_REQUESTS => Err(p),
        Err(p) => unavailable(typed, &p),
    }
}

/// The report button's form.
#[derive(Debug, Deserialize)]
pub(crate) struct ReportForm {
    #[serde(default)]
    stamp: String,
    #[serde(default)]
    website: String,
}

/// `POST /petitionen/{id}/kommentare/{cid}/melden`: one report per client; at the configured
/// number of reports the comment is hidden until a moderator restores it.
async fn report(
    State(pt): State<Pt>,
    ctx: PageContext,
    Path((id, cid)): Path<(String, String)>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    Form(form): Form<ReportForm>,
) -> Result<Response, Problem> {
    let config = &pt.app.config;
    let not_found =
        || Problem::not_found(format!("There is no comment {cid:?} on petition {id:?}."));
    if !config.petitions.comments {
        return Err(not_found());
    }
    let (Ok(number), Ok(comment)) = (id.parse::<i64>(), cid.parse::<i64>()) else {
        return Err(not_found());
    };
    let mut client = pt.app.pool.get().await.map_err(DbError::from)?;
    formguard::check(&**client, FORM, &form.stamp, &form.website, 0).await?;
    let who = client::hash(
        &**client,
        peer.map(|p| p.0),
        &headers,
        &config.auth.trusted_proxies,
    )
    .await?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("reporting a comment"))?;
    let known = tx
        .query_opt(
            "SELECT 1 FROM petitions.comments c JOIN petitions.petitions p ON p.id = c.petition_id
             WHERE c.id = $1 AND c.petition_id = $2 AND NOT c.hidden
               AND p.status IN ('open', 'closed', 'rejected')",
            &[&comment, &number],
        )
        .await
        .map_err(DbError::query("reporting a comment"))?;
    if known.is_none() {
        return Err(not_found());
    }
    let first = tx
        .query_opt(
            "INSERT INTO petitions.comment_reports (comment_id, client_hash) VALUES ($1, $2)
             ON CONFLICT DO NOTHING RETURNING 1",
            &[&comment, &who],
        )
        .await
        .map_err(DbError::query("reporting a comment"))?;
    if first.is_some() {
        let to_hide = i32::try_from(config.petitions.comment_reports_to_hide.max(1)).unwrap_or(3);
        tx.execute(
            "UPDATE petitions.comments SET reports = reports + 1,
                 hidden_at = CASE WHEN NOT hidden AND reports + 1 >= $2 THEN now() ELSE hidden_at END,
                 hidden = hidden OR reports + 1 >= $2
             WHERE id = $1",
            &[&comment, &to_hide],
        )
        .await
        .map_err(DbError::query("reporting a comment"))?;
    }
    tx.commit()
        .await
        .map_err(DbError::query("reporting a comment"))?;
    Ok(back_to(number, "gemeldet", ctx.lang))
}
