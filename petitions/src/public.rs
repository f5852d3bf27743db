//! What everyone sees: the petitions map and list (`/petitionen`, filters that work without
//! JavaScript), the list as JSON, CSV and GeoJSON, and a petition's page with its place, its
//! counts (total, residents, per district), the public signers, the council's response, the
//! comments and the sign form — and the same petition as JSON (`/petitionen/{id}.json`) and its
//! per-district counts as CSV (`/petitionen/{id}.csv`). Everything is read from the public
//! statuses only; e-mail addresses, postcodes and client hashes never leave the database, and
//! signers' names appear only as they chose.

use std::fmt::Write as _;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use stadtkarte_core::catalog;
use stadtkarte_core::config::Config;
use stadtkarte_core::db::Conn;
use stadtkarte_core::db::DbError;
use stadtkarte_core::i18n::Lang;
use stadtkarte_core::page::{Page, PageContext, html};
use stadtkarte_core::{Problem, formguard};

use crate::Pt;
use crate::citizen::{self, SignForm};
use crate::comments::{self, Comment, CommentTyped};
use crate::model::{self, Counts, Petition, PublicSigner, Status, Summary};
use crate::place::Districts;

/// Most petitions in one list, map or download.
const LIST_LIMIT: i64 = 1000;
/// Latest public signers on a petition's page.
const SIGNERS_SHOWN: i64 = 20;

/// The routes of this module.
pub(crate) fn routes() -> Router<Pt> {
    Router::new()
        .route("/petitionen", get(list))
        .route("/petitionen.json", get(list_json))
        .route("/petitionen.csv", get(list_csv))
        .route("/petitionen/karte.geojson", get(geojson))
        .route("/petitionen/{id}", get(petition))
}

/// The petitions' map script (from the map app's bundle).
pub(crate) fn script() -> String {
    stadtkarte_mapviewer::petitionen_script_url()
}

/// Its stylesheet.
pub(crate) fn stylesheet() -> String {
    stadtkarte_mapviewer::petitionen_stylesheet_url()
}

/// The city's extent in WGS84 as `minLon,minLat,maxLon,maxLat` (empty when unknown), for maps.
pub(crate) async fn city_bbox(client: &impl Conn, config: &Config) -> String {
    match catalog::get(client.pg(), &config.maengel.districts_collection).await {
        Ok(Some(c)) => c
            .extent_crs84
            .map(|e| {
                e.iter()
                    .map(|v| format!("{v:.5}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// The city's districts by name (empty when none are loaded).
pub(crate) async fn district_names(
    client: &impl Conn,
    config: &Config,
) -> Result<Vec<String>, DbError> {
    match Districts::of(client, config).await? {
        Some(d) => d.names(client).await,
        None => Ok(Vec::new()),
    }
}

/// `text` percent-encoded for a query string.
pub(crate) fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The filters of the list, the map data and the downloads.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Filters {
    /// `open` (default), `closed`, `rejected`, `alle`.
    #[serde(default)]
    status: String,
    /// Topic code.
    #[serde(default)]
    thema: String,
    /// District name.
    #[serde(default)]
    stadtteil: String,
    /// Words in the title or text.
    #[serde(default)]
    q: String,
}

impl Filters {
    /// The status asked for, `open` when none or an unknown one.
    fn status(&self) -> &'static str {
        match self.status.trim() {
            "closed" => "closed",
            "rejected" => "rejected",
            "alle" | "all" => "alle",
            _ => "open",
        }
    }

    fn model(&self) -> model::Filter {
        model::Filter {
            status: self.status().to_owned(),
            topic: self.thema.trim().to_owned(),
            district: self.stadtteil.trim().to_owned(),
            q: self.q.trim().chars().take(200).collect(),
        }
    }

    /// The filters as a query string (without `lang`).
    fn query(&self) -> String {
        let mut q = format!("status={}", self.status());
        for (k, v) in [
            ("thema", &self.thema),
            ("stadtteil", &self.stadtteil),
            ("q", &self.q),
        ] {
            if !v.trim().is_empty() {
                let _ = write!(q, "&{k}={}", percent_encode(v.trim()));
            }
        }
        q
    }
}

/// The label key of a status.
fn status_label(status: Status, lang: Lang) -> &'static str {
    lang.tr(status.label_key())
}

/// A petition in the list.
struct Row {
    id: i64,
    title: String,
    topic: String,
    districts: String,
    status: Status,
    status_text: &'static str,
    counting: i64,
    threshold: i32,
    residents_only: bool,
    days_left: Option<i32>,
    responded: bool,
}

impl Row {
    fn of(s: &Summary, lang: Lang) -> Self {
        Self {
            id: s.id,
            title: s.title.clone(),
            topic: lang.pick(&s.topic_de, &s.topic_en).clone(),
            districts: s.districts.join(", "),
            status: s.status,
            status_text: status_label(s.status, lang),
            counting: if s.residents_only {
                s.residents
            } else {
                s.signatures
            },
            threshold: s.threshold,
            residents_only: s.residents_only,
            days_left: s.days_left,
            responded: s.responded,
        }
    }
}

#[derive(Template)]
#[template(path = "petitionen.html")]
struct ListPage {
    page: Page,
    rows: Vec<Row>,
    status: &'static str,
    filters: Filters,
    topics: Vec<(String, String)>,
    districts: Vec<String>,
    source: String,
    bbox: String,
    query: String,
}

/// `GET /petitionen`: the map and the list, with filters.
async fn list(
    State(pt): State<Pt>,
    ctx: PageContext,
    Query(filters): Query<Filters>,
) -> Result<Response, Problem> {
    let lang = ctx.lang;
    let client = pt.app.pool.get().await.map_err(DbError::from)?;
    let found = model::list(&**client, &filters.model(), LIST_LIMIT).await?;
    let topics = model::topics(&**client)
        .await?
        .into_iter()
        .map(|t| (t.code, lang.pick(t.name_de, t.name_en)))
        .collect();
    let districts = district_names(&**client, &pt.app.config).await?;
    let bbox = city_bbox(&**client, &pt.app.config).await;
    let query = filters.query();
    let page = ctx
        .page(&pt.app.config, lang.tr("petitions.title").to_owned())
        .stylesheet(stylesheet())
        .script(script());
    html(&ListPage {
        page,
        rows: found.iter().map(|s| Row::of(s, lang)).collect(),
        status: filters.status(),
        topics,
        districts,
        source: format!("/petitionen/karte.geojson?{query}"),
        bbox,
        query,
        filters,
    })
}

/// A petition of the list in the JSON of `/petitionen.json`.
fn summary_json(s: &Summary, base: &str) -> Value {
    json!({
        "type": "petition",
        "id": s.id,
        "links": {
            "self": format!("{base}/petitionen/{}.json", s.id),
            "html": format!("{base}/petitionen/{}", s.id),
        },
        "attributes": {
            "title": s.title,
            "status": s.status.as_str(),
            "topic": s.topic,
            "topic_title": s.topic_de,
            "topic_title_en": s.topic_en,
            "place_kind": s.place_kind,
            "districts": s.districts,
            "signatures": s.signatures,
            "residents": s.residents,
            "threshold": s.threshold,
            "residents_only": s.residents_only,
            "published_at": s.published_at,
            "deadline": s.deadline,
            "days_left": s.days_left,
            "responded": s.responded,
        }
    })
}

/// `GET /petitionen.json`: the list with counts (like UK e-petitions' `petitions.json`).
async fn list_json(
    State(pt): State<Pt>,
    Query(filters): Query<Filters>,
) -> Result<Response, Problem> {
    let client = pt.app.pool.get().await.map_err(DbError::from)?;
    let found = model::list(&**client, &filters.model(), LIST_LIMIT).await?;
    let base = pt.app.config.base_url();
    let body = json!({
        "links": {"self": format!("{base}/petitionen.json?{}", filters.query())},
        "meta": {"count": found.len()},
        "data": found.iter().map(|s| summary_json(s, &base)).collect::<Vec<_>>(),
    });
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=5")],
        axum::Json(body),
    )
        .into_response())
}

/// One CSV field: quoted when needed, and a leading `=`, `+`, `-`, `@` neutralised so that a
/// spreadsheet never runs a title as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r', ';']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// A CSV document (UTF-8 with a byte-order mark, CRLF line ends: spreadsheets open it as is).
fn csv_response(rows: &[Vec<String>], filename: &str) -> Response {
    let mut out = String::from("\u{feff}");
    for row in rows {
        out.push_str(
            &row.iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "public, max-age=5".to_owned()),
        ],
        out,
    )
        .into_response()
}

/// `GET /petitionen.csv`: the list with counts as CSV (never any signer's data).
async fn list_csv(
    State(pt): State<Pt>,
    Query(filters): Query<Filters>,
) -> Result<Response, Problem> {
    let client = pt.app.pool.get().await.map_err(DbError::from)?;
    let found = model::list(&**client, &filters.model(), LIST_LIMIT).await?;
    let base = pt.app.config.base_url();
    let mut rows = vec![
        [
            "id",
            "titel",
            "status",
            "thema",
            "thema_titel",
            "ort",
            "stadtteile",
            "unterschriften",
            "einwohner",
            "quorum",
            "nur_einwohner",
            "veroeffentlicht",
            "frist",
            "tage_uebrig",
            "antwort",
            "url",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for s in &found {
        rows.push(vec![
            s.id.to_string(),
            s.title.clone(),
            s.status.as_str().to_owned(),
            s.topic.clone(),
            s.topic_de.clone(),
            s.place_kind.clone(),
            s.districts.join("; "),
            s.signatures.to_string(),
            s.residents.to_string(),
            s.threshold.to_string(),
            s.residents_only.to_string(),
            s.published_at.clone().unwrap_or_default(),
            s.deadline.clone().unwrap_or_default(),
            s.days_left.map(|d| d.to_string()).unwrap_or_default(),
            s.responded.to_string(),
            format!("{base}/petitionen/{}", s.id),
        ]);
    }
    Ok(csv_response(&rows, "petitionen.csv"))
}

/// `GET /petitionen/karte.geojson`: the petitions (the list's filters) for the map, WGS84.
async fn geojson(
    State(pt): State<Pt>,
    ctx: PageContext,
    Query(filters): Query<Filters>,
) -> Result<Response, Problem> {
    let client = pt.app.pool.get().await.map_err(DbError::from)?;
    let found = model::list(&**client, &filters.model(), LIST_LIMIT).await?;
    let features: Vec<Value> = found
        .iter()
        .map(|s| {
            json!({
                "type": "Feature",
                "id": s.id,
                "geometry": serde_json::from_str::<Value>(&s.geometry).unwrap_or(Value::Null),
                "properties": {
                    "id": s.id,
                    "title": s.title,
                    "status": s.status.as_str(),
                    "topic_title": ctx.lang.pick(&s.topic_de, &s.topic_en),
                    "signatures": s.signatures,
                    "residents": s.residents,
                    "threshold": s.threshold,
                    "url": format!("/petitionen/{}", s.id),
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

/// A district's row of the table of residents.
struct DistrictRow {
    name: String,
    label: String,
    signatures: i64,
}

#[derive(Template)]
#[template(path = "petition.html")]
struct PetitionPage {
    page: Page,
    p: Petition,
    topic: String,
    status_text: &'static str,
    counts: Counts,
    percent: i64,
    by_district: Vec<DistrictRow>,
    signers: Vec<PublicSigner>,
    reject_label: &'static str,
    comments_enabled: bool,
    comments: Vec<Comment>,
    form: Option<SignForm>,
    // The comment form's fields.
    id: i64,
    typed: CommentTyped,
    stamp: String,
    error: String,
    body_max: usize,
    sponsoring: bool,
    notice: &'static str,
}

/// What a petition's page shows after a redirect.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PetitionQuery {
    /// The sponsors' key from the creator's link.
    #[serde(default)]
    unterstuetzen: String,
    /// A comment was posted.
    #[serde(default)]
    kommentiert: Option<String>,
    /// A comment was reported.
    #[serde(default)]
    gemeldet: Option<String>,
}

/// The label key of a rejection code.
fn reject_label(code: Option<&str>) -> &'static str {
    match code {
        Some("duplicate") => "petitions.page.reject_duplicate",
        Some("irrelevant") => "petitions.page.reject_irrelevant",
        Some("not_city") => "petitions.page.reject_not_city",
        Some("offensive") => "petitions.page.reject_offensive",
        Some("advertising") => "petitions.page.reject_advertising",
        Some("personal") => "petitions.page.reject_personal",
        Some("unclear") => "petitions.page.reject_unclear",
        Some(_) => "petitions.page.reject_other",
        None => "",
    }
}

/// A petition the public may see, or one collecting sponsors opened with its sponsors' key.
async fn visible(client: &impl Conn, id: &str, sponsor_key: &str) -> Result<Petition, Problem> {
    let not_found = || Problem::not_found(format!("There is no petition {id:?}."));
    let Ok(number) = id.parse::<i64>() else {
        return Err(not_found());
    };
    let p = model::petition(client, number)
        .await?
        .ok_or_else(not_found)?;
    let sponsoring = p.status == Status::Sponsoring
        && !sponsor_key.trim().is_empty()
        && sponsor_key.trim() == p.sponsor_key;
    if p.status.is_public() || sponsoring {
        Ok(p)
    } else {
        Err(not_found())
    }
}

/// `GET /petitionen/{id}` (the page), `/petitionen/{id}.json` and `/petitionen/{id}.csv`.
async fn petition(
    State(pt): State<Pt>,
    ctx: PageContext,
    Path(id): Path<String>,
    Query(q): Query<PetitionQuery>,
) -> Result<Response, Problem> {
    if let Some(number) = id.strip_suffix(".json") {
        return petition_json(&pt, number).await;
    }
    if let Some(number) = id.strip_suffix(".csv") {
        return petition_csv(&pt, number).await;
    }
    let lang = ctx.lang;
    let config = &pt.app.config;
    let client = pt.app.pool.get().await.map_err(DbError::from)?;
    let p = visible(&**client, &id, &q.unterstuetzen).await?;
    let counts = model::counts(&**client, p.id, p.residents_only).await?;
    let signers = model::public_signers(&**client, p.id, SIGNERS_SHOWN).await?;
    let names = district_names(&**client, config).await?;
    let mut by_district: Vec<DistrictRow> = names
        .iter()
        .map(|n| DistrictRow {
            name: n.clone(),
            label: n.clone(),
            signatures: counts
                .by_district
                .iter()
                .find(|(d, _)| d == n)
                .map_or(0, |(_, c)| *c),
        })
        .collect();
    by_district.push(DistrictRow {
        name: String::new(),
        label: lang.tr("petitions.page.district_unknown").to_owned(),
        signatures: counts
            .by_district
            .iter()
            .find(|(d, _)| d.is_empty())
            .map_or(0, |(_, c)| *c),
    });
    let comments_enabled = config.petitions.comments && p.status.is_public();
    let comments = if comments_enabled {
        comments::list(&**client, p.id).await?
    } else {
        Vec::new()
    };
    let sponsoring = p.status == Status::Sponsoring;
    let stamp = formguard::token(&**client, citizen::FORM)
        .await
        .unwrap_or_default();
    let form = (p.status == Status::Open || sponsoring).then(|| {
        SignForm::new(
            p.id,
            names.clone(),
            stamp.clone(),
            if sponsoring { &q.unterstuetzen } else { "" },
        )
    });
    let percent = if p.threshold > 0 {
        (counts.counting * 100 / i64::from(p.threshold)).clamp(0, 100)
    } else {
        0
    };
    let notice = if q.kommentiert.is_some() {
        "petitions.comments.posted"
    } else if q.gemeldet.is_some() {
        "petitions.comments.reported"
    } else {
        ""
    };
    let page = ctx
        .page(config, p.title.clone())
        .crumb(
            lang.tr("petitions.title"),
            format!("/petitionen?lang={lang}"),
        )
        .stylesheet(stylesheet())
        .script(script());
    let mut response = html(&PetitionPage {
        page,
        topic: lang.pick(&p.topic_de, &p.topic_en).clone(),
        status_text: status_label(p.status, lang),
        reject_label: reject_label(p.reject_code.as_deref()),
        counts,
        percent,
        by_district,
        signers,
        comments_enabled,
        comments,
        form,
        id: p.id,
        typed: CommentTyped::default(),
        stamp,
        error: String::new(),
        body_max: comments::BODY_MAX,
        sponsoring,
        notice,
        p,
    })?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// `GET /petitionen/{id}.json`: the petition with its counts per district (residents only;
/// `""`: a resident whose district is not known) and its place.
async fn petition_json(pt: &Pt, id: &str) -> Result<Response, Problem> {
    let client = pt.app.pool.get().await.map_err(DbError::from)?;
    let p = visible(&**client, id, "").await?;
    let counts = model::counts(&**client, p.id, p.residents_only).await?;
    let base = pt.app.config.base_url();
    let body = json!({
        "id": p.id,
        "title": p.title,
        "status": p.status.as_str(),
        "text": p.body,
        "topic": p.topic,
        "topic_title": p.topic_de,
        "topic_title_en": p.topic_en,
        "districts": p.districts,
        "place_kind": p.place_kind,
        "signatures": counts.signatures,
        "residents": counts.residents,
        "counting": counts.counting,
        "threshold": p.threshold,
        "residents_only": p.residents_only,
        "threshold_reached_at": p.threshold_reached_at,
        "published_at": p.published_at,
        "deadline": p.deadline,
        "days_left": p.days_left,
        "closed_at": p.closed_at,
        "creator": p.creator_public_name,
        "response": p.response.as_ref().map(|text| json!({"text": text, "date": p.response_at})),
        "rejection": p.reject_code.as_ref().map(|code| json!({"code": code, "text": p.reject_reason})),
        "signatures_by_district": counts
            .by_district
            .iter()
            .map(|(d, n)| json!({"district": d, "signatures": n}))
            .collect::<Vec<_>>(),
        "geometry": serde_json::from_str::<Value>(&p.geometry).unwrap_or(Value::Null),
        "links": {
            "self": format!("{base}/petitionen/{}.json", p.id),
            "html": format!("{base}/petitionen/{}", p.id),
        },
    });
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=2")],
        axum::Json(body),
    )
        .into_response())
}

/// `GET /petitionen/{id}.csv`: the residents' signatures per district.
async fn petition_csv(pt: &Pt, id: &str) -> Result<Response, Problem> {
    let client = pt.app.pool.get().await.map_err(DbError::from)?;
    let p = visible(&**client, id, "").await?;
    let counts = model::counts(&**client, p.id, p.residents_only).await?;
    let mut rows = vec![vec!["stadtteil".to_owned(), "unterschriften".to_owned()]];
    for (d, n) in &counts.by_district {
        rows.push(vec![d.clone(), n.to_string()]);
    }
    Ok(csv_response(&rows, &format!("petition-{}.csv", p.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("Radweg"), "Radweg");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("Sag \"ja\""), "\"Sag \"\"ja\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-1"), "'-1");
    }

    #[test]
    fn filters_default_to_open_and_keep_their_values() {
        let f = Filters {
            status: "x".to_owned(),
            thema: "verkehr".to_owned(),
            stadtteil: "Süd".to_owned(),
            q: "a b".to_owned(),
        };
        assert_eq!(f.status(), "open");
        assert_eq!(
            f.query(),
            "status=open&thema=verkehr&stadtteil=S%C3%BCd&q=a%20b"
        );
    }
}
