//! `GET /plans/{plan}`: one development plan for people and programs — its facts (name,
//! number, type, legal status, dates, municipality, area), the zoning areas with their figures,
//! its documents, where its scan lies on the map, and the OGC API items of its objects. As JSON
//! (`?f=json`, or `Accept`) or as a page with a small map (drawn by the map bundle's
//! `plan.js` from the same JSON and the OGC API items, in the signs of the Planzeichenverordnung).
//!
//! The scan's placement is computed here, once, for every client: the world file (six numbers:
//! pixel size and rotation terms, the centre of the upper-left pixel) and the PNG's size give
//! the four corners of the image in the plan's CRS (the storage CRS, which XPlanGML plans here
//! use), and PostGIS transforms them to WGS 84 — what MapLibre's `image` source takes.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use stadtkarte_core::catalog::{self, quote_ident};
use stadtkarte_core::db::DbError;
use stadtkarte_core::i18n::Lang;
use stadtkarte_core::load::Work;
use stadtkarte_core::negotiate::{Offer, negotiate};
use stadtkarte_core::page::{self, PageContext};
use stadtkarte_core::tokio_postgres::Client;
use stadtkarte_core::{AppState, Problem};

use crate::api::FormatOnly;
use crate::html;

/// The plan's own columns, in the order `facts` reads them.
const PLAN_SQL: &str =
    "SELECT id, name, nummer, planart, planart_text, rechtsstand, rechtsstand_text,
        gemeinde, ags, ortsteil, aufstellungsbeschluss::text, satzungsbeschluss::text,
        rechtsverordnung::text, ausfertigung::text, inkrafttreten::text, techn_herstellung::text,
        beschreibung, xplan_version, quelle, ST_Area(geom),
        ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)
   FROM plans.bebauungsplaene,
        LATERAL (SELECT ST_Transform(ST_Envelope(geom), 4326) b) e
  WHERE id = $1";

/// The dates of a plan's procedure, by their column (and text key) name.
const DATES: [&str; 6] = [
    "aufstellungsbeschluss",
    "satzungsbeschluss",
    "rechtsverordnung",
    "ausfertigung",
    "inkrafttreten",
    "techn_herstellung",
];

/// A zoning area as the page and the JSON show it.
#[derive(Debug)]
pub struct Zone {
    pub gml_id: String,
    pub allg_art: Option<String>,
    pub allg_art_text: Option<String>,
    pub besondere_art: Option<String>,
    pub besondere_art_text: Option<String>,
    pub grz: Option<f64>,
    pub gfz: Option<f64>,
    pub geschosse_min: Option<i32>,
    pub geschosse_max: Option<i32>,
    pub bauweise: Option<String>,
    pub bauweise_text: Option<String>,
    pub area_m2: f64,
}

impl Zone {
    /// "Allgemeines Wohngebiet (WA)", else the general type, else the code.
    #[must_use]
    pub fn kind(&self) -> String {
        self.besondere_art_text
            .clone()
            .or_else(|| self.allg_art_text.clone())
            .or_else(|| self.besondere_art.clone())
            .or_else(|| self.allg_art.clone())
            .unwrap_or_default()
    }

    /// "II" style is for plans on paper; here "2" or "2–3".
    #[must_use]
    pub fn storeys(&self) -> String {
        match (self.geschosse_min, self.geschosse_max) {
            (Some(a), Some(b)) if a != b => format!("{a}–{b}"),
            (_, Some(b)) => b.to_string(),
            (Some(a), None) => a.to_string(),
            (None, None) => String::new(),
        }
    }
}

/// Where a scan lies: its address and the corners of the image in WGS 84 (longitude,
/// latitude), upper left, upper right, lower right, lower left.
#[derive(Debug, Clone)]
pub struct ScanPlacement {
    pub file: String,
    pub href: String,
    pub georef_href: String,
    pub width: u32,
    pub height: u32,
    pub corners: [[f64; 2]; 4],
}

/// The size of a PNG from its header (signature, then the IHDR chunk), or `None`.
fn png_size(head: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if head.len() < 24 || &head[..8] != SIGNATURE || &head[12..16] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(head[16..20].try_into().ok()?);
    let height = u32::from_be_bytes(head[20..24].try_into().ok()?);
    (width > 0 && height > 0).then_some((width, height))
}

/// The six numbers of a world file (A, D, B, E, C, F, one a line), or `None`.
fn world_file(text: &str) -> Option<[f64; 6]> {
    let numbers: Vec<f64> = text
        .split_whitespace()
        .map(|v| v.replace(',', ".").parse::<f64>())
        .collect::<Result<_, _>>()
        .ok()?;
    let six: [f64; 6] = numbers.try_into().ok()?;
    (six.iter().all(|v| v.is_finite()) && six[0] != 0.0 && six[3] != 0.0).then_some(six)
}

/// The outer corners of an image of `width` × `height` pixels in the world file's CRS: the
/// world file names the centre of the upper-left pixel, so the edges lie half a pixel out.
fn corners_of(w: [f64; 6], width: u32, height: u32) -> [[f64; 2]; 4] {
    let [a, d, b, e, c, f] = w;
    let at = |col: f64, row: f64| [a * col + b * row + c, d * col + e * row + f];
    let (wd, ht) = (f64::from(width) - 0.5, f64::from(height) - 0.5);
    [at(-0.5, -0.5), at(wd, -0.5), at(wd, ht), at(-0.5, ht)]
}

/// The first scan of the plan that has a world file and is a PNG, placed in WGS 84.
async fn scan(
    client: &Client,
    plan: &str,
    srid: i32,
    base: &str,
) -> Result<Option<ScanPlacement>, Problem> {
    let rows = client
        .query(
            "SELECT datei, georef_datei, substring(inhalt FROM 1 FOR 24), convert_from(georef, 'UTF8')
               FROM plans.dokumente
              WHERE plan_id = $1 AND art = 'Scan' AND georef IS NOT NULL
              ORDER BY datei",
            &[&plan],
        )
        .await
        .map_err(DbError::query("reading a plan's scan"))?;
    for row in rows {
        let file: String = row.get(0);
        let georef: String = row.get(1);
        let head: Vec<u8> = row.get(2);
        let world: String = row.get(3);
        let (Some((width, height)), Some(w)) = (png_size(&head), world_file(&world)) else {
            continue;
        };
        let local = corners_of(w, width, height);
        let xs: Vec<f64> = local.iter().map(|p| p[0]).collect();
        let ys: Vec<f64> = local.iter().map(|p| p[1]).collect();
        let placed = client
            .query(
                "SELECT ST_X(p), ST_Y(p) FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS c(x, y, n),
                        LATERAL ST_Transform(ST_SetSRID(ST_MakePoint(x, y), $3), 4326) p
                  ORDER BY n",
                &[&xs, &ys, &srid],
            )
            .await
            .map_err(DbError::query("placing a plan's scan"))?;
        let mut corners = [[0.0; 2]; 4];
        for (corner, row) in corners.iter_mut().zip(&placed) {
            *corner = [row.get(0), row.get(1)];
        }
        return Ok(Some(ScanPlacement {
            href: format!("{base}/plans/{}/dokumente/{}", encode(plan), encode(&file)),
            georef_href: format!(
                "{base}/plans/{}/dokumente/{}",
                encode(plan),
                encode(&georef)
            ),
            file,
            width,
            height,
            corners,
        }));
    }
    Ok(None)
}

/// Percent-encoding of a path segment or query value (ids are `gml:id`s, but need not be).
#[must_use]
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// A collection of the plan's objects: its id, title and how many of them belong to the plan.
#[derive(Debug)]
pub struct Objects {
    pub collection: String,
    pub title: String,
    pub count: i64,
    /// The plan's objects as GeoJSON (up to 1000).
    pub items_href: String,
    /// The same as a page.
    pub page_href: String,
}

/// The catalog's collections of plan objects (tables of the `plans` schema with a `plan_id`),
/// with the plan's count in each.
async fn objects(client: &Client, plan: &str, base: &str) -> Result<Vec<Objects>, Problem> {
    let with_plan_id: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.columns
              WHERE table_schema = 'plans' AND column_name = 'plan_id'",
            &[],
        )
        .await
        .map_err(DbError::query("listing the tables of plan objects"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = Vec::new();
    for c in catalog::list(client).await? {
        if c.table_schema != "plans" || !c.publish_features || !with_plan_id.contains(&c.table_name)
        {
            continue;
        }
        let sql = format!(
            "SELECT count(*) FROM {}.{} WHERE plan_id = $1",
            quote_ident(&c.table_schema),
            quote_ident(&c.table_name)
        );
        let count: i64 = client
            .query_one(&sql, &[&plan])
            .await
            .map_err(DbError::query("counting a plan's objects"))?
            .get(0);
        if count == 0 {
            continue;
        }
        let filter = format!("plan_id = '{}'", plan.replace('\'', "''"));
        let items = format!(
            "{base}/collections/{}/items?filter-lang=cql2-text&filter={}",
            c.id,
            encode(&filter)
        );
        out.push(Objects {
            items_href: format!("{items}&limit=1000"),
            page_href: format!("{items}&f=html"),
            collection: c.id,
            title: c.title,
            count,
        });
    }
    Ok(out)
}

async fn zones(client: &Client, plan: &str) -> Result<Vec<Zone>, Problem> {
    let rows = client
        .query(
            "SELECT gml_id, allg_art, allg_art_text, besondere_art, besondere_art_text, grz, gfz,
                    geschosse_min, geschosse_max, bauweise, bauweise_text, ST_Area(geom)
               FROM plans.baugebiete WHERE plan_id = $1 ORDER BY gml_id",
            &[&plan],
        )
        .await
        .map_err(DbError::query("reading a plan's zoning"))?;
    Ok(rows
        .iter()
        .map(|r| Zone {
            gml_id: r.get(0),
            allg_art: r.get(1),
            allg_art_text: r.get(2),
            besondere_art: r.get(3),
            besondere_art_text: r.get(4),
            grz: r.get(5),
            gfz: r.get(6),
            geschosse_min: r.get(7),
            geschosse_max: r.get(8),
            bauweise: r.get(9),
            bauweise_text: r.get(10),
            area_m2: r.get::<_, Option<f64>>(11).unwrap_or(0.0),
        })
        .collect())
}

/// A document of the plan.
#[derive(Debug)]
struct Document {
    file: String,
    kind: String,
    name: Option<String>,
    typ: Option<String>,
    media_type: String,
    bytes: i64,
    georef: Option<String>,
}

async fn documents(client: &Client, plan: &str) -> Result<Vec<Document>, Problem> {
    let rows = client
        .query(
            "SELECT datei, art, name, typ, media_type, length(inhalt), georef_datei
               FROM plans.dokumente WHERE plan_id = $1 ORDER BY art, datei",
            &[&plan],
        )
        .await
        .map_err(DbError::query("listing plan documents"))?;
    Ok(rows
        .iter()
        .map(|r| Document {
            file: r.get(0),
            kind: r.get(1),
            name: r.get(2),
            typ: r.get(3),
            media_type: r.get(4),
            bytes: i64::from(r.get::<_, i32>(5)),
            georef: r.get(6),
        })
        .collect())
}

/// `GET /plans/{plan}`
pub async fn plan(
    State(state): State<AppState>,
    Path(plan): Path<String>,
    Query(q): Query<FormatOnly>,
    cx: PageContext,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let format = negotiate(q.f.as_deref(), &headers, &[Offer::JSON, Offer::HTML])?;
    let _slot = state.load.admit(Work::Items).await?;
    let client = state.read_db().await?;
    let Some(row) = client
        .query_opt(PLAN_SQL, &[&plan])
        .await
        .map_err(DbError::query("reading a plan"))?
    else {
        return Err(Problem::not_found(format!("There is no plan {plan}.")));
    };
    let base = stadtkarte_core::http::base_url(&state.config, &headers);
    let zones = zones(&client, &plan).await?;
    let documents = documents(&client, &plan).await?;
    let scan = scan(&client, &plan, state.config.city.storage_srid, &base).await?;
    let objects = objects(&client, &plan, &base).await?;
    drop(client);
    let facts = Facts::of(&row);
    let id = encode(&plan);
    let doc_href = |file: &str| format!("{base}/plans/{id}/dokumente/{}", encode(file));
    if format == Offer::HTML {
        return page_of(
            &state,
            &cx,
            &plan,
            &facts,
            &zones,
            &documents,
            scan.as_ref(),
            &objects,
            &base,
        );
    }
    let json = json!({
        "id": plan,
        "name": facts.name,
        "nummer": facts.nummer,
        "planart": {"code": facts.planart, "text": facts.planart_text},
        "rechtsstand": {"code": facts.rechtsstand, "text": facts.rechtsstand_text},
        "gemeinde": {"name": facts.gemeinde, "ags": facts.ags, "ortsteil": facts.ortsteil},
        "daten": DATES.iter().zip(&facts.dates).map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "beschreibung": facts.beschreibung,
        "xplan_version": facts.xplan_version,
        "quelle": facts.quelle,
        "flaeche_m2": facts.area_m2,
        "bbox": facts.bbox,
        "baugebiete": zones.iter().map(|z| json!({
            "gml_id": z.gml_id, "allg_art": z.allg_art, "allg_art_text": z.allg_art_text,
            "besondere_art": z.besondere_art, "besondere_art_text": z.besondere_art_text,
            "grz": z.grz, "gfz": z.gfz, "geschosse_min": z.geschosse_min, "geschosse_max": z.geschosse_max,
            "bauweise": z.bauweise, "bauweise_text": z.bauweise_text, "flaeche_m2": z.area_m2,
        })).collect::<Vec<_>>(),
        "dokumente": documents.iter().map(|d| json!({
            "datei": d.file, "art": d.kind, "name": d.name, "typ": d.typ, "type": d.media_type,
            "length": d.bytes, "href": doc_href(&d.file),
            "georef": d.georef.as_deref().map(doc_href),
        })).collect::<Vec<_>>(),
        "scan": scan.as_ref().map(|s| json!({
            "datei": s.file, "href": s.href, "georef": s.georef_href, "width": s.width, "height": s.height,
            "crs": format!("EPSG:{}", state.config.city.storage_srid),
            "coordinates": s.corners,
        })),
        "objekte": objects.iter().map(|o| json!({
            "collection": o.collection, "title": o.title, "count": o.count, "href": o.items_href,
        })).collect::<Vec<_>>(),
        "links": [
            {"rel": "self", "type": "application/json", "href": format!("{base}/plans/{id}?f=json")},
            {"rel": "alternate", "type": "text/html", "href": format!("{base}/plans/{id}?f=html")},
            {"rel": "item", "type": "application/geo+json", "title": "Geltungsbereich", "href": format!("{base}/collections/bebauungsplaene/items/{id}?f=json")},
            {"rel": "related", "type": "application/json", "title": "Unterlagen", "href": format!("{base}/plans/{id}/dokumente?f=json")},
            {"rel": "related", "type": "text/html", "title": "Karte", "href": map_href(&base, &facts, &objects)},
        ],
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        json.to_string(),
    )
        .into_response())
}

/// The plan's own columns.
#[derive(Debug)]
struct Facts {
    name: String,
    nummer: Option<String>,
    planart: Option<String>,
    planart_text: Option<String>,
    rechtsstand: Option<String>,
    rechtsstand_text: Option<String>,
    gemeinde: Option<String>,
    ags: Option<String>,
    ortsteil: Option<String>,
    dates: Vec<Option<String>>,
    beschreibung: Option<String>,
    xplan_version: String,
    quelle: String,
    area_m2: Option<f64>,
    bbox: Option<[f64; 4]>,
}

impl Facts {
    fn of(r: &stadtkarte_core::tokio_postgres::Row) -> Self {
        let bbox = match (
            r.get::<_, Option<f64>>(20),
            r.get::<_, Option<f64>>(21),
            r.get::<_, Option<f64>>(22),
            r.get::<_, Option<f64>>(23),
        ) {
            (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
            _ => None,
        };
        Self {
            name: r.get(1),
            nummer: r.get(2),
            planart: r.get(3),
            planart_text: r.get(4),
            rechtsstand: r.get(5),
            rechtsstand_text: r.get(6),
            gemeinde: r.get(7),
            ags: r.get(8),
            ortsteil: r.get(9),
            dates: (10..16).map(|i| r.get(i)).collect(),
            beschreibung: r.get(16),
            xplan_version: r.get(17),
            quelle: r.get(18),
            area_m2: r.get(19),
            bbox,
        }
    }
}

/// The map at the plan with every plan layer it has shown.
fn map_href(base: &str, facts: &Facts, objects: &[Objects]) -> String {
    let mut layers = vec!["bebauungsplaene".to_owned()];
    layers.extend(
        objects
            .iter()
            .map(|o| o.collection.clone())
            .filter(|c| c != "bebauungsplaene"),
    );
    let view = facts.bbox.map_or_else(String::new, |[w, s, e, n]| {
        let zoom = zoom_for(e - w, n - s);
        format!(
            "karte={zoom}/{:.5}/{:.5}&",
            f64::midpoint(s, n),
            f64::midpoint(w, e)
        )
    });
    format!("{base}/map#{view}grund=karte&ebenen={}", layers.join(","))
}

/// A zoom level at which a box of `dlon` × `dlat` degrees fits a window of about 800 pixels.
fn zoom_for(dlon: f64, dlat: f64) -> u8 {
    let span = dlon.max(dlat * 1.6).max(1e-6);
    let zoom = (800.0 * 360.0 / 256.0 / span).log2().floor();
    // Between the city and a house.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let zoom = zoom.clamp(12.0, 19.0) as u8;
    zoom
}

/// A number for people: "0,4" in German, "0.4" in English.
fn decimal(lang: Lang, value: f64) -> String {
    let text = format!("{value}");
    match lang {
        Lang::De => text.replace('.', ","),
        Lang::En => text,
    }
}

/// An area for people: m² below one hectare, else hectares.
fn area(lang: Lang, m2: f64) -> String {
    if m2 < 10_000.0 {
        format!("{} m²", decimal(lang, m2.round()))
    } else {
        format!("{} ha", decimal(lang, (m2 / 100.0).round() / 100.0))
    }
}

/// A date for people: "01.02.2020" in German, "2020-02-01" in English.
fn date(lang: Lang, iso: &str) -> String {
    match (lang, iso.split('-').collect::<Vec<_>>().as_slice()) {
        (Lang::De, [y, m, d]) => format!("{d}.{m}.{y}"),
        _ => iso.to_owned(),
    }
}

#[allow(clippy::too_many_arguments)]
fn page_of(
    state: &AppState,
    cx: &PageContext,
    plan: &str,
    facts: &Facts,
    zones: &[Zone],
    documents: &[Document],
    scan: Option<&ScanPlacement>,
    objects: &[Objects],
    base: &str,
) -> Result<Response, Problem> {
    let lang = cx.lang;
    let id = encode(plan);
    let mut rows: Vec<html::Property> = Vec::new();
    let mut row = |key: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            rows.push(html::Property {
                label: lang.tr(key).to_owned(),
                value,
            });
        }
    };
    row("plan.nummer", facts.nummer.clone());
    row(
        "plan.planart",
        facts.planart_text.clone().or_else(|| facts.planart.clone()),
    );
    row(
        "plan.rechtsstand",
        facts
            .rechtsstand_text
            .clone()
            .or_else(|| facts.rechtsstand.clone()),
    );
    row(
        "plan.gemeinde",
        facts.gemeinde.as_ref().map(|g| match &facts.ortsteil {
            Some(o) if !o.is_empty() => format!("{g} ({o})"),
            _ => g.clone(),
        }),
    );
    row("plan.ags", facts.ags.clone());
    row("plan.flaeche", facts.area_m2.map(|a| area(lang, a)));
    for (key, value) in [
        "plan.aufstellungsbeschluss",
        "plan.satzungsbeschluss",
        "plan.rechtsverordnung",
        "plan.ausfertigung",
        "plan.inkrafttreten",
        "plan.techn_herstellung",
    ]
    .iter()
    .zip(&facts.dates)
    {
        row(key, value.as_deref().map(|d| date(lang, d)));
    }
    row("plan.beschreibung", facts.beschreibung.clone());
    row(
        "plan.quelle",
        Some(format!(
            "{} (XPlanGML {})",
            facts.quelle, facts.xplan_version
        )),
    );
    let zones = zones
        .iter()
        .map(|z| html::PlanZone {
            kind: z.kind(),
            grz: z.grz.map(|v| decimal(lang, v)).unwrap_or_default(),
            gfz: z.gfz.map(|v| decimal(lang, v)).unwrap_or_default(),
            storeys: z.storeys(),
            bauweise: z
                .bauweise_text
                .clone()
                .or_else(|| z.bauweise.clone())
                .unwrap_or_default(),
            area: area(lang, z.area_m2),
        })
        .collect();
    let documents = documents
        .iter()
        .map(|d| html::PlanDocument {
            href: format!("{base}/plans/{id}/dokumente/{}", encode(&d.file)),
            georef: d
                .georef
                .as_ref()
                .map(|g| format!("{base}/plans/{id}/dokumente/{}", encode(g))),
            kind: d.kind.clone(),
            name: d.name.clone().unwrap_or_default(),
            media_type: d.media_type.clone(),
            size: crate::plans::human_size(d.bytes, cx),
            bytes: d.bytes,
            file: d.file.clone(),
        })
        .collect();
    let title = format!("{}: {}", lang.tr("plan.title"), facts.name);
    let page = cx
        .page(&state.config, title)
        .crumb(lang.tr("ogc.crumb_start"), "/")
        .crumb(lang.tr("layout.nav_map"), "/map")
        .stylesheet(stadtkarte_mapviewer::plan_stylesheet_url())
        .script(stadtkarte_mapviewer::plan_script_url());
    page::html(&html::PlanPage {
        page,
        rows,
        zones,
        documents,
        objects: objects
            .iter()
            .map(|o| {
                html::Link::new(
                    format!("{} ({})", o.title, o.count),
                    o.page_href.clone(),
                    "text/html",
                )
            })
            .collect(),
        has_scan: scan.is_some(),
        json_href: format!("{base}/plans/{id}?f=json"),
        map_href: map_href(base, facts, objects),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_png_header_gives_the_size() {
        let mut head = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        head.extend(748u32.to_be_bytes());
        head.extend(878u32.to_be_bytes());
        assert_eq!(png_size(&head), Some((748, 878)));
        assert_eq!(png_size(b"GIF89a"), None);
    }

    #[test]
    fn a_world_file_places_the_pixel_edges() {
        let w = world_file("2\n0\n0\n-2\n100\n200\n").expect("six numbers");
        // Upper-left pixel centre at (100, 200), two units a pixel: the image's edge lies one
        // unit up and left of it.
        assert_eq!(
            corners_of(w, 10, 5),
            [[99.0, 201.0], [119.0, 201.0], [119.0, 191.0], [99.0, 191.0]]
        );
        assert!(world_file("1\n2\n3").is_none());
        assert!(world_file("a\nb\nc\nd\ne\nf").is_none());
    }

    #[test]
    fn identifiers_are_encoded_for_addresses() {
        assert_eq!(encode("GML_1a-2"), "GML_1a-2");
        assert_eq!(encode("plan_id = 'x'"), "plan_id%20%3D%20%27x%27");
    }
}
