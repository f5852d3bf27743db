//! The moderators' back office (`moderator`, or `admin`): the queue (new, flagged, sponsoring,
//! open, closed, rejected, hidden; reported comments; trending alerts) with a banner when the
//! oldest petition waits too long, a petition's page (the preview as the public will see it,
//! the creator's contact for staff only, the history from the audit log) and its actions:
//! publish, reject with a reason code and text, hide, edit the title (the creator's kept),
//! publish the council's response, close early, flag with an internal note, and invalidate
//! signatures in bulk ([`crate::abuse`]). Comments are hidden and restored here too.
//!
//! Every action is one transaction: the change, its audit entry (before and after, nothing
//! personal) and the mails it owes (queued in the outbox) commit together or not at all.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use stadtkarte_core::auth::{self, Role, Staff};
use stadtkarte_core::backoffice::{Shell, Widget};
use stadtkarte_core::catalog::{self, quote_ident};
use stadtkarte_core::db::DbError;
use stadtkarte_core::i18n::{self, Lang};
use stadtkarte_core::page::{Page, PageContext, html};
use stadtkarte_core::tokio_postgres::GenericClient;
use stadtkarte_core::{AppState, Problem, audit};

use crate::Pt;
use crate::abuse::{self, Alert, KeyKind, Origins, Selection};
use crate::model::{self, Counts, Petition, Status};
use crate::notify;

/// Hours after which the oldest petition waiting for moderation raises the delay banner.
pub const DELAY_HOURS: i64 = 48;

/// Longest rejection text, hiding reason, note (characters).
const REASON_MAX: usize = 2000;
/// Longest response of the council.
const RESPONSE_MAX: usize = 20_000;

/// The routes of this module.
pub(crate) fn routes() -> Router<Pt> {
    Router::new()
        .route("/admin/petitionen", get(queue))
        .route("/admin/petitionen/{id}", get(detail))
        .route("/admin/petitionen/{id}/{action}", post(act))
        .route(
            "/admin/petitionen/kommentare/{cid}/{action}",
            post(comment_act),
        )
}

/// Every staff route with the role it needs.
pub const ROUTES: &[(&str, &str, Option<Role>)] = &[
    ("GET", "/admin/petitionen", Some(Role::Moderator)),
    ("GET", "/admin/petitionen/1", Some(Role::Moderator)),
    (
        "POST",
        "/admin/petitionen/1/veroeffentlichen",
        Some(Role::Moderator),
    ),
    (
        "POST",
        "/admin/petitionen/1/ablehnen",
        Some(Role::Moderator),
    ),
    (
        "POST",
        "/admin/petitionen/1/verbergen",
        Some(Role::Moderator),
    ),
    ("POST", "/admin/petitionen/1/titel", Some(Role::Moderator)),
    ("POST", "/admin/petitionen/1/antwort", Some(Role::Moderator)),
    (
        "POST",
        "/admin/petitionen/1/schliessen",
        Some(Role::Moderator),
    ),
    (
        "POST",
        "/admin/petitionen/1/markieren",
        Some(Role::Moderator),
    ),
    (
        "POST",
        "/admin/petitionen/1/ungueltig",
        Some(Role::Moderator),
    ),
    (
        "POST",
        "/admin/petitionen/kommentare/1/verbergen",
        Some(Role::Moderator),
    ),
    (
        "POST",
        "/admin/petitionen/kommentare/1/wiederherstellen",
        Some(Role::Moderator),
    ),
];

/// The reason codes of a rejection (the migration's CHECK list) with their labels.
pub const REJECT_CODES: [(&str, &str); 8] = [
    ("duplicate", "petitions.admin.reject_codes.duplicate"),
    ("irrelevant", "petitions.admin.reject_codes.irrelevant"),
    ("not_city", "petitions.admin.reject_codes.not_city"),
    ("offensive", "petitions.admin.reject_codes.offensive"),
    ("advertising", "petitions.admin.reject_codes.advertising"),
    ("personal", "petitions.admin.reject_codes.personal"),
    ("unclear", "petitions.admin.reject_codes.unclear"),
    ("other", "petitions.admin.reject_codes.other"),
];

fn reject_label(code: &str) -> Option<&'static str> {
    REJECT_CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, key)| *key)
}

fn db(what: &'static str) -> impl FnOnce(stadtkarte_core::tokio_postgres::Error) -> Problem {
    move |e| Problem::from(DbError::query(what)(e))
}

fn no_store(mut response: Response) -> Result<Response, Problem> {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-store".parse().map_err(Problem::internal)?,
    );
    Ok(response)
}

/// "3 Std." or "5 Tage".
fn age(lang: Lang, hours: i64) -> String {
    if hours < DELAY_HOURS {
        i18n::fill(lang, "petitions.admin.hours", &[&hours.max(0)])
    } else {
        i18n::fill(lang, "petitions.admin.days", &[&(hours / 24)])
    }
}

// ----------------------------------------------------------------------------------------
// Dashboard

/// The dashboard's counts: waiting for moderation, flagged, reported comments, trending alerts.
pub(crate) async fn widgets(state: AppState, _staff: Staff) -> Result<Vec<Widget>, Problem> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE status = 'moderation'),
                    count(*) FILTER (WHERE flagged AND status NOT IN ('rejected', 'hidden')),
                    coalesce(max(extract(epoch FROM now() - coalesce(confirmed_at, created_at)) / 3600)
                             FILTER (WHERE status = 'moderation'), 0)::bigint,
                    (SELECT count(*) FROM petitions.comments WHERE reports > 0 OR hidden)
             FROM petitions.petitions",
            &[],
        )
        .await
        .map_err(db("counting the petitions' queue"))?;
    let waiting: i64 = row.get(0);
    let oldest: i64 = row.get(2);
    let alerts = abuse::trending(&**client, &state.config.petitions).await?;
    let worst = alerts.first().map_or_else(String::new, |a| {
        format!("{}: {}/h (#{})", a.key, a.count, a.petition_id)
    });
    Ok(vec![
        Widget {
            label_key: "petitions.admin.widget_waiting",
            count: waiting,
            href: "/admin/petitionen?ansicht=neu".to_owned(),
            note: if waiting > 0 {
                format!("{oldest} h")
            } else {
                String::new()
            },
        },
        Widget {
            label_key: "petitions.admin.widget_flagged",
            count: row.get(1),
            href: "/admin/petitionen?ansicht=markiert".to_owned(),
            note: String::new(),
        },
        Widget {
            label_key: "petitions.admin.widget_comments",
            count: row.get(3),
            href: "/admin/petitionen?ansicht=kommentare".to_owned(),
            note: String::new(),
        },
        Widget {
            label_key: "petitions.admin.widget_trending",
            count: i64::try_from(alerts.len()).unwrap_or(i64::MAX),
            href: "/admin/petitionen?ansicht=trends".to_owned(),
            note: worst,
        },
    ])
}

// ----------------------------------------------------------------------------------------
// The queue

/// A tab of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    New,
    Flagged,
    Sponsoring,
    Open,
    Closed,
    Rejected,
    Hidden,
    Comments,
    Trending,
}

impl View {
    const ALL: [Self; 9] = [
        Self::New,
        Self::Flagged,
        Self::Sponsoring,
        Self::Open,
        Self::Closed,
        Self::Rejected,
        Self::Hidden,
        Self::Comments,
        Self::Trending,
    ];

    fn slug(self) -> &'static str {
        match self {
            Self::New => "neu",
            Self::Flagged => "markiert",
            Self::Sponsoring => "unterstuetzung",
            Self::Open => "offen",
            Self::Closed => "geschlossen",
            Self::Rejected => "abgelehnt",
            Self::Hidden => "verborgen",
            Self::Comments => "kommentare",
            Self::Trending => "trends",
        }
    }

    fn label_key(self) -> &'static str {
        match self {
            Self::New => "petitions.admin.tabs.new",
            Self::Flagged => "petitions.admin.tabs.flagged",
            Self::Sponsoring => "petitions.admin.tabs.sponsoring",
            Self::Open => "petitions.admin.tabs.open",
            Self::Closed => "petitions.admin.tabs.closed",
            Self::Rejected => "petitions.admin.tabs.rejected",
            Self::Hidden => "petitions.admin.tabs.hidden",
            Self::Comments => "petitions.admin.tabs.comments",
            Self::Trending => "petitions.admin.tabs.trending",
        }
    }

    fn parse(slug: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|v| v.slug() == slug)
            .unwrap_or(Self::New)
    }

    /// The statuses a petition tab lists (empty for the others).
    fn statuses(self) -> &'static [&'static str] {
        match self {
            Self::New => &["moderation"],
            Self::Flagged => &[
                "pending",
                "sponsoring",
                "moderation",
                "open",
                "closed",
                "rejected",
                "hidden",
            ],
            Self::Sponsoring => &["sponsoring"],
            Self::Open => &["open"],
            Self::Closed => &["closed"],
            Self::Rejected => &["rejected"],
            Self::Hidden => &["hidden"],
            Self::Comments | Self::Trending => &[],
        }
    }
}

/// The queue's parameters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    ansicht: String,
    /// `kommentar`: a comment was changed.
    #[serde(default)]
    hinweis: String,
}

/// A tab with its count.
struct Tab {
    slug: &'static str,
    label_key: &'static str,
    count: i64,
    current: bool,
}

/// A petition in the queue.
struct QueueRow {
    id: i64,
    title: String,
    status: Status,
    flagged: bool,
    has_note: bool,
    topic: String,
    districts: String,
    age: String,
    waiting_long: bool,
    created: String,
    signatures: i64,
    sponsors: i64,
    deadline: Option<String>,
}

/// A reported or hidden comment.
struct CommentRow {
    id: i64,
    petition_id: i64,
    title: String,
    author: String,
    body: String,
    reports: i32,
    hidden: bool,
    created: String,
}

#[derive(Template)]
#[template(path = "admin_queue.html")]
struct Queue {
    page: Page,
    shell: Shell,
    tabs: Vec<Tab>,
    view: &'static str,
    rows: Vec<QueueRow>,
    comments: Vec<CommentRow>,
    alerts: Vec<Alert>,
    pending: i64,
    delay: String,
    message: String,
}

/// `GET /admin/petitionen?ansicht=…`: the queue.
async fn queue(
    State(pt): State<Pt>,
    ctx: PageContext,
    auth::Moderator(staff): auth::Moderator,
    Query(q): Query<QueueQuery>,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let view = View::parse(&q.ansicht);
    let client = pt.app.pool.get().await.map_err(DbError::from)?;
    let c = client
        .query_one(
            "SELECT count(*) FILTER (WHERE status = 'moderation'),
                    count(*) FILTER (WHERE flagged),
                    count(*) FILTER (WHERE status = 'sponsoring'),
                    count(*) FILTER (WHERE status = 'open'),
                    count(*) FILTER (WHERE status = 'closed'),
                    count(*) FILTER (WHERE status = 'rejected'),
                    count(*) FILTER (WHERE status = 'hidden'),
                    (SELECT count(*) FROM petitions.comments WHERE reports > 0 OR hidden),
                    count(*) FILTER (WHERE status = 'pending'),
                    coalesce(max(extract(epoch FROM now() - coalesce(confirmed_at, created_at)) / 3600)
                             FILTER (WHERE status = 'moderation'), 0)::bigint
             FROM petitions.petitions",
            &[],
        )
        .await
        .map_err(db("counting the petitions' queue"))?;
    let alerts = abuse::trending(&**client, &pt.app.config.petitions).await?;
    let tabs: Vec<Tab> = View::ALL
        .into_iter()
        .enumerate()
        .map(|(i, v)| Tab {
            slug: v.slug(),
            label_key: v.label_key(),
            count: if v == View::Trending {
                i64::try_from(alerts.len()).unwrap_or(i64::MAX)
            } else {
                c.get(i)
            },
            current: v == view,
        })
        .collect();
    let oldest: i64 = c.get(9);
    let delay = if c.get::<_, i64>(0) > 0 && oldest >= DELAY_HOURS {
        i18n::fill(lang, "petitions.admin.delay_banner", &[&age(lang, oldest)])
    } else {
        String::new()
    };
    let statuses = view.statuses();
    let rows = if statuses.is_empty() {
        Vec::new()
    } else {
        client
            .query(
                "SELECT p.id, p.title, p.status, p.flagged, p.moderation_note IS NOT NULL,
                        t.name_de, t.name_en, array_to_string(p.districts, ', '),
                        (extract(epoch FROM now() - coalesce(p.confirmed_at, p.created_at)) / 3600)::bigint,
                        to_char(p.created_at AT TIME ZONE 'Europe/Berlin', 'DD.MM.YYYY HH24:MI'),
                        (SELECT coalesce(sum(n), 0) FROM petitions.counts c WHERE c.petition_id = p.id)::bigint,
                        (SELECT count(*) FROM petitions.signatures s WHERE s.petition_id = p.id AND s.sponsor
                            AND s.confirmed_at IS NOT NULL AND s.invalidated_at IS NULL),
                        to_char(p.deadline AT TIME ZONE 'Europe/Berlin', 'DD.MM.YYYY')
                 FROM petitions.petitions p JOIN petitions.topics t ON t.code = p.topic
                 WHERE p.status = ANY($1) AND (NOT $2 OR p.flagged)
                 ORDER BY p.flagged DESC,
                          CASE WHEN p.status IN ('moderation', 'sponsoring') THEN coalesce(p.confirmed_at, p.created_at) END,
                          p.created_at DESC
                 LIMIT 500",
                &[&statuses, &(view == View::Flagged)],
            )
            .await
            .map_err(db("reading the petitions' queue"))?
            .iter()
            .map(|r| {
                let status = Status::parse(r.get(2)).unwrap_or(Status::Hidden);
                let hours: i64 = r.get(8);
                QueueRow {
                    id: r.get(0),
                    title: r.get(1),
                    status,
                    flagged: r.get(3),
                    has_note: r.get(4),
                    topic: lang.pick(r.get(5), r.get(6)),
                    districts: r.get(7),
                    age: age(lang, hours),
                    waiting_long: status == Status::Moderation && hours >= DELAY_HOURS,
                    created: r.get(9),
                    signatures: r.get(10),
                    sponsors: r.get(11),
                    deadline: r.get(12),
                }
            })
            .collect()
    };
    let comments = if view == View::Comments {
        client
            .query(
                "SELECT c.id, c.petition_id, p.title, c.author, c.body, c.reports, c.hidden,
                        to_char(c.created_at AT TIME ZONE 'Europe/Berlin', 'DD.MM.YYYY HH24:MI')
                 FROM petitions.comments c JOIN petitions.petitions p ON p.id = c.petition_id
                 WHERE c.reports > 0 OR c.hidden
                 ORDER BY c.hidden DESC, c.reports DESC, c.created_at LIMIT 300",
                &[],
            )
            .await
            .map_err(db("reading reported comments"))?
            .iter()
            .map(|r| CommentRow {
                id: r.get(0),
                petition_id: r.get(1),
                title: r.get(2),
                author: r.get(3),
                body: r.get(4),
                reports: r.get(5),
                hidden: r.get(6),
                created: r.get(7),
            })
            .collect()
    } else {
        Vec::new()
    };
    let message = match q.hinweis.as_str() {
        "kommentar" => lang.tr("petitions.admin.comment_saved").to_owned(),
        _ => String::new(),
    };
    let page = ctx.page(&pt.app.config, lang.tr("petitions.admin.queue").to_owned());
    no_store(html(&Queue {
        page,
        shell: Shell::of(&pt.app, &staff),
        tabs,
        view: view.slug(),
        rows,
        comments,
        alerts,
        pending: c.get(8),
        delay,
        message,
    })?)
}

// ----------------------------------------------------------------------------------------
// A petition's page

/// The place drawn on the city's districts (server-side SVG, no script).
#[derive(Debug, Clone, Default)]
struct PlaceMap {
    view_box: String,
    /// (name, path data, one of the petition's districts)
    districts: Vec<(String, String, bool)>,
    /// The area's path data (empty for a point).
    shape: String,
    /// The point (or the area's inner point) in SVG coordinates.
    point: Option<(f64, f64)>,
    radius: f64,
}

async fn place_map(
    client: &impl GenericClient,
    app: &AppState,
    id: i64,
    chosen: &[String],
) -> Result<PlaceMap, Problem> {
    let shape = client
        .query_one(
            "SELECT CASE WHEN GeometryType(geom) IN ('POINT', 'MULTIPOINT') THEN ''
                         ELSE ST_AsSVG(geom, 0, 1) END,
                    ST_X(ST_PointOnSurface(geom)), -ST_Y(ST_PointOnSurface(geom)),
                    ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)
             FROM petitions.petitions WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(db("drawing a petition's place"))?;
    let mut extent: (f64, f64, f64, f64) = (shape.get(3), shape.get(4), shape.get(5), shape.get(6));
    let mut districts = Vec::new();
    if let Some(table) = catalog::get(client, &app.config.maengel.districts_collection).await? {
        let rows = client
            .query(
                &format!(
                    "SELECT {name}::text, ST_AsSVG(ST_SimplifyPreserveTopology(ST_Transform(geom, 25832), 10), 0, 0),
                            ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
                     FROM {table}, LATERAL (SELECT ST_Transform(geom, 25832)::box2d AS e) b
                     WHERE {name} IS NOT NULL ORDER BY 1",
                    name = quote_ident(&app.config.maengel.district_name_column),
                    table = table.table_sql()
                ),
                &[],
            )
            .await
            .map_err(db("drawing the districts"))?;
        for r in &rows {
            let name: String = r.get(0);
            extent = (
                extent.0.min(r.get(2)),
                extent.1.min(r.get(3)),
                extent.2.max(r.get(4)),
                extent.3.max(r.get(5)),
            );
            let is_chosen = chosen.contains(&name);
            districts.push((name, r.get(1), is_chosen));
        }
    }
    let (x0, y0, x1, y1) = extent;
    let size = (x1 - x0).max(y1 - y0).max(500.0);
    let pad = size * 0.03;
    let shape_svg: String = shape.get(0);
    Ok(PlaceMap {
        view_box: format!(
            "{:.0} {:.0} {:.0} {:.0}",
            x0 - pad,
            -y1 - pad,
            x1 - x0 + 2.0 * pad,
            y1 - y0 + 2.0 * pad
        ),
        districts,
        point: shape_svg.is_empty().then(|| (shape.get(1), shape.get(2))),
        shape: shape_svg,
        radius: (size / 80.0).max(8.0),
    })
}

/// An entry of the petition's history in the audit log.
struct HistoryRow {
    at: String,
    what: String,
    who: String,
    object: String,
    change: String,
}

fn history_key(action: &str) -> Option<&'static str> {
    Some(match action {
        "petition.publish" => "petitions.admin.history.publish",
        "petition.reject" => "petitions.admin.history.reject",
        "petition.hide" => "petitions.admin.history.hide",
        "petition.title" => "petitions.admin.history.title",
        "petition.response" => "petitions.admin.history.response",
        "petition.close" => "petitions.admin.history.close",
        "petition.flag" => "petitions.admin.history.flag",
        "petition.invalidate_signatures" => "petitions.admin.history.invalidate",
        "petition.comment_hide" => "petitions.admin.history.comment_hide",
        "petition.comment_restore" => "petitions.admin.history.comment_restore",
        _ => return None,
    })
}

/// Values to fill the invalidation form with (from a trending alert's link).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Prefill {
    #[serde(default)]
    art: String,
    #[serde(default)]
    schluessel: String,
    #[serde(default)]
    von: String,
    #[serde(default)]
    bis: String,
}

#[derive(Template)]
#[template(path = "admin_detail.html")]
struct DetailPage {
    page: Page,
    shell: Shell,
    p: Petition,
    counts: Counts,
    map: PlaceMap,
    history: Vec<HistoryRow>,
    alerts: Vec<Alert>,
    origins: Origins,
    sponsors: i64,
    prefill: Prefill,
    message: String,
    /// The reject code's label, when rejected.
    reject_label: String,
}

impl DetailPage {
    fn can_publish(&self) -> bool {
        may(Action::Publish, self.p.status)
    }
    fn can_reject(&self) -> bool {
        may(Action::Reject, self.p.status)
    }
    fn can_hide(&self) -> bool {
        may(Action::Hide, self.p.status)
    }
    fn can_respond(&self) -> bool {
        may(Action::Response, self.p.status)
    }
    fn can_close(&self) -> bool {
        may(Action::Close, self.p.status)
    }
    fn is_public(&self) -> bool {
        self.p.status.is_public()
    }
    fn prefill_is(&self, kind: &str) -> bool {
        self.prefill.art == kind || (self.prefill.art.is_empty() && kind == "domain")
    }
    #[allow(clippy::unused_self)]
    fn reject_codes(&self) -> &'static [(&'static str, &'static str)] {
        &REJECT_CODES
    }
    /// `2025-03-01T10:00` as `2025-03-01 10:00`.
    #[allow(clippy::unused_self)]
    fn when(&self, iso: &str) -> String {
        iso.replace('T', " ")
    }
    fn place_kind_key(&self) -> &'static str {
        match self.p.place_kind.as_str() {
            "point" => "petitions.admin.place_kinds.point",
            "area" => "petitions.admin.place_kinds.area",
            _ => "petitions.admin.place_kinds.districts",
        }
    }
}

async fn render_detail(
    pt: &Pt,
    ctx: &PageContext,
    staff: &Staff,
    id: i64,
    prefill: Prefill,
    message: String,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let client = pt.app.pool.get().await.map_err(DbError::from)?;
    let p = model::petition(&**client, id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("There is no petition {id}.")))?;
    let counts = model::counts(&**client, id, p.residents_only).await?;
    let map = place_map(&**client, &pt.app, id, &p.districts).await?;
    let subject = format!("petition:{id}");
    let history = client
        .query(
            "SELECT to_char(a.at AT TIME ZONE 'Europe/Berlin', 'DD.MM.YYYY HH24:MI'), a.action,
                    CASE WHEN a.actor LIKE 'staff:%' THEN coalesce(u.display_name, a.actor) ELSE a.actor END,
                    coalesce(a.object, ''),
                    concat_ws(' → ', a.before::text, a.after::text, nullif(a.details::text, '{}'))
             FROM catalog.audit_log a
             LEFT JOIN auth.users u ON a.actor LIKE 'staff:%' AND u.id::text = split_part(a.actor, ':', 2)
             WHERE a.subject = $1 ORDER BY a.at, a.id",
            &[&subject],
        )
        .await
        .map_err(db("reading a petition's history"))?
        .iter()
        .map(|r| {
            let action: String = r.get(1);
            HistoryRow {
                at: r.get(0),
                what: history_key(&action).map_or(action, |k| lang.tr(k).to_owned()),
                who: r.get(2),
                object: r.get(3),
                change: r.get(4),
            }
        })
        .collect();
    let alerts = abuse::trending(&**client, &pt.app.config.petitions)
        .await?
        .into_iter()
        .filter(|a| a.petition_id == id)
        .collect();
    let origins = abuse::origins(&**client, id).await?;
    let sponsors: i64 = client
        .query_one(
            "SELECT count(*) FROM petitions.signatures WHERE petition_id = $1 AND sponsor
                 AND confirmed_at IS NOT NULL AND invalidated_at IS NULL",
            &[&id],
        )
        .await
        .map_err(db("counting sponsors"))?
        .get(0);
    let reject_label = p
        .reject_code
        .as_deref()
        .and_then(reject_label)
        .map_or_else(String::new, |k| lang.tr(k).to_owned());
    let page = ctx
        .page(
            &pt.app.config,
            i18n::fill(lang, "petitions.admin.detail_title", &[&id]),
        )
        .crumb(lang.tr("petitions.admin.queue"), "/admin/petitionen");
    no_store(html(&DetailPage {
        page,
        shell: Shell::of(&pt.app, staff),
        p,
        counts,
        map,
        history,
        alerts,
        origins,
        sponsors,
        prefill,
        message,
        reject_label,
    })?)
}

/// `GET /admin/petitionen/{id}` (with `?art=&schluessel=&von=` from a trending alert).
async fn detail(
    State(pt): State<Pt>,
    ctx: PageContext,
    auth::Moderator(staff): auth::Moderator,
    Path(id): Path<i64>,
    Query(prefill): Query<Prefill>,
) -> Result<Response, Problem> {
    render_detail(&pt, &ctx, &staff, id, prefill, String::new()).await
}

// ----------------------------------------------------------------------------------------
// Actions

/// What a moderator can do to a petition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Publish,
    Reject,
    Hide,
    Title,
    Response,
    Close,
    Flag,
    Invalidate,
}

impl Action {
    fn parse(slug: &str) -> Option<Self> {
        Some(match slug {
            "veroeffentlichen" => Self::Publish,
            "ablehnen" => Self::Reject,
            "verbergen" => Self::Hide,
            "titel" => Self::Title,
            "antwort" => Self::Response,
            "schliessen" => Self::Close,
            "markieren" => Self::Flag,
            "ungueltig" => Self::Invalidate,
            _ => return None,
        })
    }

    /// The audit log's action.
    fn audit(self) -> &'static str {
        match self {
            Self::Publish => "petition.publish",
            Self::Reject => "petition.reject",
            Self::Hide => "petition.hide",
            Self::Title => "petition.title",
            Self::Response => "petition.response",
            Self::Close => "petition.close",
            Self::Flag => "petition.flag",
            Self::Invalidate => "petition.invalidate_signatures",
        }
    }

    /// Its name (buttons, refusals).
    fn label_key(self) -> &'static str {
        match self {
            Self::Publish => "petitions.admin.do.publish",
            Self::Reject => "petitions.admin.do.reject",
            Self::Hide => "petitions.admin.do.hide",
            Self::Title => "petitions.admin.do.title",
            Self::Response => "petitions.admin.do.response",
            Self::Close => "petitions.admin.do.close",
            Self::Flag => "petitions.admin.do.flag",
            Self::Invalidate => "petitions.admin.do.invalidate",
        }
    }
}

/// Whether `action` fits a petition in `status`.
fn may(action: Action, status: Status) -> bool {
    match action {
        Action::Publish => status == Status::Moderation,
        Action::Reject => matches!(status, Status::Moderation | Status::Sponsoring),
        Action::Hide => status != Status::Hidden,
        Action::Response => matches!(status, Status::Open | Status::Closed),
        Action::Close => status == Status::Open,
        Action::Title | Action::Flag | Action::Invalidate => true,
    }
}

/// 409: the action does not fit the petition's status.
fn wrong_status(lang: Lang, action: Action, status: Status) -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "Nicht möglich in diesem Status / not possible in this status",
        i18n::fill(
            lang,
            "petitions.admin.wrong_status",
            &[&lang.tr(action.label_key()), &lang.tr(status.label_key())],
        ),
    )
}

/// The fields of every action's form (each action reads its own).
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    /// Rejection: the reason code.
    #[serde(default)]
    grund: String,
    /// Rejection text, hiding reason, invalidation reason.
    #[serde(default)]
    text: String,
    #[serde(default)]
    titel: String,
    #[serde(default)]
    antwort: String,
    #[serde(default)]
    notiz: String,
    /// `ja` or `nein`.
    #[serde(default)]
    markiert: String,
    /// Invalidation: `domain` or `client`, the key, the time window.
    #[serde(default)]
    art: String,
    #[serde(default)]
    schluessel: String,
    #[serde(default)]
    von: String,
    #[serde(default)]
    bis: String,
}

/// A petition's state as the audit log records it (nothing personal), and the creator's
/// language.
async fn snapshot(
    client: &impl GenericClient,
    id: i64,
) -> Result<(serde_json::Value, Status, Lang), Problem> {
    let r = client
        .query_opt(
            "SELECT status, title, original_title, flagged, moderation_note IS NOT NULL, reject_code,
                    hidden_reason IS NOT NULL, response IS NOT NULL,
                    to_char(closed_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD\"T\"HH24:MI'),
                    to_char(deadline AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD\"T\"HH24:MI'),
                    threshold_reached_at IS NOT NULL, lang,
                    (SELECT coalesce(sum(n), 0) FROM petitions.counts WHERE petition_id = $1)::bigint
             FROM petitions.petitions WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(db("reading a petition"))?
        .ok_or_else(|| Problem::not_found(format!("There is no petition {id}.")))?;
    let status = Status::parse(r.get(0)).unwrap_or(Status::Hidden);
    let lang = notify::lang_of(r.get(11));
    Ok((
        json!({
            "status": status.as_str(),
            "title": r.get::<_, String>(1),
            "original_title": r.get::<_, Option<String>>(2),
            "flagged": r.get::<_, bool>(3),
            "has_note": r.get::<_, bool>(4),
            "reject_code": r.get::<_, Option<String>>(5),
            "has_hidden_reason": r.get::<_, bool>(6),
            "has_response": r.get::<_, bool>(7),
            "closed_at": r.get::<_, Option<String>>(8),
            "deadline": r.get::<_, Option<String>>(9),
            "threshold_reached": r.get::<_, bool>(10),
            "signatures": r.get::<_, i64>(12),
        }),
        status,
        lang,
    ))
}

/// A required text of at most `max` characters, trimmed.
fn required(text: &str, max: usize) -> Option<&str> {
    let t = text.trim();
    (!t.is_empty() && t.chars().count() <= max).then_some(t)
}

/// `POST /admin/petitionen/{id}/{action}`.
#[allow(clippy::too_many_lines)]
async fn act(
    State(pt): State<Pt>,
    ctx: PageContext,
    auth::Moderator(staff): auth::Moderator,
    Path((id, slug)): Path<(i64, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let lang = ctx.lang;
    let action = Action::parse(&slug)
        .ok_or_else(|| Problem::not_found(format!("There is no action {slug:?}.")))?;
    let bad = |key: &str| Problem::bad_request(lang.tr(key).to_owned());
    let app = &pt.app;
    let mut client = app.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("changing a petition"))?;
    let (before, status, creator_lang) = snapshot(&*tx, id).await?;
    if !may(action, status) {
        return Err(wrong_status(lang, action, status));
    }
    let mut details = json!({});
    let mut message = lang.tr("petitions.admin.saved").to_owned();
    let mut prefill = Prefill::default();
    match action {
        Action::Publish => {
            if !model::publish(&*tx, &app.config.petitions, id).await? {
                return Err(wrong_status(lang, action, status));
            }
            notify::creator_news(&*tx, app, id, "published", "").await?;
            lang.tr("petitions.admin.published")
                .clone_into(&mut message);
        }
        Action::Reject => {
            let code = reject_label(form.grund.trim())
                .map(|_| form.grund.trim())
                .ok_or_else(|| bad("petitions.admin.invalid.reject_code"))?;
            let text = required(&form.text, REASON_MAX)
                .ok_or_else(|| bad("petitions.admin.invalid.reason"))?;
            tx.execute(
                "UPDATE petitions.petitions SET status = 'rejected', reject_code = $2, reject_reason = $3,
                     closed_at = now(), updated_at = now() WHERE id = $1",
                &[&id, &code, &text],
            )
            .await
            .map_err(db("rejecting a petition"))?;
            let label = reject_label(code).map_or(code, |k| creator_lang.tr(k));
            notify::creator_news(&*tx, app, id, "rejected", &format!("{label} – {text}")).await?;
            details = json!({"reject_code": code, "chars": text.chars().count()});
            lang.tr("petitions.admin.rejected").clone_into(&mut message);
        }
        Action::Hide => {
            let reason = required(&form.text, REASON_MAX)
                .ok_or_else(|| bad("petitions.admin.invalid.reason"))?;
            tx.execute(
                "UPDATE petitions.petitions SET status = 'hidden', hidden_reason = $2, updated_at = now()
                 WHERE id = $1",
                &[&id, &reason],
            )
            .await
            .map_err(db("hiding a petition"))?;
            notify::creator_news(&*tx, app, id, "hidden", reason).await?;
            details = json!({"chars": reason.chars().count()});
            lang.tr("petitions.admin.hidden").clone_into(&mut message);
        }
        Action::Title => {
            let title = form.titel.trim();
            if !(model::TITLE_MIN..=model::TITLE_MAX).contains(&title.chars().count()) {
                return Err(bad("petitions.invalid.title"));
            }
            tx.execute(
                "UPDATE petitions.petitions SET original_title = coalesce(original_title, title),
                     title = $2, updated_at = now() WHERE id = $1",
                &[&id, &title],
            )
            .await
            .map_err(db("changing a title"))?;
        }
        Action::Response => {
            let response = required(&form.antwort, RESPONSE_MAX)
                .ok_or_else(|| bad("petitions.admin.invalid.response"))?;
            let first = !before["has_response"].as_bool().unwrap_or(false);
            tx.execute(
                "UPDATE petitions.petitions SET response = $2,
                     response_at = CASE WHEN response IS NULL THEN now() ELSE response_at END,
                     updated_at = now() WHERE id = $1",
                &[&id, &response],
            )
            .await
            .map_err(db("publishing a response"))?;
            // Mail only when the response is new: a corrected typo is no news.
            let signers = if first {
                notify::creator_news(&*tx, app, id, "response", response).await?;
                notify::signers_response(&*tx, app, id).await?
            } else {
                0
            };
            details = json!({"first": first, "signers_mailed": signers, "chars": response.chars().count()});
            message = if first {
                i18n::fill(lang, "petitions.admin.response_published", &[&signers])
            } else {
                lang.tr("petitions.admin.response_changed").to_owned()
            };
        }
        Action::Close => {
            tx.execute(
                "UPDATE petitions.petitions SET status = 'closed', closed_at = now(), updated_at = now()
                 WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(db("closing a petition"))?;
            let note = creator_lang.tr("petitions.admin.closed_early_mail");
            notify::creator_news(&*tx, app, id, "closed", note).await?;
            details = json!({"reason": "early"});
            lang.tr("petitions.admin.closed").clone_into(&mut message);
        }
        Action::Flag => {
            let flagged = match form.markiert.as_str() {
                "ja" => true,
                "nein" => false,
                _ => return Err(bad("petitions.admin.invalid.flag")),
            };
            let note = form.notiz.trim();
            if note.chars().count() > REASON_MAX {
                return Err(bad("petitions.admin.invalid.note"));
            }
            let note = (!note.is_empty()).then_some(note);
            tx.execute(
                "UPDATE petitions.petitions SET flagged = $2, moderation_note = $3, updated_at = now()
                 WHERE id = $1",
                &[&id, &flagged, &note],
            )
            .await
            .map_err(db("flagging a petition"))?;
            // The note's text stays out of the audit log (it may name people).
            details = json!({"note_chars": note.map_or(0, |n| n.chars().count())});
        }
        Action::Invalidate => {
            let selection = Selection::from_form(&form.art, &form.schluessel, &form.von, &form.bis)
                .map_err(|e| bad(e.key()))?;
            let reason = required(&form.text, REASON_MAX)
                .ok_or_else(|| bad("petitions.admin.invalid.reason"))?;
            let done = abuse::invalidate(&*tx, id, &selection, reason).await?;
            // The domain is no one's address; a client hash is personal and stays out.
            details = json!({
                "by": selection.kind.as_str(),
                "domain": (selection.kind == KeyKind::Domain).then_some(&selection.key),
                "from": selection.from,
                "to": selection.to,
                "invalidated": done.signatures,
                "counted": done.counted,
                "reason_chars": reason.chars().count(),
            });
            message = i18n::fill(
                lang,
                "petitions.admin.abuse.invalidated",
                &[&done.signatures, &done.counted],
            );
            prefill = Prefill {
                art: selection.kind.as_str().to_owned(),
                schluessel: form.schluessel.trim().to_owned(),
                von: form.von.trim().to_owned(),
                bis: form.bis.trim().to_owned(),
            };
        }
    }
    let (after, _, _) = snapshot(&*tx, id).await?;
    audit::append(
        &*tx,
        &audit::Entry {
            actor: &format!("staff:{}", staff.id),
            action: action.audit(),
            subject: &format!("petition:{id}"),
            object: None,
            details,
            before: Some(before),
            after: Some(after),
            request_id: None,
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("changing a petition"))?;
    drop(client);
    render_detail(&pt, &ctx, &staff, id, prefill, message).await
}

/// The fields of a comment's form.
#[derive(Debug, Default, Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/petitionen/kommentare/{cid}/{verbergen|wiederherstellen}`: hides a comment, or
/// restores it (shown again, its reports reset to 0; who reported it cannot report it again).
async fn comment_act(
    State(pt): State<Pt>,
    ctx: PageContext,
    auth::Moderator(staff): auth::Moderator,
    Path((cid, slug)): Path<(i64, String)>,
    Form(form): Form<CommentForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let lang = ctx.lang;
    let hide = match slug.as_str() {
        "verbergen" => true,
        "wiederherstellen" => false,
        _ => {
            return Err(Problem::not_found(format!("There is no action {slug:?}.")));
        }
    };
    let mut client = pt.app.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("moderating a comment"))?;
    let row = tx
        .query_opt(
            "SELECT petition_id, hidden, reports FROM petitions.comments WHERE id = $1 FOR UPDATE",
            &[&cid],
        )
        .await
        .map_err(db("reading a comment"))?
        .ok_or_else(|| Problem::not_found(format!("There is no comment {cid}.")))?;
    let (petition_id, hidden, reports): (i64, bool, i32) = (row.get(0), row.get(1), row.get(2));
    if (hide && hidden) || (!hide && !hidden && reports == 0) {
        let what = lang.tr(if hide {
            "petitions.admin.comment_hide"
        } else {
            "petitions.admin.comment_restore"
        });
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "Nicht möglich / not possible",
            i18n::fill(lang, "petitions.admin.comment_conflict", &[&what]),
        ));
    }
    let after = if hide {
        tx.execute(
            "UPDATE petitions.comments SET hidden = true, hidden_at = now() WHERE id = $1",
            &[&cid],
        )
        .await
        .map_err(db("hiding a comment"))?;
        json!({"hidden": true, "reports": reports})
    } else {
        tx.execute(
            "UPDATE petitions.comments SET hidden = false, hidden_at = NULL, reports = 0 WHERE id = $1",
            &[&cid],
        )
        .await
        .map_err(db("restoring a comment"))?;
        json!({"hidden": false, "reports": 0})
    };
    audit::append(
        &*tx,
        &audit::Entry {
            actor: &format!("staff:{}", staff.id),
            action: if hide {
                "petition.comment_hide"
            } else {
                "petition.comment_restore"
            },
            subject: &format!("petition:{petition_id}"),
            object: Some(&format!("comment:{cid}")),
            details: json!({}),
            before: Some(json!({"hidden": hidden, "reports": reports})),
            after: Some(after),
            request_id: None,
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("moderating a comment"))?;
    Ok((
        StatusCode::SEE_OTHER,
        [(
            header::LOCATION,
            format!(
                "/admin/petitionen?ansicht=kommentare&hinweis=kommentar&lang={}",
                lang.code()
            ),
        )],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_fit_only_their_statuses() {
        assert!(may(Action::Publish, Status::Moderation));
        assert!(!may(Action::Publish, Status::Open));
        assert!(may(Action::Reject, Status::Sponsoring));
        assert!(!may(Action::Reject, Status::Open));
        assert!(!may(Action::Hide, Status::Hidden));
        assert!(may(Action::Response, Status::Closed));
        assert!(!may(Action::Response, Status::Moderation));
        assert!(may(Action::Close, Status::Open));
        assert!(!may(Action::Close, Status::Closed));
    }

    #[test]
    fn every_route_slug_is_an_action() {
        for (method, path, _) in ROUTES {
            if *method == "POST" && !path.contains("kommentare") {
                let slug = path.rsplit('/').next().unwrap();
                assert!(Action::parse(slug).is_some(), "{path}");
            }
        }
    }
}
