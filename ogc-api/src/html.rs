//! The HTML pages of the API, one askama template each (`ogc-api/templates/`), all in the base
//! layout of `core` (skip link, navigation, language switch, footer). Plain, readable,
//! accessible, German or English, without scripts. The handlers fill these structs; the
//! templates escape every value.

use std::sync::Arc;

use askama::Template;
use stadtkarte_core::config::Config;
use stadtkarte_core::districts::Districts;
use stadtkarte_core::page::{Page, PageContext};

/// The frame of a page of the API: its trail starts at the start page and the developers'
/// page.
pub fn api_page(cx: &PageContext, config: &Config, title: impl Into<String>) -> Page {
    cx.page(config, title)
        .crumb(cx.lang.tr("ogc.crumb_start"), "/")
        .crumb(cx.lang.tr("landing.developers"), "/entwickler")
}

/// A link with its media type, as the lists of links on the pages show them.
#[derive(Debug)]
pub struct Link {
    /// What it says.
    pub label: String,
    /// Where it leads.
    pub href: String,
    /// The media type of what it leads to.
    pub media: String,
}

impl Link {
    /// A link.
    pub fn new(
        label: impl Into<String>,
        href: impl Into<String>,
        media: impl Into<String>,
    ) -> Self {
        Self {
            label: label.into(),
            href: href.into(),
            media: media.into(),
        }
    }
}

/// `GET /` for people: the start page.
#[derive(Debug, Template)]
#[template(path = "start.html")]
pub struct Start {
    pub page: Page,
    pub city: String,
    /// The districts for the preview of the map (none while they cannot be read).
    pub preview: Option<Arc<Districts>>,
}

/// A collection on the developers' page.
#[derive(Debug)]
pub struct LandingCollection {
    pub id: String,
    pub title: String,
    /// "12 Objekte".
    pub amount: String,
}

/// `GET /entwickler`: the landing page of the OGC API as HTML.
#[derive(Debug, Template)]
#[template(path = "landing.html")]
pub struct Landing {
    pub page: Page,
    pub base: String,
    pub city: String,
    pub collections: Vec<LandingCollection>,
    pub links: Vec<Link>,
}

/// `GET /conformance`
#[derive(Debug, Template)]
#[template(path = "conformance.html")]
pub struct Conformance {
    pub page: Page,
    pub classes: Vec<&'static str>,
}

/// A row of `/collections`.
#[derive(Debug)]
pub struct CollectionRow {
    pub id: String,
    pub title: String,
    pub description: String,
    /// The number of features, or that it is an aerial image.
    pub amount: String,
    pub license: String,
}

/// `GET /collections`
#[derive(Debug, Template)]
#[template(path = "collections.html")]
pub struct Collections {
    pub page: Page,
    pub base: String,
    pub rows: Vec<CollectionRow>,
}

/// `GET /collections/{id}` of a feature collection.
#[derive(Debug, Template)]
#[template(path = "collection.html")]
pub struct Collection {
    pub page: Page,
    pub description: String,
    pub features: i64,
    pub updated: String,
    pub license: String,
    pub attribution: String,
    /// The extent in WGS 84, as text.
    pub extent: Option<String>,
    pub links: Vec<Link>,
}

/// An epoch listed on the page of the imagery series.
#[derive(Debug)]
pub struct Epoch {
    pub href: String,
    pub title: String,
    pub year: String,
}

/// `GET /collections/{id}` of an imagery epoch or the series.
#[derive(Debug, Template)]
#[template(path = "imagery_collection.html")]
pub struct ImageryCollection {
    pub page: Page,
    pub description: String,
    pub attribution: String,
    pub epochs: Vec<Epoch>,
    pub links: Vec<Link>,
}

/// A row of the queryables.
#[derive(Debug)]
pub struct Queryable {
    pub name: String,
    pub title: String,
    pub kind: String,
}

/// `GET /collections/{id}/queryables`
#[derive(Debug, Template)]
#[template(path = "queryables.html")]
pub struct Queryables {
    pub page: Page,
    pub rows: Vec<Queryable>,
    pub json_href: String,
}

/// A shape of the small map of an items page, in Web Mercator with y pointing down.
#[derive(Debug)]
pub enum Shape {
    /// A point.
    Point { x: f64, y: f64 },
    /// SVG path data of a line or polygon (PostGIS `ST_AsSVG`: only numbers and commands).
    Path { d: String },
}

/// The small map of an items or item page (`feature_map.html`).
#[derive(Debug)]
pub struct FeatureMap {
    /// What the map shows, for screen readers.
    pub label: String,
    /// `min-x min-y width height`.
    pub view_box: String,
    /// Height in pixels at a width of 640.
    pub height: f64,
    pub shapes: Vec<Shape>,
}

/// A feature in the table of an items page.
#[derive(Debug)]
pub struct ItemRow {
    pub id: String,
    pub href: String,
    pub values: Vec<String>,
}

/// `GET /collections/{id}/items?f=html`
#[derive(Debug, Template)]
#[template(path = "items.html")]
pub struct Items {
    pub page: Page,
    pub returned: usize,
    pub matched: Option<i64>,
    pub license: String,
    pub attribution: String,
    pub map: Option<FeatureMap>,
    pub prev_href: Option<String>,
    pub next_href: Option<String>,
    /// The titles of the columns.
    pub columns: Vec<String>,
    pub rows: Vec<ItemRow>,
    pub json_href: String,
    pub csv_href: String,
}

/// A property of a feature.
#[derive(Debug)]
pub struct Property {
    pub label: String,
    pub value: String,
}

/// `GET /collections/{id}/items/{featureId}?f=html`
#[derive(Debug, Template)]
#[template(path = "item.html")]
pub struct Item {
    pub page: Page,
    pub rows: Vec<Property>,
    pub map: Option<FeatureMap>,
    pub json_href: String,
    pub license: String,
    pub attribution: String,
}

/// A parameter of an operation on the API page.
#[derive(Debug)]
pub struct Parameter {
    pub name: String,
    pub schema: String,
    pub description: String,
}

/// An operation on the API page.
#[derive(Debug)]
pub struct Operation {
    pub path: String,
    pub summary: String,
    pub parameters: Vec<Parameter>,
}

/// `GET /api?f=html`
#[derive(Debug, Template)]
#[template(path = "api.html")]
pub struct Api {
    pub page: Page,
    pub operations: Vec<Operation>,
}

/// A document of a development plan.
#[derive(Debug)]
pub struct PlanDocument {
    pub file: String,
    pub href: String,
    pub kind: String,
    pub name: String,
    pub media_type: String,
    pub bytes: i64,
    /// The size for people ("1,2 MB").
    pub size: String,
    /// The world file of a scan.
    pub georef: Option<String>,
}

/// `GET /plans/{plan}/dokumente?f=html`
#[derive(Debug, Template)]
#[template(path = "plan_documents.html")]
pub struct PlanDocuments {
    pub page: Page,
    pub documents: Vec<PlanDocument>,
    pub json_href: String,
}

/// A zoning area in the table of a plan's page.
#[derive(Debug)]
pub struct PlanZone {
    /// "Allgemeines Wohngebiet (WA)".
    pub kind: String,
    pub grz: String,
    pub gfz: String,
    pub storeys: String,
    pub bauweise: String,
    pub area: String,
}

/// `GET /plans/{plan}?f=html`: a plan's facts, zoning, documents and a small map (drawn by the
/// map bundle's `plan.js` from the plan's JSON; without scripts the page is complete but for
/// the map).
#[derive(Debug, Template)]
#[template(path = "plan.html")]
pub struct PlanPage {
    pub page: Page,
    pub rows: Vec<Property>,
    pub zones: Vec<PlanZone>,
    pub documents: Vec<PlanDocument>,
    /// The plan's objects in the OGC API, by collection.
    pub objects: Vec<Link>,
    pub has_scan: bool,
    pub json_href: String,
    pub map_href: String,
}

/// Shapes from the `ST_AsSVG` output of one feature: circles for points (`cx="…" cy="…"`, a
/// multipoint gives several), a path for anything else.
#[must_use]
pub fn shapes_of_svg(svg: &str) -> Vec<Shape> {
    if !svg.starts_with("cx=") {
        return vec![Shape::Path { d: svg.to_owned() }];
    }
    let number = |text: &str, attr: &str| -> Option<f64> {
        let rest = text.split(attr).nth(1)?;
        rest.split('"').next()?.parse().ok()
    };
    svg.split(',')
        .filter_map(|point| {
            Some(Shape::Point {
                x: number(point, "cx=\"")?,
                y: number(point, "cy=\"")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_of_points_and_shapes() {
        let points = shapes_of_svg("cx=\"1.5\" cy=\"-2\",cx=\"3\" cy=\"-4\"");
        assert_eq!(points.len(), 2);
        assert!(matches!(
            points[1],
            Shape::Point { x, y } if (x - 3.0).abs() < 1e-9 && (y + 4.0).abs() < 1e-9
        ));
        assert!(matches!(
            &shapes_of_svg("M 1 -2 L 3 -4 Z")[0],
            Shape::Path { d } if d == "M 1 -2 L 3 -4 Z"
        ));
    }
}
