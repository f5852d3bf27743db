//! Tile matrix sets (OGC TMS 2.0): `WebMercatorQuad` for web maps, and the AdV grid in
//! EPSG:25832 that German state geoportals (basemap.de, the Länder) use for UTM32 maps, so that
//! our tiles line up with the official base maps in QGIS and other GIS.
//!
//! Why the AdV grid rather than `UTM32WGS84Quad` from the OGC registry: the registry set is
//! defined on WGS 84 / UTM 32N (EPSG:32632) with a quad-tree over the whole zone, which no
//! German geoportal serves; the AdV grid is ETRS89 / UTM 32N (EPSG:25832, our storage CRS)
//! with the origin and scale series of the AdV WMTS profile, so no reprojection is needed at all.

use serde_json::{Value, json};

/// One tile matrix set with a quad-tree of square tiles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TileMatrixSet {
    /// Identifier in URLs.
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// EPSG code.
    pub srid: i32,
    /// CRS URI.
    pub crs: &'static str,
    /// Registry URI, when the set is registered.
    pub uri: Option<&'static str>,
    /// Top-left corner (x, y).
    pub origin: (f64, f64),
    /// Size of a cell (pixel) at matrix 0, in CRS units.
    pub cell0: f64,
    /// Deepest matrix.
    pub max_zoom: u8,
}

/// Tile size in pixels.
pub const TILE_PIXELS: f64 = 256.0;

/// Web Mercator, as every web map uses.
pub const WEB_MERCATOR_QUAD: TileMatrixSet = TileMatrixSet {
    id: "WebMercatorQuad",
    title: "Google Maps Compatible for the World",
    srid: 3857,
    crs: "http://www.opengis.net/def/crs/EPSG/0/3857",
    uri: Some("http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"),
    origin: (-20_037_508.342_789_244, 20_037_508.342_789_244),
    cell0: 156_543.033_928_041,
    max_zoom: 24,
};

/// The AdV tile grid for ETRS89 / UTM 32N (as basemap.de's WMTS).
pub const ADV_UTM32: TileMatrixSet = TileMatrixSet {
    id: "AdV_EPSG_25832",
    title: "AdV-Kachelschema ETRS89 / UTM Zone 32N",
    srid: 25832,
    crs: "http://www.opengis.net/def/crs/EPSG/0/25832",
    uri: None,
    origin: (-46_133.17, 6_301_219.54),
    cell0: 4_891.969_810_251_28,
    max_zoom: 17,
};

/// Every tile matrix set served.
pub const ALL: [TileMatrixSet; 2] = [WEB_MERCATOR_QUAD, ADV_UTM32];

/// Finds a tile matrix set by id.
#[must_use]
pub fn find(id: &str) -> Option<TileMatrixSet> {
    ALL.iter().copied().find(|t| t.id == id)
}

impl TileMatrixSet {
    /// Cell size at zoom `z`.
    #[must_use]
    pub fn cell(self, z: u8) -> f64 {
        self.cell0 / f64::from(1u32 << z)
    }

    /// Tiles per row and column at zoom `z`.
    #[must_use]
    pub fn matrix_size(z: u8) -> u32 {
        1u32 << z
    }

    /// Bounds of tile (z, column x, row y): min x, min y, max x, max y.
    #[must_use]
    pub fn bounds(self, z: u8, x: u32, y: u32) -> [f64; 4] {
        let size = self.cell(z) * TILE_PIXELS;
        let minx = self.origin.0 + f64::from(x) * size;
        let maxy = self.origin.1 - f64::from(y) * size;
        [minx, maxy - size, minx + size, maxy]
    }

    /// The (column, row) ranges of tiles at `z` that cover `bbox` (in this set's CRS).
    #[must_use]
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn cover(self, z: u8, bbox: [f64; 4]) -> (u32, u32, u32, u32) {
        let size = self.cell(z) * TILE_PIXELS;
        let n = f64::from(Self::matrix_size(z));
        let clamp = |v: f64| v.floor().clamp(0.0, n - 1.0) as u32;
        (
            clamp((bbox[0] - self.origin.0) / size),
            clamp((self.origin.1 - bbox[3]) / size),
            clamp((bbox[2] - self.origin.0) / size),
            clamp((self.origin.1 - bbox[1]) / size),
        )
    }

    /// A CRS84 box in this set's CRS.
    #[must_use]
    pub fn from_crs84(self, b: [f64; 4]) -> [f64; 4] {
        let project = |lon: f64, lat: f64| match self.srid {
            3857 => stadtkarte_core::crs::mercator(lon, lat),
            _ => stadtkarte_core::crs::utm32(lon, lat),
        };
        let corners = [
            project(b[0], b[1]),
            project(b[0], b[3]),
            project(b[2], b[1]),
            project(b[2], b[3]),
        ];
        [
            corners.iter().map(|c| c.0).fold(f64::INFINITY, f64::min),
            corners.iter().map(|c| c.1).fold(f64::INFINITY, f64::min),
            corners
                .iter()
                .map(|c| c.0)
                .fold(f64::NEG_INFINITY, f64::max),
            corners
                .iter()
                .map(|c| c.1)
                .fold(f64::NEG_INFINITY, f64::max),
        ]
    }

    /// The TMS 2.0 JSON description.
    #[must_use]
    pub fn document(self) -> Value {
        let matrices: Vec<Value> = (0..=self.max_zoom)
            .map(|z| {
                let cell = self.cell(z);
                json!({
                    "id": z.to_string(),
                    "scaleDenominator": cell / 0.000_28,
                    "cellSize": cell,
                    "cornerOfOrigin": "topLeft",
                    "pointOfOrigin": [self.origin.0, self.origin.1],
                    "matrixWidth": Self::matrix_size(z),
                    "matrixHeight": Self::matrix_size(z),
                    "tileWidth": 256,
                    "tileHeight": 256,
                })
            })
            .collect();
        let mut doc = json!({
            "id": self.id,
            "title": self.title,
            "crs": self.crs,
            "orderedAxes": ["E", "N"],
            "tileMatrices": matrices,
        });
        if let Some(uri) = self.uri {
            doc["uri"] = json!(uri);
        }
        doc
    }
}

/// A tile coordinate from the path: a whole number, optionally with one of `extensions`
/// (`14.pbf`); `8537.5` or `1e3` is a 400, not a tile.
pub fn coordinate(
    text: &str,
    what: &str,
    extensions: &[&str],
) -> Result<u32, stadtkarte_core::Problem> {
    let digits = match text.split_once('.') {
        Some((n, ext)) if extensions.contains(&ext) => n,
        Some(_) => "",
        None => text,
    };
    digits
        .parse::<u32>()
        .ok()
        .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            stadtkarte_core::Problem::bad_request(format!("{what} {text:?} is not a whole number"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_coordinates_are_whole_numbers() {
        assert_eq!(coordinate("5531", "row", &["pbf"]).unwrap(), 5531);
        assert_eq!(coordinate("5531.pbf", "row", &["pbf"]).unwrap(), 5531);
        for bad in ["8537.5", "1e3", "+3", "-1", "5531.png", " 1", ""] {
            assert!(coordinate(bad, "row", &["pbf"]).is_err(), "{bad}");
        }
    }

    #[test]
    fn web_mercator_tiles() {
        let b = WEB_MERCATOR_QUAD.bounds(0, 0, 0);
        assert!((b[0] + 20_037_508.34).abs() < 0.01 && (b[3] - 20_037_508.34).abs() < 0.01);
        let b = WEB_MERCATOR_QUAD.bounds(1, 1, 1);
        assert!(b[0].abs() < 1e-6 && b[3].abs() < 1e-6);
        // Koblenz at z14.
        let (x, y) = stadtkarte_core::crs::mercator(7.5975, 50.3605);
        let (c, r, _, _) = WEB_MERCATOR_QUAD.cover(14, [x, y, x, y]);
        assert_eq!((c, r), (8537, 5530));
    }

    #[test]
    fn adv_grid_covers_germany_at_zoom_zero() {
        let b = ADV_UTM32.bounds(0, 0, 0);
        let koblenz = stadtkarte_core::crs::utm32(7.5975, 50.3605);
        assert!(b[0] < koblenz.0 && koblenz.0 < b[2] && b[1] < koblenz.1 && koblenz.1 < b[3]);
    }
}
