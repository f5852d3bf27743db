//! The OpenAPI 3.0 document, generated from the catalog: every collection gets its own paths,
//! so that its queryables appear as declared query parameters (GDAL and other clients read
//! them from here), and every parameter has its exact schema (limit with minimum, default and
//! maximum; bbox with 4 to 6 numbers). The other public APIs — tiles, imagery, WMTS, open
//! data, CKAN — come from their crates (`more`); plan documents, POST items and the
//! operational endpoints are described here.

use axum::response::Response;
use serde_json::{Value, json};
use stadtkarte_core::page::{self, PageContext};
use stadtkarte_core::{Config, Problem};

use crate::html;
use stadtkarte_core::crs;
use stadtkarte_core::schema::{CollectionSchema, PropType};

fn f_param(values: &[&str]) -> Value {
    json!({"name": "f", "in": "query", "required": false, "style": "form", "explode": false,
           "description": "Ausgabeformat; hat Vorrang vor dem Accept-Header.",
           "schema": {"type": "string", "enum": values}})
}

fn crs_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "style": "form", "explode": false,
           "description": description,
           "schema": {"type": "string", "format": "uri", "enum": crs::uris()}})
}

fn problem_responses() -> Value {
    json!({
        "400": {"$ref": "#/components/responses/BadRequest"},
        "404": {"$ref": "#/components/responses/NotFound"},
        "406": {"$ref": "#/components/responses/NotAcceptable"},
        "500": {"$ref": "#/components/responses/ServerError"},
        "503": {"$ref": "#/components/responses/ServiceUnavailable"},
    })
}

fn ok(description: &str, content: &[(&str, Value)]) -> Value {
    let mut c = serde_json::Map::new();
    for (media, schema) in content {
        c.insert((*media).to_owned(), json!({"schema": schema}));
    }
    json!({"description": description, "content": c})
}

fn with_errors(success: Value) -> Value {
    let mut r = problem_responses();
    r["200"] = success;
    r
}

fn type_schema(kind: PropType) -> Value {
    match kind {
        PropType::Integer => json!({"type": "integer"}),
        PropType::Number => json!({"type": "number"}),
        PropType::Boolean => json!({"type": "boolean"}),
        PropType::Date => json!({"type": "string", "format": "date"}),
        PropType::DateTime => json!({"type": "string", "format": "date-time"}),
        _ => json!({"type": "string"}),
    }
}

fn lang_param() -> Value {
    json!({"$ref": "#/components/parameters/lang"})
}

/// The document.
#[must_use]
pub fn document(
    config: &Config,
    base: &str,
    collections: &[CollectionSchema],
    more: &serde_json::Map<String, Value>,
) -> Value {
    let limits = &config.features;
    let mut paths = serde_json::Map::new();
    let json_or_html = [
        ("application/json", json!({"type": "object"})),
        ("text/html", json!({"type": "string"})),
    ];
    paths.insert("/".into(), json!({"get": {
        "operationId": "getLandingPage", "summary": "Landing Page; für Browser die Startseite", "tags": ["Allgemein"],
        "parameters": [f_param(&["json", "html"]), lang_param()],
        "responses": with_errors(ok("Landing Page mit Links zu API, Konformität und Daten (JSON) oder die Startseite für Menschen (HTML)", &json_or_html))}}));
    paths.insert("/entwickler".into(), json!({"get": {
        "operationId": "getDevelopersPage", "summary": "Die Landing Page als HTML: Sammlungen, Schnittstellen, Betrieb", "tags": ["Allgemein"],
        "parameters": [lang_param()],
        "responses": with_errors(ok("Seite für Entwickler", &[("text/html", json!({"type": "string"}))]))}}));
    paths.insert("/conformance".into(), json!({"get": {
        "operationId": "getConformance", "summary": "Erfüllte Konformitätsklassen", "tags": ["Allgemein"],
        "parameters": [f_param(&["json", "html"]), lang_param()],
        "responses": with_errors(ok("Liste der Konformitätsklassen", &json_or_html))}}));
    paths.insert("/api".into(), json!({"get": {
        "operationId": "getApiDefinition", "summary": "Diese API-Beschreibung", "tags": ["Allgemein"],
        "parameters": [f_param(&["json", "html"]), lang_param()],
        "responses": with_errors(ok("OpenAPI 3.0", &[("application/vnd.oai.openapi+json;version=3.0", json!({"type": "object"})), ("text/html", json!({"type": "string"}))]))}}));
    paths.insert(
        "/collections".into(),
        json!({"get": {
        "operationId": "getCollections", "summary": "Alle Datensammlungen", "tags": ["Daten"],
        "parameters": [f_param(&["json", "html"]), lang_param()],
        "responses": with_errors(ok("Die Sammlungen", &json_or_html))}}),
    );
    let features_content = [
        (
            "application/geo+json",
            json!({"$ref": "#/components/schemas/FeatureCollection"}),
        ),
        ("text/html", json!({"type": "string"})),
        ("text/csv", json!({"type": "string"})),
    ];
    paths.insert("/health".into(), json!({"get": {
        "operationId": "getHealth", "summary": "Der Prozess lebt", "tags": ["Betrieb"],
        "responses": {"200": {"description": "alive", "content": {"application/json": {"schema": {"type": "object"}}}}}}}));
    paths.insert("/ready".into(), json!({"get": {
        "operationId": "getReady", "summary": "Bereit: Datenbank erreichbar, Schema migriert, Luftbildordner lesbar", "tags": ["Betrieb"],
        "responses": {"200": {"description": "ready", "content": {"application/json": {"schema": {"type": "object"}}}},
                      "503": {"$ref": "#/components/responses/ServiceUnavailable"}}}}));
    paths.insert("/metrics".into(), json!({"get": {
        "operationId": "getMetrics", "summary": "Prometheus-Metriken", "tags": ["Betrieb"],
        "responses": {"200": {"description": "Metriken", "content": {"text/plain": {"schema": {"type": "string"}}}}}}}));
    let plan = json!({"name": "plan", "in": "path", "required": true, "description": "Id (gml:id) oder Nummer des Bebauungsplans", "schema": {"type": "string"}});
    paths.insert("/plans/{plan}".into(), json!({"get": {
        "operationId": "getPlan", "summary": "Ein Bebauungsplan: Angaben, Baugebiete, Unterlagen, Lage des Planscans (WGS 84), Planinhalte in der OGC API", "tags": ["Bebauungspläne"],
        "parameters": [plan, f_param(&["json", "html"]), lang_param()],
        "responses": with_errors(ok("Der Plan", &json_or_html))}}));
    paths.insert("/plans/{plan}/dokumente".into(), json!({"get": {
        "operationId": "getPlanDocuments", "summary": "Unterlagen eines Bebauungsplans", "tags": ["Bebauungspläne"],
        "parameters": [plan, f_param(&["json", "html"]), lang_param()],
        "responses": with_errors(ok("Liste der Unterlagen", &json_or_html))}}));
    paths.insert("/plans/{plan}/dokumente/{file}".into(), json!({"get": {
        "operationId": "getPlanDocument", "summary": "Eine Unterlage (PDF, Scan, …)", "tags": ["Bebauungspläne"],
        "parameters": [plan, {"name": "file", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": with_errors(ok("Die Datei", &[("application/pdf", json!({"type": "string", "format": "binary"})), ("image/tiff", json!({"type": "string", "format": "binary"})), ("image/png", json!({"type": "string", "format": "binary"}))]))}}));
    for (path, item) in more {
        paths.insert(path.clone(), item.clone());
    }
    for schema in collections {
        let c = &schema.collection;
        let id = &c.id;
        let op = id.replace('-', "_");
        paths.insert(format!("/collections/{id}"), json!({"get": {
            "operationId": format!("describeCollection_{op}"), "summary": format!("Sammlung „{}“", c.title), "tags": [c.title],
            "parameters": [f_param(&["json", "html"]), lang_param()],
            "responses": with_errors(ok("Beschreibung der Sammlung", &json_or_html))}}));
        paths.insert(format!("/collections/{id}/queryables"), json!({"get": {
            "operationId": format!("getQueryables_{op}"), "summary": "Abfragbare Eigenschaften (JSON Schema)", "tags": [c.title],
            "parameters": [f_param(&["json", "html"]), lang_param()],
            "responses": with_errors(ok("JSON Schema der abfragbaren Eigenschaften", &[("application/schema+json", json!({"type": "object"})), ("text/html", json!({"type": "string"}))]))}}));
        let mut params = vec![
            json!({"$ref": "#/components/parameters/limit"}),
            json!({"$ref": "#/components/parameters/bbox"}),
            json!({"$ref": "#/components/parameters/bbox-crs"}),
            json!({"$ref": "#/components/parameters/crs"}),
            json!({"$ref": "#/components/parameters/datetime"}),
            json!({"$ref": "#/components/parameters/properties"}),
            json!({"$ref": "#/components/parameters/sortby"}),
            json!({"$ref": "#/components/parameters/filter"}),
            json!({"$ref": "#/components/parameters/filter-lang"}),
            json!({"$ref": "#/components/parameters/filter-crs"}),
            json!({"$ref": "#/components/parameters/cursor"}),
            f_param(&["json", "html", "csv"]),
            lang_param(),
        ];
        let mut queryable_names = vec![(c.id_column.clone(), schema.id_kind)];
        queryable_names.extend(
            schema
                .properties
                .iter()
                .filter(|p| p.kind != PropType::Other)
                .map(|p| (p.name.clone(), p.kind)),
        );
        // A queryable named like a standard parameter is filtered with CQL2 only.
        queryable_names.retain(|(name, _)| !crate::params::STANDARD.contains(&name.as_str()));
        for (name, kind) in queryable_names {
            params.push(json!({"name": name, "in": "query", "required": false, "style": "form", "explode": false,
                "description": format!("Nur Objekte, deren {name} gleich diesem Wert ist."), "schema": type_schema(kind)}));
        }
        paths.insert(format!("/collections/{id}/items"), json!({"get": {
            "operationId": format!("getFeatures_{op}"), "summary": format!("Objekte der Sammlung „{}“", c.title), "tags": [c.title],
            "parameters": params,
            "responses": with_errors(ok("Eine Seite mit Objekten; weitere über den Link rel=next", &features_content))},
            "post": {
            "operationId": format!("searchFeatures_{op}"), "summary": "Objekte mit einem CQL2-JSON-Filter im Rumpf", "tags": [c.title],
            "parameters": [{"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/crs"}, f_param(&["json", "html", "csv"])],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}, "application/query-cql-json": {"schema": {"type": "object"}}}},
            "responses": {
                "200": ok("Eine Seite mit Objekten", &features_content),
                "400": {"$ref": "#/components/responses/BadRequest"}, "404": {"$ref": "#/components/responses/NotFound"},
                "406": {"$ref": "#/components/responses/NotAcceptable"}, "413": {"$ref": "#/components/responses/TooLarge"},
                "415": {"$ref": "#/components/responses/BadRequest"}, "503": {"$ref": "#/components/responses/ServiceUnavailable"}}}}));
        paths.insert(format!("/collections/{id}/items/{{featureId}}"), json!({"get": {
            "operationId": format!("getFeature_{op}"), "summary": "Ein Objekt", "tags": [c.title],
            "parameters": [
                {"name": "featureId", "in": "path", "required": true, "schema": {"type": "string"}},
                {"$ref": "#/components/parameters/crs"},
                f_param(&["json", "html"]),
                lang_param(),
            ],
            "responses": with_errors(ok("Das Objekt", &[("application/geo+json", json!({"$ref": "#/components/schemas/Feature"})), ("text/html", json!({"type": "string"}))]))}}));
    }
    let problem =
        json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": format!("Stadtkarte {} – OGC API", config.city.name),
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!("Offene Geodaten der Stadt {}: OGC API Features (Teile 1, 2 und 3 mit CQL2) und Tiles, Vektorkacheln (XYZ, TileJSON), Luftbilder (XYZ, WMTS), Bebauungspläne, offene Daten (Downloads, DCAT-AP.de, CKAN-API).", config.city.name),
            "license": {"name": config.city.license},
        },
        "servers": [{"url": base}],
        "paths": paths,
        "components": {
            "parameters": {
                "limit": {"name": "limit", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": format!("Objekte pro Seite; größere Werte werden auf {} gekürzt.", limits.max_limit),
                    "schema": {"type": "integer", "minimum": 1, "maximum": limits.max_limit, "default": limits.default_limit}},
                "bbox": {"name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "Nur Objekte, die dieses Rechteck schneiden: min x, min y, max x, max y (oder 6 Zahlen mit Höhe), im bbox-crs (Standard CRS84).",
                    "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
                "bbox-crs": crs_param("bbox-crs", "Koordinatenreferenzsystem von bbox."),
                "crs": crs_param("crs", "Koordinatenreferenzsystem der Antwort."),
                "datetime": {"name": "datetime", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "Zeitpunkt oder Zeitraum (RFC 3339), z. B. 2020-01-01, 2020-01-01/2020-12-31, ../2020-12-31.",
                    "schema": {"type": "string"}},
                "properties": {"name": "properties", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "Nur diese Eigenschaften ausgeben (durch Komma getrennt).",
                    "schema": {"type": "array", "items": {"type": "string"}}},
                "sortby": {"name": "sortby", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "Sortierung, z. B. +name,-geschosse.",
                    "schema": {"type": "array", "items": {"type": "string", "pattern": "^[+-]?[A-Za-z_][A-Za-z0-9_]*$"}}},
                "filter": {"name": "filter", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "CQL2-Filter (Text oder JSON, siehe filter-lang).", "schema": {"type": "string"}},
                "filter-lang": {"name": "filter-lang", "in": "query", "required": false, "style": "form", "explode": false,
                    "schema": {"type": "string", "enum": ["cql2-text", "cql2-json"], "default": "cql2-text"}},
                "filter-crs": crs_param("filter-crs", "Koordinatenreferenzsystem der Geometrien im Filter."),
                "lang": {"name": "lang", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "Sprache der HTML-Seite (sonst Cookie lang, dann Accept-Language, dann Deutsch).",
                    "schema": {"type": "string", "enum": ["de", "en"]}},
                "cursor": {"name": "cursor", "in": "query", "required": false, "style": "form", "explode": false,
                    "description": "Position in der Ergebnismenge; steht in den Links rel=next und rel=prev.",
                    "schema": {"type": "string"}},
            },
            "schemas": {
                "Problem": {"type": "object", "required": ["type", "title", "status"], "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"}}},
                "Feature": {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
                    "type": {"type": "string", "enum": ["Feature"]}, "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                    "geometry": {"type": "object", "nullable": true}, "properties": {"type": "object", "nullable": true},
                    "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}}},
                "FeatureCollection": {"type": "object", "required": ["type", "features"], "properties": {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {"type": "array", "items": {"$ref": "#/components/schemas/Feature"}},
                    "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}},
                    "timeStamp": {"type": "string", "format": "date-time"},
                    "numberMatched": {"type": "integer", "minimum": 0}, "numberReturned": {"type": "integer", "minimum": 0}}},
                "Link": {"type": "object", "required": ["href"], "properties": {
                    "href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"}, "title": {"type": "string"}}},
            },
            "responses": {
                "BadRequest": {"description": "Ungültige Anfrage", "content": problem},
                "NotFound": {"description": "Nicht gefunden", "content": problem},
                "NotAcceptable": {"description": "Format nicht verfügbar", "content": problem},
                "ServerError": {"description": "Interner Fehler", "content": problem},
                "ServiceUnavailable": {"description": "Vorübergehend nicht verfügbar (Datenbank weg oder Server ausgelastet); Retry-After sagt, wann wieder", "content": problem,
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
                "TooLarge": {"description": "Anfrage zu groß", "content": problem},
            },
        },
    })
}

/// A readable page of the document: every path with its parameters.
pub fn html(config: &Config, cx: &PageContext, doc: &Value) -> Result<Response, Problem> {
    let params = &doc["components"]["parameters"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let operations = doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(path, item)| {
            let op = &item["get"];
            let parameters = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let p = p["$ref"]
                        .as_str()
                        .and_then(|r| r.rsplit('/').next())
                        .map_or(p, |n| &params[n]);
                    html::Parameter {
                        name: text(&p["name"]),
                        schema: p["schema"].to_string(),
                        description: text(&p["description"]),
                    }
                })
                .collect();
            html::Operation {
                path: path.clone(),
                summary: text(&op["summary"]),
                parameters,
            }
        })
        .collect();
    page::html(&html::Api {
        page: html::api_page(cx, config, cx.lang.tr("ogc.api.title")),
        operations,
    })
}
