//! The coordinate reference systems the API speaks (OGC API Features Part 2): their URIs,
//! EPSG codes, axis order and how many decimals coordinates get.

use crate::problem::Problem;

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

/// Projects longitude/latitude (ETRS89, degrees) into UTM zone 32N (EPSG:25832), using the
/// Krüger series; accurate to well below a millimetre near Koblenz.
#[must_use]
#[allow(clippy::many_single_char_names)] // the names of the published formulas
pub fn utm32(lon: f64, lat: f64) -> (f64, f64) {
    const A: f64 = 6_378_137.0;
    const F: f64 = 1.0 / 298.257_222_101;
    const K0: f64 = 0.9996;
    let n = F / (2.0 - F);
    let big_a = A / (1.0 + n) * (1.0 + n * n / 4.0 + n.powi(4) / 64.0);
    let alpha = [
        n / 2.0 - 2.0 * n * n / 3.0 + 5.0 * n.powi(3) / 16.0,
        13.0 * n * n / 48.0 - 3.0 * n.powi(3) / 5.0,
        61.0 * n.powi(3) / 240.0,
    ];
    let phi = lat.to_radians();
    let dlambda = (lon - 9.0).to_radians();
    let c = 2.0 * n.sqrt() / (1.0 + n);
    let t = (phi.sin().atanh() - c * (c * phi.sin()).atanh()).sinh();
    let xi = t.atan2(dlambda.cos());
    let eta = (dlambda.sin() / (1.0 + t * t).sqrt()).atanh();
    let (mut e, mut nn) = (eta, xi);
    for (j, a) in alpha.iter().enumerate() {
        let k = 2.0 * f64::from(u8::try_from(j + 1).unwrap_or(1));
        e += a * (k * xi).cos() * (k * eta).sinh();
        nn += a * (k * xi).sin() * (k * eta).cosh();
    }
    (500_000.0 + K0 * big_a * e, K0 * big_a * nn)
}

/// Web Mercator (EPSG:3857) of longitude/latitude in degrees.
#[must_use]
pub fn mercator(lon: f64, lat: f64) -> (f64, f64) {
    const R: f64 = 6_378_137.0;
    let lat = lat.clamp(-85.051_128_78, 85.051_128_78).to_radians();
    (
        R * lon.to_radians(),
        R * (std::f64::consts::FRAC_PI_4 + lat / 2.0).tan().ln(),
    )
}

/// Longitude/latitude in degrees of a Web Mercator position.
#[must_use]
pub fn inverse_mercator(x: f64, y: f64) -> (f64, f64) {
    const R: f64 = 6_378_137.0;
    (
        (x / R).to_degrees(),
        (2.0 * (y / R).exp().atan() - std::f64::consts::FRAC_PI_2).to_degrees(),
    )
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
