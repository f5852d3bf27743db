//! The staff side in the back office (`triage` of the report's department, or `admin`): the
//! queue with filters and a map, a report's page with everything that can be done to it —
//! status with a public note (or a template), internal notes, re-categorising (which re-routes
//! it), moving the pin, merging a duplicate, assigning a colleague, releasing or hiding the
//! description, photos or the whole report, blacking out areas of a photo — each one audited
//! and, where the reporter wants it, mailed. Also the outbox (`admin`).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use stadtkarte_core::auth::{self, Staff};
use stadtkarte_core::backoffice::{Shell, Widget};
use stadtkarte_core::db::Conn;
use stadtkarte_core::db::DbError;
use stadtkarte_core::i18n::Lang;
use stadtkarte_core::page::{Page, PageContext, html};
use stadtkarte_core::tokio_postgres::GenericClient;
use stadtkarte_core::tokio_postgres::types::ToSql;
use stadtkarte_core::{AppState, Problem, audit, mail};

use crate::Mm;
use crate::area::{self, Location};
use crate::model::{self, Category, Status};
use crate::notify;
use crate::photo::Rect;
use crate::svgmap::{self, Dot, SvgMap};

fn db(what: &'static str) -> impl FnOnce(stadtkarte_core::tokio_postgres::Error) -> Problem {
    move |e| Problem::from(DbError::query(what)(e))
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn forbidden(staff: &Staff, department: &str) -> Problem {
    tracing::warn!(
        staff = staff.id,
        department,
        "access to a report of another department denied"
    );
    Problem::new(
        StatusCode::FORBIDDEN,
        "Keine Berechtigung / forbidden",
        format!(
            "This report belongs to the department {department}, which your roles do not cover."
        ),
    )
}

/// Whether `staff` triages `department`.
fn covers(staff: &Staff, department: &str) -> bool {
    staff
        .departments()
        .is_none_or(|list| list.iter().any(|d| d == department))
}

/// The dashboard's counts for triage: new and open reports of the person's departments.
pub async fn widgets(state: AppState, staff: Staff) -> Result<Vec<Widget>, Problem> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let departments = staff.departments();
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE r.status = 'eingegangen'),
                    count(*) FILTER (WHERE r.status IN ('eingegangen', 'geprueft', 'in_bearbeitung')),
                    count(*) FILTER (WHERE r.assigned_to = $2 AND r.status IN ('eingegangen', 'geprueft', 'in_bearbeitung'))
             FROM maengel.reports r JOIN maengel.categories c ON c.code = r.category
             WHERE NOT r.hidden AND ($1::text[] IS NULL OR c.department = ANY($1))",
            &[&departments, &staff.id],
        )
        .await
        .map_err(db("counting the queue"))?;
    Ok(vec![
        Widget {
            label_key: "maengel.admin.widget_new",
            count: row.get(0),
            href: "/admin/maengel?status=eingegangen".to_owned(),
            note: String::new(),
        },
        Widget {
            label_key: "maengel.admin.widget_open",
            count: row.get(1),
            href: "/admin/maengel".to_owned(),
            note: String::new(),
        },
        Widget {
            label_key: "maengel.admin.widget_mine",
            count: row.get(2),
            href: "/admin/maengel?zugewiesen=ich".to_owned(),
            note: String::new(),
        },
    ])
}

/// Adds a condition with its parameter (`?` becomes its number).
fn add(
    params: &mut Vec<Box<dyn ToSql + Sync + Send>>,
    conditions: &mut Vec<String>,
    value: Box<dyn ToSql + Sync + Send>,
    condition: &str,
) {
    params.push(value);
    conditions.push(condition.replace('?', &format!("${}", params.len())));
}

/// The queue's filters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QueueFilters {
    #[serde(default)]
    amt: String,
    #[serde(default)]
    kategorie: String,
    /// empty: open ones; `alle`; or a status.
    #[serde(default)]
    status: String,
    #[serde(default)]
    stadtteil: String,
    /// Older than this many days.
    #[serde(default)]
    alter: String,
    /// `ich`: assigned to me.
    #[serde(default)]
    zugewiesen: String,
}

/// A row of the queue.
pub struct QueueRow {
    id: i64,
    category: String,
    department: String,
    status: Status,
    age_days: i32,
    created: String,
    place: String,
    released: bool,
    supporters: i32,
    assigned: String,
    photos: i64,
}

#[derive(Template)]
#[template(path = "triage_queue.html")]
struct Queue {
    page: Page,
    shell: Shell,
    rows: Vec<QueueRow>,
    filters: QueueFilters,
    departments: Vec<(String, String)>,
    categories: Vec<(String, String)>,
    districts: Vec<String>,
    statuses: Vec<(&'static str, &'static str)>,
    map: SvgMap,
}

/// `GET /admin/maengel`: the queue of the person's departments.
pub async fn queue(
    State(mm): State<Mm>,
    ctx: PageContext,
    auth::Triage(staff): auth::Triage,
    Query(f): Query<QueueFilters>,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(staff.departments())];
    let mut conditions = vec!["($1::text[] IS NULL OR c.department = ANY($1))".to_owned()];
    if !f.amt.is_empty() {
        add(
            &mut params,
            &mut conditions,
            Box::new(f.amt.clone()),
            "c.department = ?",
        );
    }
    if !f.kategorie.is_empty() {
        add(
            &mut params,
            &mut conditions,
            Box::new(f.kategorie.clone()),
            "r.category = ?",
        );
    }
    match f.status.as_str() {
        "" => {
            conditions.push("r.status IN ('eingegangen', 'geprueft', 'in_bearbeitung')".to_owned());
        }
        "alle" => {}
        s => add(
            &mut params,
            &mut conditions,
            Box::new(s.to_owned()),
            "r.status = ?",
        ),
    }
    if !f.stadtteil.is_empty() {
        add(
            &mut params,
            &mut conditions,
            Box::new(f.stadtteil.clone()),
            "r.district = ?",
        );
    }
    if let Ok(days) = f.alter.parse::<i32>() {
        add(
            &mut params,
            &mut conditions,
            Box::new(days),
            "r.created_at < now() - make_interval(days => ?)",
        );
    }
    if f.zugewiesen == "ich" {
        add(
            &mut params,
            &mut conditions,
            Box::new(staff.id),
            "r.assigned_to = ?",
        );
    }
    let refs: Vec<&(dyn ToSql + Sync)> =
        params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
    let rows = client
        .query(
            &format!(
                "SELECT r.id, c.name_de, c.department, r.status,
                        extract(day FROM now() - r.created_at)::int,
                        to_char(r.created_at AT TIME ZONE 'Europe/Berlin', 'DD.MM.YYYY HH24:MI'),
                        coalesce(r.address || ' (' || r.district || ')', r.address, r.district, ''),
                        r.released_at IS NOT NULL AND r.released_at <= now() AND NOT r.description_hidden,
                        r.supporters, coalesce(u.display_name, ''),
                        (SELECT count(*) FROM maengel.photos p WHERE p.report_id = r.id),
                        ST_X(r.geom), -ST_Y(r.geom)
                 FROM maengel.reports r JOIN maengel.categories c ON c.code = r.category
                 LEFT JOIN auth.users u ON u.id = r.assigned_to
                 WHERE {} ORDER BY r.created_at LIMIT 500",
                conditions.join(" AND ")
            ),
            &refs,
        )
        .await
        .map_err(db("reading the queue"))?;
    let mut dots = Vec::new();
    let rows: Vec<QueueRow> = rows
        .iter()
        .map(|r| {
            let status = Status::parse(r.get(3)).unwrap_or(Status::Eingegangen);
            dots.push(Dot {
                x: r.get(11),
                y: r.get(12),
                status: status.as_str().to_owned(),
                title: format!("Nr. {}", r.get::<_, i64>(0)),
            });
            QueueRow {
                id: r.get(0),
                category: r.get(1),
                department: r.get(2),
                status,
                age_days: r.get(4),
                created: r.get(5),
                place: r.get(6),
                released: r.get(7),
                supporters: r.get(8),
                assigned: r.get(9),
                photos: r.get(10),
            }
        })
        .collect();
    let title = stadtkarte_core::i18n::fill(lang, "maengel.admin.map_title", &[&rows.len()]);
    let map = svgmap::draw(&**client, &mm.app.config.maengel, dots, title).await?;
    let departments = client
        .query(
            "SELECT id, name FROM auth.departments WHERE $1::text[] IS NULL OR id = ANY($1) ORDER BY name",
            &[&staff.departments()],
        )
        .await
        .map_err(db("listing departments"))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let categories = model::categories(&**client, true)
        .await?
        .into_iter()
        .filter(|c| covers(&staff, &c.department))
        .map(|c| (c.code.clone(), c.name_de.clone()))
        .collect();
    let districts = area::districts(&**client, &mm.app.config.maengel).await?;
    html(&Queue {
        page: ctx.page(&mm.app.config, lang.tr("maengel.admin.queue").to_owned()),
        shell: Shell::of(&mm.app, &staff),
        rows,
        filters: f,
        departments,
        categories,
        districts,
        statuses: Status::ALL
            .iter()
            .map(|s| (s.as_str(), s.label(lang)))
            .collect(),
        map,
    })
}

/// Everything about a report, for staff.
#[allow(clippy::struct_excessive_bools)]
struct Detail {
    id: i64,
    category: Category,
    status: Status,
    description: String,
    released_at: Option<String>,
    released: bool,
    description_hidden: bool,
    hidden: bool,
    lon: f64,
    lat: f64,
    address: Option<String>,
    district: Option<String>,
    attributes: Vec<(String, String)>,
    media_urls: Vec<String>,
    email: Option<String>,
    contact_name: Option<String>,
    phone: Option<String>,
    wants_updates: bool,
    channel: String,
    supporters: i32,
    duplicate_of: Option<i64>,
    assigned_to: Option<i64>,
    status_note: Option<String>,
    created: String,
    personal_deleted: bool,
}

async fn load(client: &impl Conn, id: i64, lang: Lang) -> Result<Detail, Problem> {
    let r = client
        .query_opt(
            "SELECT category, status, description,
                    to_char(released_at AT TIME ZONE 'Europe/Berlin', 'DD.MM.YYYY HH24:MI'),
                    released_at IS NOT NULL AND released_at <= now(), description_hidden, hidden,
                    ST_X(ST_Transform(geom, 4326)), ST_Y(ST_Transform(geom, 4326)), address, district,
                    attributes, media_urls, reporter_email, reporter_name, reporter_phone,
                    wants_updates, channel || coalesce(' (' || api_client || ')', ''), supporters,
                    duplicate_of, assigned_to, status_note,
                    to_char(created_at AT TIME ZONE 'Europe/Berlin', 'DD.MM.YYYY HH24:MI'),
                    personal_deleted_at IS NOT NULL
             FROM maengel.reports WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(db("reading a report"))?
        .ok_or_else(|| Problem::not_found(format!("There is no report {id}.")))?;
    let code: String = r.get(0);
    let category = model::category(client, &code)
        .await?
        .ok_or_else(|| Problem::internal("report without category"))?;
    let answers: serde_json::Value = r.get(11);
    let attributes = category
        .attributes
        .iter()
        .filter_map(|a| {
            let v = answers.get(&a.code)?;
            let text = match v {
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| choice_name(a, i.as_str().unwrap_or_default(), lang))
                    .collect::<Vec<_>>()
                    .join(", "),
                serde_json::Value::String(s) if a.is_list() => choice_name(a, s, lang),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some((a.question(lang).to_owned(), text))
        })
        .collect();
    Ok(Detail {
        id,
        category,
        status: Status::parse(r.get(1)).unwrap_or(Status::Eingegangen),
        description: r.get(2),
        released_at: r.get(3),
        released: r.get(4),
        description_hidden: r.get(5),
        hidden: r.get(6),
        lon: r.get(7),
        lat: r.get(8),
        address: r.get(9),
        district: r.get(10),
        attributes,
        media_urls: r.get(12),
        email: r.get(13),
        contact_name: r.get(14),
        phone: r.get(15),
        wants_updates: r.get(16),
        channel: r.get(17),
        supporters: r.get(18),
        duplicate_of: r.get(19),
        assigned_to: r.get(20),
        status_note: r.get(21),
        created: r.get(22),
        personal_deleted: r.get(23),
    })
}

fn choice_name(a: &model::Attribute, key: &str, lang: Lang) -> String {
    a.choices
        .iter()
        .find(|c| c.key == key)
        .map_or_else(|| key.to_owned(), |c| c.name(lang).to_owned())
}

/// An entry of the history, for staff (internal notes included).
struct Event {
    at: String,
    kind: String,
    status: Option<Status>,
    public: bool,
    text: Option<String>,
    who: String,
}

/// A photo, for staff.
struct StaffPhoto {
    id: i64,
    version: i32,
    hidden: bool,
    redacted: bool,
    width: i32,
    height: i32,
}

impl DetailPage {
    fn is_assigned(&self, uid: &str) -> bool {
        self.r.assigned_to.is_some_and(|a| a.to_string() == uid)
    }
}

#[derive(Template)]
#[template(path = "triage_detail.html")]
struct DetailPage {
    page: Page,
    shell: Shell,
    r: Detail,
    events: Vec<Event>,
    photos: Vec<StaffPhoto>,
    categories: Vec<(String, String)>,
    colleagues: Vec<(String, String)>,
    templates: Vec<(i64, String, String)>,
    statuses: Vec<(&'static str, &'static str)>,
    message: String,
}

async fn render_detail(
    mm: &Mm,
    ctx: &PageContext,
    staff: &Staff,
    id: i64,
    message: String,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let r = load(&**client, id, lang).await?;
    if !covers(staff, &r.category.department) {
        return Err(forbidden(staff, &r.category.department));
    }
    let events = client
        .query(
            "SELECT to_char(e.at AT TIME ZONE 'Europe/Berlin', 'DD.MM.YYYY HH24:MI'), e.kind, e.status,
                    e.public, e.text, coalesce(u.display_name, '')
             FROM maengel.events e LEFT JOIN auth.users u ON u.id = e.staff_id
             WHERE e.report_id = $1 ORDER BY e.at, e.id",
            &[&id],
        )
        .await
        .map_err(db("reading the history"))?
        .iter()
        .map(|e| Event {
            at: e.get(0),
            kind: {
                let k: String = e.get(1);
                stadtkarte_core::i18n::tr_opt(lang, &format!("maengel.events.{k}")).map_or(k, str::to_owned)
            },
            status: e.get::<_, Option<String>>(2).and_then(|s| Status::parse(&s)),
            public: e.get(3),
            text: e.get(4),
            who: e.get(5),
        })
        .collect();
    let photos = client
        .query(
            "SELECT id, version, hidden, original IS NOT NULL, width, height FROM maengel.photos
             WHERE report_id = $1 ORDER BY position",
            &[&id],
        )
        .await
        .map_err(db("reading the photos"))?
        .iter()
        .map(|p| StaffPhoto {
            id: p.get(0),
            version: p.get(1),
            hidden: p.get(2),
            redacted: p.get(3),
            width: p.get(4),
            height: p.get(5),
        })
        .collect();
    let categories = model::categories(&**client, true)
        .await?
        .into_iter()
        .map(|c| {
            (
                c.code.clone(),
                format!("{} ({})", c.name_de, c.department_name),
            )
        })
        .collect();
    let colleagues = client
        .query(
            "SELECT DISTINCT u.id, u.display_name FROM auth.users u JOIN auth.roles ro ON ro.user_id = u.id
             WHERE NOT u.disabled AND (ro.role = 'admin' OR (ro.role = 'triage' AND ro.department = $1))
             ORDER BY u.display_name",
            &[&r.category.department],
        )
        .await
        .map_err(db("listing colleagues"))?
        .iter()
        .map(|u| (u.get::<_, i64>(0).to_string(), u.get(1)))
        .collect();
    let templates = client
        .query(
            "SELECT id, title, text FROM maengel.templates ORDER BY id",
            &[],
        )
        .await
        .map_err(db("reading the templates"))?
        .iter()
        .map(|t| (t.get(0), t.get(1), t.get(2)))
        .collect();
    let page = ctx
        .page(
            &mm.app.config,
            stadtkarte_core::i18n::fill(lang, "maengel.report.title", &[&id]),
        )
        .crumb(lang.tr("maengel.admin.queue"), "/admin/maengel");
    let mut response = html(&DetailPage {
        page,
        shell: Shell::of(&mm.app, staff),
        r,
        events,
        photos,
        categories,
        colleagues,
        templates,
        statuses: Status::ALL
            .iter()
            .map(|s| (s.as_str(), s.label(lang)))
            .collect(),
        message,
    })?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-store".parse().map_err(Problem::internal)?,
    );
    Ok(response)
}

/// `GET /admin/maengel/{id}`
pub async fn detail(
    State(mm): State<Mm>,
    ctx: PageContext,
    auth::Triage(staff): auth::Triage,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    render_detail(&mm, &ctx, &staff, id, String::new()).await
}

/// The fields of every action's form (each action reads its own).
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    notiz: String,
    #[serde(default)]
    vorlage: String,
    #[serde(default)]
    kategorie: String,
    #[serde(default)]
    lat: String,
    #[serde(default)]
    lon: String,
    #[serde(default)]
    adresse: String,
    #[serde(default)]
    ziel: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    was: String,
}

/// The state of a report that the audit log records (nothing personal).
async fn snapshot(client: &impl GenericClient, id: i64) -> Result<serde_json::Value, Problem> {
    let r = client
        .query_opt(
            "SELECT status, category, status_note, released_at IS NOT NULL AND released_at <= now(),
                    description_hidden, hidden, assigned_to, duplicate_of, supporters,
                    round(ST_X(geom)::numeric, 1)::float8, round(ST_Y(geom)::numeric, 1)::float8, address,
                    (SELECT coalesce(json_agg(json_build_object('photo', id, 'hidden', hidden, 'version', version) ORDER BY position), '[]'::json)
                     FROM maengel.photos WHERE report_id = $1)
             FROM maengel.reports WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(db("reading a report"))?
        .ok_or_else(|| Problem::not_found(format!("There is no report {id}.")))?;
    Ok(json!({
        "status": r.get::<_, String>(0),
        "category": r.get::<_, String>(1),
        "status_note": r.get::<_, Option<String>>(2),
        "released": r.get::<_, bool>(3),
        "description_hidden": r.get::<_, bool>(4),
        "hidden": r.get::<_, bool>(5),
        "assigned_to": r.get::<_, Option<i64>>(6),
        "duplicate_of": r.get::<_, Option<i64>>(7),
        "supporters": r.get::<_, i32>(8),
        "x_25832": r.get::<_, f64>(9),
        "y_25832": r.get::<_, f64>(10),
        "address": r.get::<_, Option<String>>(11),
        "photos": r.get::<_, serde_json::Value>(12),
    }))
}

async fn event(
    client: &impl GenericClient,
    id: i64,
    kind: &str,
    status: Option<&str>,
    public: bool,
    text: Option<&str>,
    staff: &Staff,
) -> Result<(), Problem> {
    client
        .execute(
            "INSERT INTO maengel.events (report_id, kind, status, public, text, staff_id)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&id, &kind, &status, &public, &text, &staff.id],
        )
        .await
        .map_err(db("recording an event"))?;
    Ok(())
}

/// Sets the status (with its note) inside a transaction; mails the reporter.
async fn set_status(
    client: &impl Conn,
    app: &AppState,
    id: i64,
    status: Status,
    note: Option<&str>,
    staff: &Staff,
) -> Result<(), Problem> {
    client
        .execute(
            "UPDATE maengel.reports SET status = $2, status_note = coalesce($3, status_note),
                 updated_at = now(),
                 closed_at = CASE WHEN $2 IN ('eingegangen', 'geprueft', 'in_bearbeitung') THEN NULL
                                  ELSE coalesce(closed_at, now()) END
             WHERE id = $1",
            &[&id, &status.as_str(), &note],
        )
        .await
        .map_err(db("setting a status"))?;
    event(
        client.pg(),
        id,
        "status",
        Some(status.as_str()),
        true,
        note,
        staff,
    )
    .await?;
    notify::status_changed(client, app, id, status, note).await?;
    Ok(())
}

/// `POST /admin/maengel/{id}/{action}`: `status`, `notiz`, `kategorie`, `ort`, `duplikat`,
/// `zuweisen`, `freigabe`.
pub async fn act(
    State(mm): State<Mm>,
    ctx: PageContext,
    auth::Triage(staff): auth::Triage,
    Path((id, action)): Path<(i64, String)>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let lang = ctx.lang;
    let mut client = mm.app.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("changing a report"))?;
    let before = snapshot(&*tx, id).await?;
    let code = before["category"].as_str().unwrap_or_default().to_owned();
    let category = model::category(&*tx, &code)
        .await?
        .ok_or_else(|| Problem::internal("report without category"))?;
    if !covers(&staff, &category.department) {
        return Err(forbidden(&staff, &category.department));
    }
    let bad = |key: &str| Problem::bad_request(lang.tr(key).to_owned());
    let mut leave = false;
    let audit_action;
    let mut details = json!({});
    match action.as_str() {
        "status" => {
            let status =
                Status::parse(&form.status).ok_or_else(|| bad("maengel.admin.bad_status"))?;
            if status == Status::Duplikat {
                return Err(bad("maengel.admin.use_merge"));
            }
            let mut note = form.notiz.trim().to_owned();
            if note.is_empty()
                && let Ok(i) = form.vorlage.parse::<i64>()
                && let Some(t) = tx
                    .query_opt("SELECT text FROM maengel.templates WHERE id = $1", &[&i])
                    .await
                    .map_err(db("reading a template"))?
            {
                note = t.get(0);
            }
            if note.chars().count() > 2000 {
                return Err(bad("maengel.admin.note_too_long"));
            }
            set_status(
                &*tx,
                &mm.app,
                id,
                status,
                (!note.is_empty()).then_some(note.as_str()),
                &staff,
            )
            .await?;
            audit_action = "report.status";
        }
        "notiz" => {
            let note = form.notiz.trim();
            if note.is_empty() || note.chars().count() > 4000 {
                return Err(bad("maengel.admin.note_empty"));
            }
            event(&*tx, id, "internal", None, false, Some(note), &staff).await?;
            audit_action = "report.internal_note";
            // The note's text stays out of the audit log (it may name people).
            details = json!({"chars": note.chars().count()});
        }
        "kategorie" => {
            let new = model::category(&*tx, &form.kategorie)
                .await?
                .ok_or_else(|| bad("maengel.admin.bad_category"))?;
            tx.execute(
                "UPDATE maengel.reports SET category = $2, updated_at = now() WHERE id = $1",
                &[&id, &new.code],
            )
            .await
            .map_err(db("re-categorising"))?;
            let change = format!("{} → {}", category.name_de, new.name_de);
            event(&*tx, id, "category", None, false, Some(&change), &staff).await?;
            if new.department != category.department {
                let placed = area::Placed {
                    lon: 0.0,
                    lat: 0.0,
                    district: None,
                    address: before["address"].as_str().map(str::to_owned),
                };
                let description: String = tx
                    .query_one(
                        "SELECT description FROM maengel.reports WHERE id = $1",
                        &[&id],
                    )
                    .await
                    .map_err(db("re-routing"))?
                    .get(0);
                let created = model::Created {
                    id,
                    token: String::new(),
                    category: (new.name_de.clone(), new.name_en.clone()),
                    placed,
                    released: false,
                };
                notify::department_new(&*tx, &mm.app, &new, &created, &description).await?;
                leave = !covers(&staff, &new.department);
            }
            audit_action = "report.category";
        }
        "ort" => {
            let location = Location::from_fields(&form.lat, &form.lon, &form.adresse, "");
            let placed = match area::place(&*tx, &mm.app.config.maengel, &location).await {
                Ok(p) => p,
                Err(area::PlaceError::Invalid(i)) => {
                    return Err(Problem::bad_request(i.message(lang)));
                }
                Err(area::PlaceError::Db(e)) => return Err(e.into()),
            };
            tx.execute(
                "UPDATE maengel.reports SET geom = ST_Transform(ST_SetSRID(ST_MakePoint($2, $3), 4326), 25832),
                     address = $4, district = $5, updated_at = now() WHERE id = $1",
                &[&id, &placed.lon, &placed.lat, &placed.address, &placed.district],
            )
            .await
            .map_err(db("moving a report"))?;
            event(
                &*tx,
                id,
                "moved",
                None,
                false,
                placed.address.as_deref(),
                &staff,
            )
            .await?;
            audit_action = "report.move";
        }
        "duplikat" => {
            let target: i64 = form
                .ziel
                .trim()
                .trim_start_matches("Nr.")
                .trim()
                .parse()
                .map_err(|_| bad("maengel.admin.bad_target"))?;
            if target == id {
                return Err(bad("maengel.admin.bad_target"));
            }
            let moved = tx
                .execute(
                    "UPDATE maengel.reports SET supporters = supporters + $2 + 1, updated_at = now()
                     WHERE id = $1 AND duplicate_of IS NULL",
                    &[&target, &before["supporters"].as_i64().and_then(|s| i32::try_from(s).ok()).unwrap_or(0)],
                )
                .await
                .map_err(db("merging"))?;
            if moved == 0 {
                return Err(bad("maengel.admin.bad_target"));
            }
            tx.execute(
                "UPDATE maengel.reports SET duplicate_of = $2, supporters = 0 WHERE id = $1",
                &[&id, &target],
            )
            .await
            .map_err(db("merging"))?;
            let note =
                stadtkarte_core::i18n::fill(Lang::De, "maengel.admin.merged_note", &[&target]);
            set_status(&*tx, &mm.app, id, Status::Duplikat, Some(&note), &staff).await?;
            let into =
                stadtkarte_core::i18n::fill(Lang::De, "maengel.admin.merged_into_note", &[&id]);
            event(&*tx, target, "merged", None, true, Some(&into), &staff).await?;
            details = json!({"into": target});
            audit_action = "report.merge";
        }
        "zuweisen" => {
            let person: Option<i64> = if form.person.is_empty() {
                None
            } else {
                Some(
                    form.person
                        .parse()
                        .map_err(|_| bad("maengel.admin.bad_person"))?,
                )
            };
            if let Some(p) = person {
                let ok: bool = tx
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM auth.roles WHERE user_id = $1
                             AND (role = 'admin' OR (role = 'triage' AND department = $2)))",
                        &[&p, &category.department],
                    )
                    .await
                    .map_err(db("checking a colleague"))?
                    .get(0);
                if !ok {
                    return Err(bad("maengel.admin.bad_person"));
                }
            }
            tx.execute(
                "UPDATE maengel.reports SET assigned_to = $2, updated_at = now() WHERE id = $1",
                &[&id, &person],
            )
            .await
            .map_err(db("assigning"))?;
            event(&*tx, id, "assigned", None, false, None, &staff).await?;
            audit_action = "report.assign";
        }
        "freigabe" => {
            let sql: &str = match form.was.as_str() {
                "beschreibung_freigeben" => {
                    "UPDATE maengel.reports SET released_at = least(coalesce(released_at, now()), now()), description_hidden = false, updated_at = now() WHERE id = $1"
                }
                "beschreibung_verbergen" => {
                    "UPDATE maengel.reports SET description_hidden = true, updated_at = now() WHERE id = $1"
                }
                "meldung_verbergen" => {
                    "UPDATE maengel.reports SET hidden = true, updated_at = now() WHERE id = $1"
                }
                "meldung_zeigen" => {
                    "UPDATE maengel.reports SET hidden = false, updated_at = now() WHERE id = $1"
                }
                other => {
                    let (what, photo) = other
                        .split_once(':')
                        .ok_or_else(|| bad("maengel.admin.bad_release"))?;
                    let photo: i64 = photo
                        .parse()
                        .map_err(|_| bad("maengel.admin.bad_release"))?;
                    let hidden = match what {
                        "foto_verbergen" => true,
                        "foto_zeigen" => false,
                        _ => return Err(bad("maengel.admin.bad_release")),
                    };
                    tx.execute(
                        "UPDATE maengel.photos SET hidden = $3 WHERE id = $2 AND report_id = $1",
                        &[&id, &photo, &hidden],
                    )
                    .await
                    .map_err(db("releasing a photo"))?;
                    tx.execute(
                        "UPDATE maengel.reports SET updated_at = now() WHERE id = $1",
                        &[&id],
                    )
                    .await
                    .map_err(db("releasing a photo"))?;
                    ""
                }
            };
            if !sql.is_empty() {
                tx.execute(sql, &[&id]).await.map_err(db("releasing"))?;
            }
            event(&*tx, id, "release", None, false, Some(&form.was), &staff).await?;
            audit_action = "report.release";
        }
        _ => {
            return Err(Problem::not_found(format!(
                "There is no action {action:?}."
            )));
        }
    }
    let after = snapshot(&*tx, id).await?;
    audit::append(
        &*tx,
        &audit::Entry {
            actor: &format!("staff:{}", staff.id),
            action: audit_action,
            subject: &format!("report:{id}"),
            object: None,
            details,
            before: Some(before),
            after: Some(after),
            request_id: request_id(&headers).as_deref(),
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("changing a report"))?;
    drop(client);
    if leave {
        return Ok((
            StatusCode::SEE_OTHER,
            [(
                header::LOCATION,
                format!("/admin/maengel?lang={}&hinweis=umgeleitet", lang.code()),
            )],
        )
            .into_response());
    }
    render_detail(
        &mm,
        &ctx,
        &staff,
        id,
        lang.tr("maengel.admin.saved").to_owned(),
    )
    .await
}

/// `GET /admin/maengel/{id}/fotos/{photo}/{original|bild|vorschau}`: a photo for staff (the
/// unredacted original too).
pub async fn photo(
    State(mm): State<Mm>,
    auth::Triage(staff): auth::Triage,
    Path((id, photo, variant)): Path<(i64, i64, String)>,
) -> Result<Response, Problem> {
    let column = match variant.trim_end_matches(".jpg") {
        "original" => "coalesce(p.original, p.display)",
        "bild" => "p.display",
        "vorschau" => "p.thumb",
        _ => return Err(Problem::not_found("no such version")),
    };
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let row = client
        .query_opt(
            &format!(
                "SELECT {column}, c.department FROM maengel.photos p
                 JOIN maengel.reports r ON r.id = p.report_id JOIN maengel.categories c ON c.code = r.category
                 WHERE p.id = $1 AND p.report_id = $2"
            ),
            &[&photo, &id],
        )
        .await
        .map_err(db("reading a photo"))?
        .ok_or_else(|| Problem::not_found("There is no such photo."))?;
    let department: String = row.get(1);
    if !covers(&staff, &department) {
        return Err(forbidden(&staff, &department));
    }
    let bytes: Vec<u8> = row.get(0);
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        bytes,
    )
        .into_response())
}

/// The rectangles to black out, in per cent of width and height (up to five).
#[derive(Debug, Default, Deserialize)]
pub struct RedactForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    x1: String,
    #[serde(default)]
    y1: String,
    #[serde(default)]
    w1: String,
    #[serde(default)]
    h1: String,
    #[serde(default)]
    x2: String,
    #[serde(default)]
    y2: String,
    #[serde(default)]
    w2: String,
    #[serde(default)]
    h2: String,
    #[serde(default)]
    x3: String,
    #[serde(default)]
    y3: String,
    #[serde(default)]
    w3: String,
    #[serde(default)]
    h3: String,
}

impl RedactForm {
    fn rects(&self) -> Result<Vec<Rect>, ()> {
        let mut out = Vec::new();
        for (x, y, w, h) in [
            (&self.x1, &self.y1, &self.w1, &self.h1),
            (&self.x2, &self.y2, &self.w2, &self.h2),
            (&self.x3, &self.y3, &self.w3, &self.h3),
        ] {
            if [x, y, w, h].iter().all(|v| v.trim().is_empty()) {
                continue;
            }
            let n = |v: &String| v.trim().replace(',', ".").parse::<f64>().map_err(|_| ());
            let rect = Rect {
                x: n(x)? / 100.0,
                y: n(y)? / 100.0,
                w: n(w)? / 100.0,
                h: n(h)? / 100.0,
            };
            if !(0.0..=1.0).contains(&rect.x)
                || !(0.0..=1.0).contains(&rect.y)
                || rect.w <= 0.0
                || rect.h <= 0.0
            {
                return Err(());
            }
            out.push(rect);
        }
        if out.is_empty() { Err(()) } else { Ok(out) }
    }
}

/// `POST /admin/maengel/{id}/fotos/{photo}/schwaerzen`: blacks out rectangles; the unredacted
/// original stays internal (and is deleted with the contact data after closing).
pub async fn redact(
    State(mm): State<Mm>,
    ctx: PageContext,
    auth::Triage(staff): auth::Triage,
    Path((id, photo)): Path<(i64, i64)>,
    headers: HeaderMap,
    Form(form): Form<RedactForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let lang = ctx.lang;
    let rects = form
        .rects()
        .map_err(|()| Problem::bad_request(lang.tr("maengel.admin.bad_rects").to_owned()))?;
    let (source, department) = {
        let client = mm.app.pool.get().await.map_err(DbError::from)?;
        let row = client
            .query_opt(
                "SELECT coalesce(p.original, p.display), c.department FROM maengel.photos p
                 JOIN maengel.reports r ON r.id = p.report_id JOIN maengel.categories c ON c.code = r.category
                 WHERE p.id = $1 AND p.report_id = $2",
                &[&photo, &id],
            )
            .await
            .map_err(db("reading a photo"))?
            .ok_or_else(|| Problem::not_found("There is no such photo."))?;
        (row.get::<_, Vec<u8>>(0), row.get::<_, String>(1))
    };
    if !covers(&staff, &department) {
        return Err(forbidden(&staff, &department));
    }
    let redacted = mm
        .workers
        .redact(source, rects.clone(), mm.limits())
        .await
        .map_err(|e| Problem::bad_request(e.message("foto", lang == Lang::En)))?;
    let mut client = mm.app.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("redacting a photo"))?;
    let version: i32 = tx
        .query_one(
            "UPDATE maengel.photos SET original = coalesce(original, display), display = $3, thumb = $4,
                 version = version + 1, redactions = $5
             WHERE id = $1 AND report_id = $2 RETURNING version",
            &[&photo, &id, &redacted.display, &redacted.thumb, &serde_json::to_value(&rects).unwrap_or_default()],
        )
        .await
        .map_err(db("redacting a photo"))?
        .get(0);
    event(
        &*tx,
        id,
        "release",
        None,
        false,
        Some("foto_geschwaerzt"),
        &staff,
    )
    .await?;
    audit::append(
        &*tx,
        &audit::Entry {
            actor: &format!("staff:{}", staff.id),
            action: "report.photo_redact",
            subject: &format!("report:{id}"),
            object: Some(&format!("photo:{photo}")),
            details: json!({"rectangles": rects}),
            before: Some(json!({"version": version - 1})),
            after: Some(json!({"version": version})),
            request_id: request_id(&headers).as_deref(),
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("redacting a photo"))?;
    drop(client);
    render_detail(
        &mm,
        &ctx,
        &staff,
        id,
        lang.tr("maengel.admin.redacted").to_owned(),
    )
    .await
}

/// A mail of the outbox, for the admin.
#[derive(Template)]
#[template(path = "postausgang.html")]
struct Outbox {
    page: Page,
    shell: Shell,
    mails: Vec<mail::Queued>,
    enabled: bool,
}

/// `GET /admin/postausgang` (`admin`): the newest mails of the outboxes, sent or waiting.
pub async fn outbox(
    State(mm): State<Mm>,
    ctx: PageContext,
    auth::Admin(staff): auth::Admin,
) -> Result<Response, Problem> {
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let mails = mail::recent(&**client, mail::OUTBOXES, 200).await?;
    let mut response = html(&Outbox {
        page: ctx.page(
            &mm.app.config,
            ctx.lang.tr("maengel.admin.outbox").to_owned(),
        ),
        shell: Shell::of(&mm.app, &staff),
        mails,
        enabled: mm.app.config.mail.enabled,
    })?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-store".parse().map_err(Problem::internal)?,
    );
    Ok(response)
}
