//! What everyone sees: the list and map of reports (`/maengel`), a report's tracking page with
//! its history and released photos, the reports as GeoJSON for the maps, the released photos
//! themselves, and the statistics (SVG charts with their tables, and JSON). Everything is read
//! from `maengel.public_reports` and the public events — never from the reporter's columns.

use std::fmt::Write as _;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use stadtkarte_core::db::DbError;
use stadtkarte_core::i18n::Lang;
use stadtkarte_core::page::{Page, PageContext, html};
use stadtkarte_core::tokio_postgres::types::ToSql;
use stadtkarte_core::{Problem, formguard};

use crate::Mm;
use crate::model::{self, Status};
use crate::svgmap::{self, Dot, SvgMap};

const PAGE_SIZE: i64 = 50;

fn db(what: &'static str) -> impl FnOnce(stadtkarte_core::tokio_postgres::Error) -> Problem {
    move |e| Problem::from(DbError::query(what)(e))
}

/// The filters of the list, the map data and the statistics.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    kategorie: String,
    /// `offen`, `abgeschlossen` or a status.
    #[serde(default)]
    status: String,
    #[serde(default)]
    stadtteil: String,
    #[serde(default)]
    seite: String,
}

impl Filters {
    /// SQL conditions on `maengel.public_reports` and their parameters.
    fn sql(&self) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
        let mut conditions = vec!["true".to_owned()];
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        if !self.kategorie.is_empty() {
            params.push(Box::new(self.kategorie.clone()));
            conditions.push(format!("category = ${}", params.len()));
        }
        match self.status.as_str() {
            "" => {}
            "offen" => conditions.push("open311_status = 'open'".to_owned()),
            "abgeschlossen" => conditions.push("open311_status = 'closed'".to_owned()),
            other => {
                params.push(Box::new(other.to_owned()));
                conditions.push(format!("status = ${}", params.len()));
            }
        }
        if !self.stadtteil.is_empty() {
            params.push(Box::new(self.stadtteil.clone()));
            conditions.push(format!("district = ${}", params.len()));
        }
        (conditions.join(" AND "), params)
    }

    fn page(&self) -> i64 {
        self.seite.parse::<i64>().unwrap_or(1).clamp(1, 10_000)
    }

    fn query(&self, lang: Lang) -> String {
        let mut q = format!("lang={}", lang.code());
        for (k, v) in [
            ("kategorie", &self.kategorie),
            ("status", &self.status),
            ("stadtteil", &self.stadtteil),
        ] {
            if !v.is_empty() {
                let _ = write!(q, "&{k}={}", percent_encode(v));
            }
        }
        q
    }
}

fn percent_encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A row of the list.
struct Row {
    id: i64,
    category: String,
    status: Status,
    created: String,
    place: String,
    description: Option<String>,
    supporters: i32,
}

#[derive(Template)]
#[template(path = "liste.html")]
struct List {
    page: Page,
    rows: Vec<Row>,
    total: i64,
    filters: Filters,
    categories: Vec<(String, String)>,
    districts: Vec<String>,
    statuses: Vec<(&'static str, &'static str)>,
    map: SvgMap,
    source: String,
    bbox: String,
    prev: Option<String>,
    next: Option<String>,
    number: i64,
    pages: i64,
}

/// `GET /maengel`: the released reports, newest first, with filters and a map.
pub async fn list(
    State(mm): State<Mm>,
    ctx: PageContext,
    Query(filters): Query<Filters>,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let (conditions, params) = filters.sql();
    let refs: Vec<&(dyn ToSql + Sync)> =
        params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
    let total: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM maengel.public_reports WHERE {conditions}"),
            &refs,
        )
        .await
        .map_err(db("counting reports"))?
        .get(0);
    let number = filters.page();
    let rows = client
        .query(
            &format!(
                "SELECT id, CASE WHEN $L = 'en' THEN c.name_en ELSE c.name_de END, status,
                        to_char(created_at AT TIME ZONE 'Europe/Berlin', 'DD.MM.YYYY'),
                        coalesce(address || ' (' || district || ')', address, district, ''),
                        description, supporters
                 FROM maengel.public_reports p JOIN maengel.categories c ON c.code = p.category
                 WHERE {conditions} ORDER BY created_at DESC, id DESC LIMIT {PAGE_SIZE} OFFSET {}",
                (number - 1) * PAGE_SIZE
            )
            .replace("$L", &format!("${}", refs.len() + 1)),
            &[refs.as_slice(), &[&lang.code()]].concat(),
        )
        .await
        .map_err(db("listing reports"))?;
    let rows: Vec<Row> = rows
        .iter()
        .map(|r| Row {
            id: r.get(0),
            category: r.get(1),
            status: Status::parse(r.get(2)).unwrap_or(Status::Eingegangen),
            created: r.get(3),
            place: r.get(4),
            description: r.get(5),
            supporters: r.get(6),
        })
        .collect();
    let dots = client
        .query(
            &format!(
                "SELECT ST_X(geom), -ST_Y(geom), status, id FROM maengel.public_reports
                 WHERE {conditions} ORDER BY created_at DESC LIMIT 2000"
            ),
            &refs,
        )
        .await
        .map_err(db("drawing reports"))?
        .iter()
        .map(|r| Dot {
            x: r.get(0),
            y: r.get(1),
            status: r.get(2),
            title: format!("Nr. {}", r.get::<_, i64>(3)),
        })
        .collect();
    let title = stadtkarte_core::i18n::fill(lang, "maengel.list.map_title", &[&total]);
    let map = svgmap::draw(&**client, &mm.app.config.maengel, dots, title).await?;
    let categories = model::categories(&**client, false)
        .await?
        .into_iter()
        .map(|c| (c.code.clone(), c.name(lang).to_owned()))
        .collect();
    let districts = crate::area::districts(&**client, &mm.app.config.maengel).await?;
    let bbox = crate::area::bbox(&**client, &mm.app.config.maengel).await;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let base = filters.query(lang);
    let page = ctx
        .page(&mm.app.config, lang.tr("maengel.title").to_owned())
        .stylesheet(stadtkarte_mapviewer::melden_stylesheet_url())
        .script(stadtkarte_mapviewer::melden_script_url());
    html(&List {
        page,
        rows,
        total,
        statuses: Status::ALL
            .iter()
            .map(|s| (s.as_str(), s.label(lang)))
            .collect(),
        categories,
        districts,
        map,
        source: format!("/maengel/karte.geojson?{base}"),
        bbox,
        prev: (number > 1).then(|| format!("/maengel?{base}&seite={}", number - 1)),
        next: (number < pages).then(|| format!("/maengel?{base}&seite={}", number + 1)),
        number,
        pages,
        filters,
    })
}

/// `GET /maengel/karte.geojson`: the released reports (the list's filters) as GeoJSON for the
/// maps: number, category, status; no description, nothing personal.
pub async fn geojson(
    State(mm): State<Mm>,
    ctx: PageContext,
    Query(filters): Query<Filters>,
) -> Result<Response, Problem> {
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let (conditions, params) = filters.sql();
    let refs: Vec<&(dyn ToSql + Sync)> =
        params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
    let rows = client
        .query(
            &format!(
                "SELECT p.id, c.name_de, c.name_en, p.status, p.supporters,
                        ST_X(ST_Transform(p.geom, 4326)), ST_Y(ST_Transform(p.geom, 4326))
                 FROM maengel.public_reports p JOIN maengel.categories c ON c.code = p.category
                 WHERE {conditions} ORDER BY p.created_at DESC LIMIT 10000"
            ),
            &refs,
        )
        .await
        .map_err(db("listing reports for the map"))?;
    let features: Vec<Value> = rows
        .iter()
        .map(|r| {
            let status = Status::parse(r.get(3)).unwrap_or(Status::Eingegangen);
            json!({
                "type": "Feature",
                "id": r.get::<_, i64>(0),
                "geometry": {"type": "Point", "coordinates": [
                    (r.get::<_, f64>(5) * 1e6).round() / 1e6, (r.get::<_, f64>(6) * 1e6).round() / 1e6]},
                "properties": {
                    "id": r.get::<_, i64>(0),
                    "kategorie": r.get::<_, String>(ctx.lang.pick(1, 2)),
                    "status": status.as_str(),
                    "status_text": status.label(ctx.lang),
                    "offen": status.is_open(),
                    "unterstuetzungen": r.get::<_, i32>(4),
                }
            })
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/geo+json"),
            (header::CACHE_CONTROL, "public, max-age=5"),
        ],
        json!({"type": "FeatureCollection", "features": features}).to_string(),
    )
        .into_response())
}

/// A step of a report's history.
struct Step {
    at: String,
    status: Option<Status>,
    kind: String,
    text: Option<String>,
}

/// A released photo.
struct Photo {
    display: String,
    thumb: String,
}

#[derive(Template)]
#[template(path = "meldung.html")]
struct Report {
    page: Page,
    id: i64,
    category: String,
    status: Status,
    description: Option<String>,
    place: String,
    lon: f64,
    lat: f64,
    created: String,
    supporters: i32,
    duplicate_of: Option<i64>,
    status_note: Option<String>,
    history: Vec<Step>,
    photos: Vec<Photo>,
    notice: &'static str,
    stamp: String,
}

/// Which notice a report page shows after a "me too".
#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    unterstuetzt: Option<String>,
    #[serde(default)]
    schon: Option<String>,
    #[serde(default)]
    geschlossen: Option<String>,
}

/// `GET /maengel/{id}`: the tracking page.
pub async fn report(
    State(mm): State<Mm>,
    ctx: PageContext,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let Ok(id) = id.parse::<i64>() else {
        return Err(Problem::not_found(format!("There is no report {id:?}.")));
    };
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let row = client
        .query_opt(
            "SELECT CASE WHEN $2 = 'en' THEN c.name_en ELSE c.name_de END, p.status, p.description,
                    coalesce(p.address || ' (' || p.district || ')', p.address, p.district, ''),
                    ST_X(ST_Transform(p.geom, 4326)), ST_Y(ST_Transform(p.geom, 4326)),
                    to_char(p.created_at AT TIME ZONE 'Europe/Berlin', 'DD.MM.YYYY HH24:MI'),
                    p.supporters, p.duplicate_of, p.status_note,
                    r.released_at IS NOT NULL AND r.released_at <= now()
             FROM maengel.public_reports p JOIN maengel.categories c ON c.code = p.category
             JOIN maengel.reports r ON r.id = p.id
             WHERE p.id = $1",
            &[&id, &lang.code()],
        )
        .await
        .map_err(db("reading a report"))?
        .ok_or_else(|| Problem::not_found(format!("There is no report {id}.")))?;
    let history = client
        .query(
            "SELECT to_char(at AT TIME ZONE 'Europe/Berlin', 'DD.MM.YYYY HH24:MI'), status, kind, text
             FROM maengel.events WHERE report_id = $1 AND public ORDER BY at, id",
            &[&id],
        )
        .await
        .map_err(db("reading a report's history"))?
        .iter()
        .map(|r| Step {
            at: r.get(0),
            // Only a status change is shown by its status; a reopening, a merge or a note by its kind.
            status: r
                .get::<_, Option<String>>(1)
                .filter(|_| r.get::<_, String>(2) == "status")
                .and_then(|s| Status::parse(&s)),
            kind: {
                let k: String = r.get(2);
                stadtkarte_core::i18n::tr_opt(lang, &format!("maengel.events.{k}")).map_or(k, str::to_owned)
            },
            text: r.get(3),
        })
        .collect();
    let released: bool = row.get(10);
    let photos = if released {
        client
            .query(
                "SELECT id, version FROM maengel.photos
                 WHERE report_id = $1 AND NOT hidden ORDER BY position",
                &[&id],
            )
            .await
            .map_err(db("reading a report's photos"))?
            .iter()
            .map(|r| {
                let (pid, v): (i64, i32) = (r.get(0), r.get(1));
                Photo {
                    display: format!("/maengel/{id}/fotos/{pid}/bild-{v}.jpg"),
                    thumb: format!("/maengel/{id}/fotos/{pid}/vorschau-{v}.jpg"),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let stamp = formguard::token(&**client, "maengel").await?;
    let notice = if q.unterstuetzt.is_some() {
        "maengel.report.supported"
    } else if q.schon.is_some() {
        "maengel.report.already_supported"
    } else if q.geschlossen.is_some() {
        "maengel.report.closed_no_support"
    } else {
        ""
    };
    let page = ctx
        .page(
            &mm.app.config,
            stadtkarte_core::i18n::fill(lang, "maengel.report.title", &[&id]),
        )
        .crumb(lang.tr("maengel.title"), "/maengel")
        .stylesheet(stadtkarte_mapviewer::melden_stylesheet_url())
        .script(stadtkarte_mapviewer::melden_script_url());
    let mut response = html(&Report {
        page,
        id,
        category: row.get(0),
        status: Status::parse(row.get(1)).unwrap_or(Status::Eingegangen),
        description: row.get(2),
        place: row.get(3),
        lon: row.get(4),
        lat: row.get(5),
        created: row.get(6),
        supporters: row.get(7),
        duplicate_of: row.get(8),
        status_note: row.get(9),
        history,
        photos,
        notice,
        stamp,
    })?;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// `GET /maengel/{id}/fotos/{photo}/{bild|vorschau}-{version}.jpg`: a released photo.
pub async fn photo(
    State(mm): State<Mm>,
    Path((id, photo, file)): Path<(i64, i64, String)>,
) -> Result<Response, Problem> {
    let not_found = || Problem::not_found("There is no such released photo.");
    let (variant, version) = file
        .strip_suffix(".jpg")
        .and_then(|f| f.split_once('-'))
        .ok_or_else(not_found)?;
    let version: i32 = version.parse().map_err(|_| not_found())?;
    let column = match variant {
        "bild" => "display",
        "vorschau" => "thumb",
        _ => return Err(not_found()),
    };
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let row = client
        .query_opt(
            &format!(
                "SELECT p.{column}, p.version FROM maengel.photos p JOIN maengel.reports r ON r.id = p.report_id
                 WHERE p.id = $1 AND p.report_id = $2 AND NOT p.hidden AND NOT r.hidden
                   AND r.released_at IS NOT NULL AND r.released_at <= now()"
            ),
            &[&photo, &id],
        )
        .await
        .map_err(db("reading a photo"))?
        .ok_or_else(not_found)?;
    if row.get::<_, i32>(1) != version {
        return Err(not_found());
    }
    let bytes: Vec<u8> = row.get(0);
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        bytes,
    )
        .into_response())
}

/// One bar of a chart.
pub struct Bar {
    /// Label.
    pub label: String,
    /// Value as shown.
    pub text: String,
    /// Length in per cent of the longest.
    pub percent: f64,
}

fn bars(items: Vec<(String, f64, String)>) -> Vec<Bar> {
    let max = items.iter().map(|i| i.1).fold(0.0_f64, f64::max).max(1e-9);
    items
        .into_iter()
        .map(|(label, value, text)| Bar {
            percent: value / max * 100.0,
            label,
            text,
        })
        .collect()
}

/// The numbers of the statistics.
struct Numbers {
    months: Vec<String>,
    /// Category, then one count per month.
    per_category: Vec<(String, Vec<i64>)>,
    per_month: Vec<i64>,
    per_district: Vec<(String, i64, i64)>,
    median_days: Vec<(String, f64, i64)>,
}

async fn numbers(mm: &Mm, lang: Lang) -> Result<Numbers, Problem> {
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let months: Vec<String> = client
        .query(
            "SELECT to_char(m, 'YYYY-MM') FROM generate_series(
                 date_trunc('month', now() AT TIME ZONE 'Europe/Berlin') - interval '11 months',
                 date_trunc('month', now() AT TIME ZONE 'Europe/Berlin'), interval '1 month') m",
            &[],
        )
        .await
        .map_err(db("listing months"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let counts = client
        .query(
            "SELECT CASE WHEN $1 = 'en' THEN c.name_en ELSE c.name_de END, c.position,
                    to_char(p.created_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM'), count(*)
             FROM maengel.public_reports p JOIN maengel.categories c ON c.code = p.category
             WHERE p.created_at >= date_trunc('month', now() AT TIME ZONE 'Europe/Berlin') - interval '11 months'
             GROUP BY 1, 2, 3 ORDER BY 2, 1",
            &[&lang.code()],
        )
        .await
        .map_err(db("counting reports per month"))?;
    let mut per_category: Vec<(String, Vec<i64>)> = Vec::new();
    for r in &counts {
        let (name, month, n): (String, String, i64) = (r.get(0), r.get(2), r.get(3));
        let Some(i) = months.iter().position(|m| *m == month) else {
            continue;
        };
        if per_category.last().is_none_or(|(c, _)| *c != name) {
            per_category.push((name.clone(), vec![0; months.len()]));
        }
        if let Some(last) = per_category.last_mut() {
            last.1[i] += n;
        }
    }
    let per_month = (0..months.len())
        .map(|i| per_category.iter().map(|(_, v)| v[i]).sum())
        .collect();
    let per_district = client
        .query(
            "SELECT coalesce(district, '–'), count(*), count(*) FILTER (WHERE open311_status = 'open')
             FROM maengel.public_reports GROUP BY 1 ORDER BY 2 DESC, 1",
            &[],
        )
        .await
        .map_err(db("counting reports per district"))?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let median_days = client
        .query(
            "SELECT CASE WHEN $1 = 'en' THEN c.name_en ELSE c.name_de END,
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM p.closed_at - p.created_at) / 86400),
                    count(*)
             FROM maengel.public_reports p JOIN maengel.categories c ON c.code = p.category
             WHERE p.status = 'erledigt' AND p.closed_at IS NOT NULL
             GROUP BY 1, c.position ORDER BY c.position",
            &[&lang.code()],
        )
        .await
        .map_err(db("measuring the time to fix"))?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    Ok(Numbers {
        months,
        per_category,
        per_month,
        per_district,
        median_days,
    })
}

#[derive(Template)]
#[template(path = "statistik.html")]
struct Statistics {
    page: Page,
    months: Vec<String>,
    per_category: Vec<(String, Vec<i64>)>,
    per_month: Vec<i64>,
    month_bars: Vec<Bar>,
    district_bars: Vec<Bar>,
    per_district: Vec<(String, i64, i64)>,
    median_bars: Vec<Bar>,
    median_days: Vec<(String, String, i64)>,
}

/// `GET /maengel/statistik`: reports per category and month, per district, and the median
/// days to "erledigt" per category — each as an SVG chart with its table.
pub async fn statistics(State(mm): State<Mm>, ctx: PageContext) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let n = numbers(&mm, lang).await?;
    let page = ctx
        .page(&mm.app.config, lang.tr("maengel.stats.title").to_owned())
        .crumb(lang.tr("maengel.title"), "/maengel");
    let decimal = |v: f64| {
        let t = format!("{v:.1}");
        if lang == Lang::De {
            t.replace('.', ",")
        } else {
            t
        }
    };
    html(&Statistics {
        month_bars: bars(
            n.months
                .iter()
                .zip(&n.per_month)
                .map(|(m, v)| {
                    (
                        m.clone(),
                        f64::from(i32::try_from(*v).unwrap_or(i32::MAX)),
                        v.to_string(),
                    )
                })
                .collect(),
        ),
        district_bars: bars(
            n.per_district
                .iter()
                .map(|(d, v, _)| {
                    (
                        d.clone(),
                        f64::from(i32::try_from(*v).unwrap_or(i32::MAX)),
                        v.to_string(),
                    )
                })
                .collect(),
        ),
        median_bars: bars(
            n.median_days
                .iter()
                .map(|(c, v, _)| (c.clone(), *v, decimal(*v)))
                .collect(),
        ),
        page,
        months: n.months,
        per_category: n.per_category,
        per_month: n.per_month,
        per_district: n.per_district,
        median_days: n
            .median_days
            .iter()
            .map(|(c, d, k)| (c.clone(), decimal(*d), *k))
            .collect(),
    })
}

/// `GET /maengel/statistik.json`: the same numbers.
pub async fn statistics_json(State(mm): State<Mm>, ctx: PageContext) -> Result<Response, Problem> {
    let n = numbers(&mm, ctx.lang).await?;
    let mut per_category_month = Vec::new();
    for (category, counts) in &n.per_category {
        for (month, count) in n.months.iter().zip(counts) {
            per_category_month.push(json!({"category": category, "month": month, "count": count}));
        }
    }
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, "public, max-age=60")],
        axum::Json(json!({
            "months": n.months,
            "per_category_month": per_category_month,
            "per_month": n.months.iter().zip(&n.per_month).map(|(m, c)| json!({"month": m, "count": c})).collect::<Vec<_>>(),
            "per_district": n.per_district.iter().map(|(d, all, open)| json!({"district": d, "count": all, "open": open})).collect::<Vec<_>>(),
            "median_days_to_fixed": n.median_days.iter().map(|(c, d, k)| json!({"category": c, "median_days": (d * 10.0).round() / 10.0, "fixed": k})).collect::<Vec<_>>(),
        })),
    )
        .into_response())
}
