//! This crate's part of the OpenAPI document (merged into `/api` by the binary): the open-data
//! pages, downloads, bulk ZIPs, the DCAT-AP.de catalog and the CKAN API subset.

use serde_json::{Map, Value, json};

fn errors(mut r: Value) -> Value {
    for (code, name) in [
        ("400", "BadRequest"),
        ("404", "NotFound"),
        ("406", "NotAcceptable"),
        ("503", "ServiceUnavailable"),
    ] {
        r[code] = json!({"$ref": format!("#/components/responses/{name}")});
    }
    r
}

fn ok(description: &str, media: &[&str]) -> Value {
    let mut content = Map::new();
    for m in media {
        content.insert((*m).to_owned(), json!({"schema": {"type": "string"}}));
    }
    json!({"200": {"description": description, "content": content}})
}

/// The paths of the open-data portal and the CKAN API.
#[must_use]
pub fn paths() -> Map<String, Value> {
    let tag = "Offene Daten";
    let lang = json!({"name": "lang", "in": "query", "required": false, "schema": {"type": "string", "enum": ["de", "en"]}});
    let dataset = json!({"name": "dataset", "in": "path", "required": true, "description": "Id des Datensatzes (oder catalog.ttl, catalog.rdf, catalog.jsonld, alle.FORMAT.zip, stadtkarte.pmtiles)", "schema": {"type": "string"}});
    let file = json!({"name": "file", "in": "path", "required": true,
        "description": "Datei: SAMMLUNG.geojson|csv|gpkg|shp.zip|fgb|kml oder LUFTBILD.tif", "schema": {"type": "string"}});
    let action = json!({"name": "action", "in": "path", "required": true, "description": "CKAN-Aktion",
        "schema": {"type": "string", "enum": ["status_show", "package_list", "package_show", "package_search", "organization_list", "group_list", "help_show"]}});
    let ckan_params = [
        json!({"name": "id", "in": "query", "required": false, "schema": {"type": "string"}}),
        json!({"name": "q", "in": "query", "required": false, "schema": {"type": "string"}}),
        json!({"name": "fq", "in": "query", "required": false, "schema": {"type": "string"}}),
        json!({"name": "rows", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0}}),
        json!({"name": "start", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0}}),
        json!({"name": "sort", "in": "query", "required": false, "schema": {"type": "string"}}),
    ];
    let ckan_response = json!({
        "200": {"description": "CKAN-Antwort (success, result)", "content": {"application/json": {"schema": {"type": "object"}}}},
        "400": {"description": "CKAN-Fehler (success: false)", "content": {"application/json": {"schema": {"type": "object"}}}},
        "404": {"description": "Unbekannte Aktion oder unbekannter Datensatz (success: false)", "content": {"application/json": {"schema": {"type": "object"}}}},
        "503": {"description": "Katalog vorübergehend nicht verfügbar (success: false)", "content": {"application/json": {"schema": {"type": "object"}}}},
    });
    let mut p = Map::new();
    p.insert("/opendata".into(), json!({"get": {"operationId": "getDatasets", "summary": "Alle Datensätze (Liste mit Suche und Filtern)", "tags": [tag],
        "parameters": [lang, {"name": "q", "in": "query", "required": false, "schema": {"type": "string"}},
                       {"name": "format", "in": "query", "required": false, "schema": {"type": "string"}},
                       {"name": "thema", "in": "query", "required": false, "schema": {"type": "string"}},
                       {"name": "lizenz", "in": "query", "required": false, "schema": {"type": "string"}},
                       {"name": "seit", "in": "query", "required": false, "schema": {"type": "string", "format": "date"}},
                       {"name": "page", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1}}],
        "responses": errors(ok("Datensatzliste", &["text/html", "application/json"]))}}));
    p.insert("/opendata/{dataset}".into(), json!({"get": {"operationId": "getDataset", "summary": "Ein Datensatz: Seite, oder der Katalog (DCAT-AP.de), oder eine Sammel-ZIP aller Datensätze, oder die Stadtkarte als PMTiles-Archiv (Vektorkacheln, Byte-Bereiche)", "tags": [tag],
        "parameters": [dataset.clone(), {"name": "lang", "in": "query", "required": false, "schema": {"type": "string", "enum": ["de", "en"]}},
                       {"name": "profile", "in": "query", "required": false, "description": "DCAT-AP.de-Profil des Katalogs", "schema": {"type": "string", "enum": ["2.0", "3.0"]}}],
        "responses": errors(ok("Seite, Katalog, ZIP oder PMTiles", &["text/html", "application/json", "text/turtle", "application/rdf+xml", "application/ld+json", "application/zip", "application/vnd.pmtiles"]))}}));
    p.insert("/opendata/{dataset}/{file}".into(), json!({"get": {"operationId": "getDownload", "summary": "Download einer Sammlung oder eines Luftbilds", "tags": [tag],
        "parameters": [dataset, file],
        "responses": errors(ok("Die Datei", &["application/geo+json", "text/csv", "application/geopackage+sqlite3", "application/zip", "application/flatgeobuf", "application/vnd.google-earth.kml+xml", "image/tiff"]))}}));
    for prefix in ["/api/3/action/{action}", "/api/action/{action}"] {
        let v3 = prefix.contains("/3/");
        let op = |m: &str| format!("{m}Ckan{}", if v3 { "V3" } else { "" });
        let mut params = vec![action.clone()];
        params.extend(ckan_params.iter().cloned());
        p.insert(prefix.into(), json!({
            "get": {"operationId": op("get"), "summary": "CKAN-API (Teilmenge)", "tags": ["CKAN"], "parameters": params, "responses": ckan_response.clone()},
            "post": {"operationId": op("post"), "summary": "CKAN-API (Teilmenge), Parameter als JSON", "tags": ["CKAN"], "parameters": [action.clone()],
                     "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object"}}}},
                     "responses": ckan_response.clone()},
        }));
    }
    p
}
