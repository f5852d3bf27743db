//! Plane geometry for the demo generator: UTM zone 32 projection, a deterministic random
//! number generator, point-in-polygon and distance to a polyline. Everything here is exact
//! enough for synthetic data and needs neither PROJ nor the database.

/// A point in EPSG:25832 metres (easting, northing).
pub type Xy = (f64, f64);

pub use stadtkarte_core::crs::utm32;

/// `SplitMix64`: small, fast and the same on every platform and crate version, so a seed
/// always yields the same city.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`; `stream` separates independent sequences of one seed.
    #[must_use]
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut rng = Self(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.next_u64();
        rng
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    #[allow(clippy::cast_precision_loss)]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        #[allow(clippy::cast_possible_truncation)]
        let n64 = n as u64;
        if n64 == 0 {
            return 0;
        }
        usize::try_from(self.next_u64() % n64).unwrap_or(0)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Whether `p` lies inside the closed ring `ring` (even-odd rule).
#[must_use]
pub fn contains(ring: &[Xy], p: Xy) -> bool {
    let mut inside = false;
    let mut j = ring.len().saturating_sub(1);
    for i in 0..ring.len() {
        let (xi, yi) = ring[i];
        let (xj, yj) = ring[j];
        if (yi > p.1) != (yj > p.1) && p.0 < (xj - xi) * (p.1 - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Shortest distance from `p` to the polyline `line`.
#[must_use]
pub fn distance_to_line(line: &[Xy], p: Xy) -> f64 {
    line.windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let len2 = dx * dx + dy * dy;
            let t = if len2 == 0.0 {
                0.0
            } else {
                (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
            };
            let (qx, qy) = (a.0 + t * dx, a.1 + t * dy);
            ((p.0 - qx).powi(2) + (p.1 - qy).powi(2)).sqrt()
        })
        .fold(f64::INFINITY, f64::min)
}

/// The point at `along` metres along and `across` metres to the left of the direction `angle`
/// (radians) from `origin`.
#[must_use]
pub fn offset(origin: Xy, angle: f64, along: f64, across: f64) -> Xy {
    let (s, c) = angle.sin_cos();
    (
        origin.0 + along * c - across * s,
        origin.1 + along * s + across * c,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utm32_matches_a_known_point() {
        // Deutsches Eck; `echo "50.3645 7.6055" | cs2cs -f %.3f EPSG:4326 EPSG:25832` (PROJ 9.1)
        // prints 400819.712 5580088.340.
        let (x, y) = utm32(7.6055, 50.3645);
        assert!((x - 400_819.712).abs() < 0.002, "{x}");
        assert!((y - 5_580_088.340).abs() < 0.002, "{y}");
    }

    #[test]
    fn rng_is_deterministic_and_uniform_enough() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7, 1);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7, 1);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        let mut r = Rng::new(7, 2);
        let mean = (0..10_000).map(|_| r.unit()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }

    #[test]
    fn point_in_polygon() {
        let square = [
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 10.0),
            (0.0, 10.0),
            (0.0, 0.0),
        ];
        assert!(contains(&square, (5.0, 5.0)));
        assert!(!contains(&square, (15.0, 5.0)));
        assert!(!contains(&square, (-1.0, 5.0)));
    }

    #[test]
    fn distance_to_polyline() {
        let line = [(0.0, 0.0), (10.0, 0.0)];
        assert!((distance_to_line(&line, (5.0, 3.0)) - 3.0).abs() < 1e-9);
        assert!((distance_to_line(&line, (13.0, 4.0)) - 5.0).abs() < 1e-9);
    }
}
