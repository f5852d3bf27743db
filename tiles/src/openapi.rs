//! This crate's part of the OpenAPI document (merged into `/api` by the binary): vector tiles
//! (XYZ, TileJSON, OGC API Tiles), tile matrix sets, aerial imagery (XYZ, TileJSON, OGC API map
//! tiles) and WMTS.

use serde_json::{Map, Value, json};

fn path_param(name: &str, description: &str, schema: &Value) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
}

fn text() -> Value {
    json!({"type": "string"})
}

fn int() -> Value {
    json!({"type": "integer", "minimum": 0})
}

fn responses(success: &str, media: &[&str]) -> Value {
    let mut content = Map::new();
    for m in media {
        content.insert((*m).to_owned(), json!({"schema": {"type": "string"}}));
    }
    json!({
        "200": {"description": success, "content": content},
        "304": {"description": "Unverändert (If-None-Match)"},
        "400": {"$ref": "#/components/responses/BadRequest"},
        "404": {"$ref": "#/components/responses/NotFound"},
        "406": {"$ref": "#/components/responses/NotAcceptable"},
        "503": {"$ref": "#/components/responses/ServiceUnavailable"},
    })
}

fn get(
    op: &str,
    summary: &str,
    tag: &str,
    params: &[Value],
    success: &str,
    media: &[&str],
) -> Value {
    json!({"get": {"operationId": op, "summary": summary, "tags": [tag], "parameters": params,
                   "responses": responses(success, media)}})
}

/// The paths of vector tiles, imagery and WMTS.
#[must_use]
pub fn paths() -> Map<String, Value> {
    const MVT: &str = "application/vnd.mapbox-vector-tile";
    const JSON: &str = "application/json";
    let tiles = "Vektorkacheln";
    let imagery = "Luftbilder";
    let collections = path_param(
        "collections",
        "Eine Sammlung oder mehrere, durch Komma getrennt (je eine MVT-Ebene); oder ein Kachelmatrixsatz (WebMercatorQuad, AdV_EPSG_25832) für die Kacheln aller Sammlungen (OGC API Tiles, Zeile/Spalte)",
        &text(),
    );
    let collection = path_param("collectionId", "Id der Sammlung", &text());
    let tms = path_param(
        "tileMatrixSetId",
        "Kachelmatrixsatz",
        &json!({"type": "string", "enum": ["WebMercatorQuad", "AdV_EPSG_25832"]}),
    );
    let z = path_param("z", "Zoomstufe", &int());
    let x = path_param("x", "Spalte", &int());
    let y = path_param("y", "Zeile", &int());
    let matrix = path_param("tileMatrix", "Zoomstufe (Kachelmatrix)", &int());
    let row = path_param("tileRow", "Zeile", &int());
    let col = path_param("tileCol", "Spalte", &int());
    let filter = json!({"name": "filter", "in": "query", "required": false,
        "description": "CQL2-Textfilter für die Objekte der Kachel", "schema": {"type": "string"}});
    let epoch = path_param(
        "epoch",
        "Id des Luftbilds (z. B. luftbild-2023) oder sein Jahr",
        &text(),
    );
    let part = json!({"name": "teil", "in": "query", "required": false,
        "description": "Nur dieser Teil des Luftbilds (Teile unterschiedlicher Auflösung)", "schema": {"type": "integer", "minimum": 0}});
    let datetime = json!({"name": "datetime", "in": "query", "required": false,
        "description": "Jahr des Luftbilds in der Reihe luftbilder", "schema": {"type": "string"}});
    let mut p = Map::new();
    p.insert(
        "/tileMatrixSets".into(),
        get(
            "getTileMatrixSets",
            "Kachelmatrixsätze",
            tiles,
            &[],
            "Liste",
            &[JSON],
        ),
    );
    p.insert(
        "/tileMatrixSets/{tileMatrixSetId}".into(),
        get(
            "getTileMatrixSet",
            "Ein Kachelmatrixsatz (OGC TMS 2.0)",
            tiles,
            std::slice::from_ref(&tms),
            "Definition",
            &[JSON],
        ),
    );
    p.insert(
        "/tiles".into(),
        get(
            "getDatasetTileSets",
            "Kachelsätze aller Sammlungen",
            tiles,
            &[],
            "Liste",
            &[JSON],
        ),
    );
    p.insert(
        "/tiles/{collections}".into(),
        get(
            "getTileJson",
            "TileJSON 3.0 der Sammlungen",
            tiles,
            std::slice::from_ref(&collections),
            "TileJSON",
            &[JSON],
        ),
    );
    p.insert(
        "/tiles/{collections}/{z}/{x}/{y}".into(),
        get(
            "getXyzTile",
            "Vektorkachel (XYZ, Web Mercator)",
            tiles,
            &[collections, z.clone(), x.clone(), y.clone(), filter.clone()],
            "Kachel (leere Kacheln: 204)",
            &[MVT],
        ),
    );
    p.insert(
        "/collections/{collectionId}/tiles".into(),
        get(
            "getCollectionTileSets",
            "Kachelsätze einer Sammlung",
            tiles,
            std::slice::from_ref(&collection),
            "Liste",
            &[JSON],
        ),
    );
    p.insert(
        "/collections/{collectionId}/tiles/{tileMatrixSetId}".into(),
        get(
            "getCollectionTileSet",
            "Kachelsatz einer Sammlung",
            tiles,
            &[collection.clone(), tms.clone()],
            "Metadaten",
            &[JSON],
        ),
    );
    p.insert(
        "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}"
            .into(),
        get(
            "getCollectionTile",
            "Vektorkachel einer Sammlung (OGC API Tiles)",
            tiles,
            &[
                collection.clone(),
                tms.clone(),
                matrix.clone(),
                row.clone(),
                col.clone(),
                filter,
            ],
            "Kachel",
            &[MVT],
        ),
    );
    p.insert(
        "/imagery".into(),
        get(
            "getImageryEpochs",
            "Alle Luftbilder (Jahrgänge)",
            imagery,
            &[],
            "Liste",
            &[JSON],
        ),
    );
    p.insert(
        "/imagery/{epoch}".into(),
        get(
            "getImageryTileJson",
            "TileJSON eines Luftbilds",
            imagery,
            &[epoch.clone(), part.clone()],
            "TileJSON",
            &[JSON],
        ),
    );
    p.insert(
        "/imagery/{epoch}/{z}/{x}/{y}".into(),
        get(
            "getImageryTile",
            "Luftbildkachel (XYZ, WebP)",
            imagery,
            &[epoch, z, x, y, part],
            "Kachel",
            &["image/webp", "image/jpeg"],
        ),
    );
    p.insert(
        "/collections/{collectionId}/map/tiles".into(),
        get(
            "getMapTileSets",
            "Kartenkachelsätze eines Luftbilds",
            imagery,
            &[collection.clone(), datetime.clone()],
            "Liste",
            &[JSON],
        ),
    );
    p.insert(
        "/collections/{collectionId}/map/tiles/{tileMatrixSetId}".into(),
        get(
            "getMapTileSet",
            "Kartenkachelsatz eines Luftbilds",
            imagery,
            &[collection.clone(), tms.clone(), datetime.clone()],
            "Metadaten",
            &[JSON],
        ),
    );
    p.insert(
        "/collections/{collectionId}/map/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}"
            .into(),
        get(
            "getMapTile",
            "Luftbildkachel (OGC API Tiles)",
            imagery,
            &[
                collection,
                tms.clone(),
                matrix.clone(),
                row.clone(),
                col.clone(),
                datetime,
            ],
            "Kachel",
            &["image/webp", "image/jpeg"],
        ),
    );
    let layer = path_param("layer", "WMTS-Ebene (Luftbild-Id oder luftbilder)", &text());
    let style = path_param("style", "Stil (default)", &text());
    let time = path_param("time", "Zeitdimension (Jahr)", &text());
    p.insert(
        "/wmts".into(),
        get(
            "getWmtsKvp",
            "WMTS 1.0.0 (KVP: GetCapabilities, GetTile)",
            imagery,
            &[
                json!({"name": "SERVICE", "in": "query", "schema": {"type": "string"}}),
                json!({"name": "REQUEST", "in": "query", "schema": {"type": "string"}}),
            ],
            "Capabilities oder Kachel",
            &["application/xml", "image/webp"],
        ),
    );
    p.insert(
        "/wmts/1.0.0/WMTSCapabilities.xml".into(),
        get(
            "getWmtsCapabilities",
            "WMTS 1.0.0 Capabilities",
            imagery,
            &[],
            "Capabilities",
            &["application/xml"],
        ),
    );
    p.insert(
        "/wmts/1.0.0/{layer}/{style}/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}".into(),
        get(
            "getWmtsTile",
            "WMTS-Kachel (REST)",
            imagery,
            &[
                layer.clone(),
                style.clone(),
                tms.clone(),
                matrix.clone(),
                row.clone(),
                col.clone(),
            ],
            "Kachel",
            &["image/webp"],
        ),
    );
    p.insert(
        "/wmts/1.0.0/{layer}/{style}/{time}/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}"
            .into(),
        get(
            "getWmtsTileAtTime",
            "WMTS-Kachel eines Jahrgangs (REST, Zeitdimension)",
            imagery,
            &[layer, style, time, tms, matrix, row, col],
            "Kachel",
            &["image/webp"],
        ),
    );
    p
}
