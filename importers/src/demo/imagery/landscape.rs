//! The smooth fields of the landscape (where the town will grow, forest, field blocks, lawns,
//! groves) and the density of the buildings, evaluated once on a 10 m lattice and looked up per
//! pixel.

use super::noise::{fbm, noise, smoothstep, stream};
use super::scene::Scene;

/// The buildings standing within about 45 m, on a 10 m lattice: how many, and the sum of
/// their heights in hectometres (high in the old town, low among family houses).
pub(super) struct Density {
    nx: usize,
    ny: usize,
    values: Vec<[f32; 2]>,
}

const DENSITY_CELL: f32 = 10.0;

impl Density {
    pub(super) fn new(scene: &Scene, year: i32) -> Self {
        const RADIUS: usize = 4;
        let nx = ((scene.extent[2] - scene.origin.0) / f64::from(DENSITY_CELL)).ceil() as usize + 2;
        let ny = ((scene.extent[3] - scene.origin.1) / f64::from(DENSITY_CELL)).ceil() as usize + 2;
        // Summed-area tables of the buildings per cell, one row and column of zeros in front.
        let mut sums = vec![[0.0f64; 2]; (nx + 1) * (ny + 1)];
        for b in scene.buildings.iter().filter(|b| b.year <= year) {
            let cx = ((b.centroid.0 - scene.origin.0) / f64::from(DENSITY_CELL)).floor();
            let cy = ((b.centroid.1 - scene.origin.1) / f64::from(DENSITY_CELL)).floor();
            if cx >= 0.0 && cy >= 0.0 && (cx as usize) < nx && (cy as usize) < ny {
                let cell = &mut sums[(cy as usize + 1) * (nx + 1) + cx as usize + 1];
                cell[0] += 1.0;
                cell[1] += b.height / 100.0;
            }
        }
        for y in 1..=ny {
            for x in 1..=nx {
                let i = y * (nx + 1) + x;
                let (left, up, diagonal) = (sums[i - 1], sums[i - nx - 1], sums[i - nx - 2]);
                for (k, sum) in sums[i].iter_mut().enumerate() {
                    *sum += left[k] + up[k] - diagonal[k];
                }
            }
        }
        let mut values = vec![[0.0; 2]; nx * ny];
        for y in 0..ny {
            for x in 0..nx {
                let (xa, xb) = (x.saturating_sub(RADIUS), (x + RADIUS + 1).min(nx));
                let (ya, yb) = (y.saturating_sub(RADIUS), (y + RADIUS + 1).min(ny));
                let at = |x: usize, y: usize, k: usize| sums[y * (nx + 1) + x][k];
                values[y * nx + x] = std::array::from_fn(|k| {
                    (at(xb, yb, k) + at(xa, ya, k) - at(xa, yb, k) - at(xb, ya, k)) as f32
                });
            }
        }
        Self { nx, ny, values }
    }

    /// Bilinear sample of count and heights at local coordinates.
    pub(super) fn sample(&self, x: f32, y: f32) -> [f32; 2] {
        let gx = (x * (1.0 / DENSITY_CELL) - 0.5).clamp(0.0, (self.nx - 1) as f32);
        let gy = (y * (1.0 / DENSITY_CELL) - 0.5).clamp(0.0, (self.ny - 1) as f32);
        let (x0, y0) = (gx as usize, gy as usize);
        let (x1, y1) = ((x0 + 1).min(self.nx - 1), (y0 + 1).min(self.ny - 1));
        let (tx, ty) = (gx - x0 as f32, gy - y0 as f32);
        let v = |x: usize, y: usize| self.values[y * self.nx + x];
        std::array::from_fn(|k| {
            let top = v(x0, y0)[k] + (v(x1, y0)[k] - v(x0, y0)[k]) * tx;
            let bottom = v(x0, y1)[k] + (v(x1, y1)[k] - v(x0, y1)[k]) * tx;
            top + (bottom - top) * ty
        })
    }
}

/// The smooth fields of the landscape, evaluated once per scene on a 10 m lattice: one bilinear
/// lookup per pixel instead of a dozen noise evaluations.
pub(super) struct Landscape {
    nx: usize,
    ny: usize,
    cells: Vec<[f32; LAND]>,
}

const LAND: usize = 10;
const LAND_CELL: f32 = 10.0;
/// 0 (never built) to 1: where the latest epoch has houses; fields and orchards there earlier.
pub(super) const SETTLED: usize = 0;
/// Above about 0.585: forest.
pub(super) const FOREST: usize = 1;
/// Roughens the edge of the built-up area.
pub(super) const RAGGED: usize = 2;
/// Displacement of the field blocks, metres.
pub(super) const WARP_X: usize = 3;
pub(super) const WARP_Y: usize = 4;
/// Dry or lush lawns.
pub(super) const DRY: usize = 5;
/// Soil and moisture patches in the fields.
pub(super) const PATCH: usize = 6;
/// Above about 0.5: groups of trees in gardens.
pub(super) const GROVE: usize = 7;
/// Above 0.5: conifers.
pub(super) const STAND: usize = 8;
/// Denser and lighter patches of the forest canopy.
pub(super) const CLUMPS: usize = 9;

impl Landscape {
    pub(super) fn new(scene: &Scene, seed: u32) -> Self {
        let future = Density::new(scene, i32::MAX);
        let nx = ((scene.extent[2] - scene.origin.0) / f64::from(LAND_CELL)).ceil() as usize + 2;
        let ny = ((scene.extent[3] - scene.origin.1) / f64::from(LAND_CELL)).ceil() as usize + 2;
        let s = seed;
        let mut cells = vec![[0.0; LAND]; nx * ny];
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let rows_per_thread = ny.div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for (chunk, rows) in cells.chunks_mut(rows_per_thread * nx).enumerate() {
                let future = &future;
                scope.spawn(move || {
                    for (i, cell) in rows.iter_mut().enumerate() {
                        let (gx, gy) = (i % nx, chunk * rows_per_thread + i / nx);
                        let (x, y) = ((gx as f32 + 0.5) * LAND_CELL, (gy as f32 + 0.5) * LAND_CELL);
                        let mut c = [0.0; LAND];
                        c[SETTLED] = smoothstep(0.3, 2.0, future.sample(x, y)[0]);
                        c[FOREST] = noise(stream(s, 31), x * (1.0 / 1_500.0), y * (1.0 / 1_500.0))
                            * 0.6
                            + noise(stream(s, 32), x * (1.0 / 380.0), y * (1.0 / 380.0)) * 0.3
                            + noise(stream(s, 33), x * (1.0 / 90.0), y * (1.0 / 90.0)) * 0.1
                            - 0.3 * c[SETTLED];
                        c[RAGGED] =
                            (noise(stream(s, 11), x * (1.0 / 40.0), y * (1.0 / 40.0)) - 0.5) * 2.0;
                        c[WARP_X] = (noise(stream(s, 41), x * (1.0 / 600.0), y * (1.0 / 600.0))
                            - 0.5)
                            * 320.0;
                        c[WARP_Y] = (noise(stream(s, 42), x * (1.0 / 600.0), y * (1.0 / 600.0))
                            - 0.5)
                            * 320.0;
                        c[DRY] = noise(stream(s, 25), x * (1.0 / 45.0), y * (1.0 / 45.0));
                        c[PATCH] = fbm(stream(s, 44), x, y, 60.0, 2, LAND_CELL);
                        c[GROVE] = noise(stream(s, 24), x * (1.0 / 24.0), y * (1.0 / 24.0));
                        c[STAND] = noise(stream(s, 51), x * (1.0 / 160.0), y * (1.0 / 160.0));
                        c[CLUMPS] = noise(stream(s, 53), x * (1.0 / 40.0), y * (1.0 / 40.0));
                        *cell = c;
                    }
                });
            }
        });
        Self { nx, ny, cells }
    }

    /// The fields along the row of local coordinate `y` from `x0` to `x1`, interpolated
    /// between lattice rows, with `density`'s count and heights appended.
    pub(super) fn row(
        &self,
        y: f32,
        (x0, x1): (f32, f32),
        density: &Density,
        row: &mut LatticeRow,
    ) {
        let gy = (y * (1.0 / LAND_CELL) - 0.5).clamp(0.0, (self.ny - 1) as f32);
        let y0 = gy as usize;
        let y1 = (y0 + 1).min(self.ny - 1);
        let t = gy - y0 as f32;
        let column = |x: f32| ((x * (1.0 / LAND_CELL) - 0.5).max(0.0) as usize).min(self.nx - 1);
        let (first, last) = (column(x0), (column(x1) + 1).min(self.nx - 1));
        row.first = first;
        row.values.clear();
        row.values.extend((first..=last).map(|x| {
            let (a, b) = (&self.cells[y0 * self.nx + x], &self.cells[y1 * self.nx + x]);
            let (c, d) = (
                &density.values[y0 * self.nx + x],
                &density.values[y1 * self.nx + x],
            );
            let mut out = [0.0; ROW];
            for k in 0..LAND {
                out[k] = a[k] + (b[k] - a[k]) * t;
            }
            out[LAND] = c[0] + (d[0] - c[0]) * t;
            out[LAND + 1] = c[1] + (d[1] - c[1]) * t;
            out
        }));
    }
}

/// The lattice fields plus count and heights of the buildings.
const ROW: usize = LAND + 2;

/// Part of a row of the lattice, from column `first` on.
#[derive(Default)]
pub(super) struct LatticeRow {
    first: usize,
    values: Vec<[f32; ROW]>,
}

/// A point between two lattice columns of a row from [`Landscape::row`].
pub(super) struct Lookup<'a> {
    a: &'a [f32; ROW],
    b: &'a [f32; ROW],
    t: f32,
}

impl<'a> Lookup<'a> {
    pub(super) fn new(row: &'a LatticeRow, x: f32) -> Self {
        let last = row.values.len().saturating_sub(1);
        let gx = (x * (1.0 / LAND_CELL) - 0.5 - row.first as f32).clamp(0.0, last as f32);
        let x0 = gx as usize;
        Self {
            a: &row.values[x0],
            b: &row.values[(x0 + 1).min(last)],
            t: gx - x0 as f32,
        }
    }

    /// Field `k` of the landscape.
    pub(super) fn land(&self, k: usize) -> f32 {
        self.a[k] + (self.b[k] - self.a[k]) * self.t
    }

    /// Count and heights of the buildings around.
    pub(super) fn density(&self) -> [f32; 2] {
        [self.land(LAND), self.land(LAND + 1)]
    }
}
