//! The download formats, in one table: file name ending, names for people and for CKAN, the
//! media type served, and what the DCAT catalog calls them. The pages, the catalogs, the
//! downloads and the preparer all read this table.

use crate::registry::Dataset;

/// A download format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// File name ending without the dot, also the value of the list page's `format` filter.
    pub ext: &'static str,
    /// Short name (CKAN `format`, the filter form).
    pub name: &'static str,
    /// What the dataset page says, with the CRS.
    pub label: &'static str,
    /// `Content-Type` of the download.
    pub media: &'static str,
    /// The IANA media type (without parameters) for `dcat:mediaType`; `None`: not registered.
    pub iana: Option<&'static str>,
    /// Code in the EU file-type vocabulary for `dct:format`; `None`: the vocabulary has none.
    /// A format with neither is left out of the DCAT catalog.
    pub eu_file_type: Option<&'static str>,
}

/// Every format; the vector formats first, then the imagery file.
pub const ALL: &[Format] = &[
    Format {
        ext: "geojson",
        name: "GeoJSON",
        label: "GeoJSON (WGS 84)",
        media: "application/geo+json",
        iana: Some("application/geo+json"),
        eu_file_type: Some("GEOJSON"),
    },
    Format {
        ext: "csv",
        name: "CSV",
        label: "CSV (UTF-8, WGS 84)",
        media: "text/csv; charset=utf-8",
        iana: Some("text/csv"),
        eu_file_type: Some("CSV"),
    },
    Format {
        ext: "gpkg",
        name: "GPKG",
        label: "GeoPackage (EPSG:25832)",
        media: "application/geopackage+sqlite3",
        iana: Some("application/geopackage+sqlite3"),
        eu_file_type: Some("GPKG"),
    },
    Format {
        ext: "shp.zip",
        name: "SHP",
        label: "Shapefile, ZIP (EPSG:25832)",
        media: "application/zip",
        iana: Some("application/zip"),
        eu_file_type: Some("SHP"),
    },
    Format {
        ext: "fgb",
        name: "FlatGeobuf",
        label: "FlatGeobuf (WGS 84)",
        media: "application/flatgeobuf",
        iana: None,
        eu_file_type: None,
    },
    Format {
        ext: "kml",
        name: "KML",
        label: "KML (WGS 84)",
        media: "application/vnd.google-earth.kml+xml",
        iana: Some("application/vnd.google-earth.kml+xml"),
        eu_file_type: Some("KML"),
    },
    GEOTIFF,
];

/// The formats of a collection's downloads.
pub const VECTOR: &[Format] = ALL.split_at(6).0;

/// The formats of an imagery epoch's downloads.
pub const IMAGERY: &[Format] = ALL.split_at(6).1;

/// An imagery epoch's download: the prepared Cloud-Optimized `GeoTIFF` as stored.
pub const GEOTIFF: Format = Format {
    ext: "tif",
    name: "GeoTIFF",
    label: "Cloud-Optimized GeoTIFF (EPSG:3857)",
    media: "image/tiff; application=geotiff; profile=cloud-optimized",
    iana: Some("image/tiff"),
    eu_file_type: Some("TIFF"),
};

/// The city map as vector tiles in one PMTiles archive ([`crate::archive`]). The EU file-type
/// vocabulary has no PMTiles entry (yet); IANA registered the media type in 2025.
pub const PMTILES: Format = Format {
    ext: "pmtiles",
    name: "PMTiles",
    label: "PMTiles, Vektorkacheln Zoom 10–16 (Web Mercator)",
    media: "application/vnd.pmtiles",
    iana: Some("application/vnd.pmtiles"),
    eu_file_type: None,
};

/// The format with this file name ending.
#[must_use]
pub fn by_ext(ext: &str) -> Option<&'static Format> {
    ALL.iter().find(|f| f.ext == ext)
}

/// The formats a dataset offers: the vector formats when it has collections, `GeoTIFF` when it
/// has imagery epochs.
#[must_use]
pub fn of_dataset(d: &Dataset) -> Vec<&'static Format> {
    let vector = (!d.collections.is_empty()).then_some(VECTOR);
    let imagery = (!d.imagery.is_empty()).then_some(IMAGERY);
    vector.into_iter().chain(imagery).flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_formats_are_the_first_six() {
        let exts: Vec<&str> = VECTOR.iter().map(|f| f.ext).collect();
        assert_eq!(exts, ["geojson", "csv", "gpkg", "shp.zip", "fgb", "kml"]);
        assert_eq!(IMAGERY, [GEOTIFF]);
        assert_eq!(by_ext("tif"), Some(&GEOTIFF));
        assert!(by_ext("xlsx").is_none());
    }
}
