//! The coordinate reference systems the API speaks (OGC API Features Part 2): their URIs,
//! EPSG codes, axis order and how many decimals coordinates get.

use stadtkarte_core::Problem;

/// One supported CRS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crs {
    /// The OGC URI.
    pub uri: &'static str,
    /// EPSG code used by PostGIS.
    pub srid: i32,
    /// Latitude (northing) first, as EPSG defines it for 4326 and 4258.
    pub lat_first: bool,
    /// Degrees rather than metres.
    pub geographic: bool,
}

/// WGS 84 longitude/latitude, the default.
pub const CRS84: Crs = Crs {
    uri: "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    srid: 4326,
    lat_first: false,
    geographic: true,
};

/// Every supported CRS, CRS84 first (the standard requires it first in lists).
pub const SUPPORTED: [Crs; 5] = [
    CRS84,
    Crs {
        uri: "http://www.opengis.net/def/crs/EPSG/0/25832",
        srid: 25832,
        lat_first: false,
        geographic: false,
    },
    Crs {
        uri: "http://www.opengis.net/def/crs/EPSG/0/4326",
        srid: 4326,
        lat_first: true,
        geographic: true,
    },
    Crs {
        uri: "http://www.opengis.net/def/crs/EPSG/0/3857",
        srid: 3857,
        lat_first: false,
        geographic: false,
    },
    Crs {
        uri: "http://www.opengis.net/def/crs/EPSG/0/4258",
        srid: 4258,
        lat_first: true,
        geographic: true,
    },
];

impl Crs {
    /// Finds a CRS by URI (also the `[EPSG:n]` safe-CURIE and `EPSG:n` short forms).
    pub fn parse(value: &str, parameter: &str) -> Result<Self, Problem> {
        let v = value.trim().trim_start_matches('[').trim_end_matches(']');
        let found = SUPPORTED.iter().find(|c| {
            c.uri == v
                || (v.eq_ignore_ascii_case("CRS84") && c.uri == CRS84.uri)
                || (c.uri != CRS84.uri && v.eq_ignore_ascii_case(&format!("EPSG:{}", c.srid)))
        });
        found.copied().ok_or_else(|| {
            Problem::bad_request(format!(
                "{parameter}={value} is not supported; use one of {}",
                SUPPORTED
                    .iter()
                    .map(|c| c.uri)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    /// Decimals that keep about a millimetre.
    #[must_use]
    pub fn decimals(self) -> i32 {
        if self.geographic { 8 } else { 4 }
    }

    /// SQL turning `geom` (in `storage` SRID) into this CRS with its axis order.
    #[must_use]
    pub fn project_sql(self, geom: &str, storage: i32) -> String {
        let transformed = if self.srid == storage {
            geom.to_owned()
        } else {
            format!("ST_Transform({geom}, {})", self.srid)
        };
        if self.lat_first {
            format!("ST_FlipCoordinates({transformed})")
        } else {
            transformed
        }
    }
}

/// The CRS URIs of a collection: every supported one (CRS84 first).
#[must_use]
pub fn uris() -> Vec<&'static str> {
    SUPPORTED.iter().map(|c| c.uri).collect()
}

/// The URI of an EPSG code, when it is one of ours.
#[must_use]
pub fn uri_of_srid(srid: i32) -> String {
    SUPPORTED
        .iter()
        .find(|c| c.srid == srid && !c.lat_first && c.uri != CRS84.uri)
        .map_or_else(
            || format!("http://www.opengis.net/def/crs/EPSG/0/{srid}"),
            |c| c.uri.to_owned(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uris_and_short_forms() {
        assert_eq!(
            Crs::parse("http://www.opengis.net/def/crs/OGC/1.3/CRS84", "crs").unwrap(),
            CRS84
        );
        assert_eq!(Crs::parse("[EPSG:25832]", "crs").unwrap().srid, 25832);
        assert!(Crs::parse("EPSG:4326", "crs").unwrap().lat_first);
        assert_eq!(
            Crs::parse("http://www.opengis.net/def/crs/0/unsupported", "crs")
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(uris()[0], CRS84.uri);
    }
}
