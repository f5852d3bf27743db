//! Painting one part: the objects sorted into bands of rows, the bands painted on all cores,
//! each in layers (ground, river banks, water, gardens, streets, construction sites, vehicles,
//! shadows, roofs) and then developed like the film of its epoch.

use std::sync::Mutex;

use super::epochs::Epoch;
use super::ground::{Memo, paved_share};
use super::landscape::{LatticeRow, Lookup};
use super::noise::{hash, mix, stream, unit};
use super::part::{BAND_ROWS, Grid};
use super::scan::Scan;
use super::streets::{Surface, thick_segment};
use super::vehicles::{Vehicle, vehicle_outline, vehicles};
use super::water::Layer;
use super::{Rgb, Xy, bbox_of, grow};

impl Epoch<'_> {
    /// Paints one part; returns its interleaved pixels.
    pub(super) fn paint(&self, grid: &Grid) -> Vec<u8> {
        let channels = if self.gray { 1 } else { 3 };
        let job = Job::new(self, grid);
        let mut out = vec![0u8; grid.width * grid.height * channels];
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let queue = Mutex::new(
            out.chunks_mut(BAND_ROWS * grid.width * channels)
                .enumerate(),
        );
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut work = Work::default();
                    loop {
                        let next = queue.lock().ok().and_then(|mut q| q.next());
                        let Some((band, chunk)) = next else { break };
                        job.band(band, chunk, &mut work);
                    }
                });
            }
        });
        out
    }
}

/// What one part needs besides the epoch: the objects of each band of rows.
struct Job<'a> {
    epoch: &'a Epoch<'a>,
    grid: &'a Grid,
    water: Vec<Vec<u32>>,
    streets: Vec<Vec<u32>>,
    buildings: Vec<Vec<u32>>,
    vehicles: Vec<Vehicle>,
    vehicle_bins: Vec<Vec<u32>>,
}

/// Per-thread buffers.
#[derive(Default)]
struct Work {
    rgb: Vec<Rgb>,
    mask: Vec<f32>,
    river: Vec<u8>,
    scan: Scan,
    memo: Memo,
    lattice: LatticeRow,
    hidden: Vec<bool>,
}

impl<'a> Job<'a> {
    fn new(epoch: &'a Epoch<'a>, grid: &'a Grid) -> Self {
        let scene = epoch.scene;
        let bands = grid.height.div_ceil(BAND_ROWS);
        let bin = |boxes: &mut dyn Iterator<Item = (usize, [f64; 4])>| {
            let mut bins = vec![Vec::new(); bands];
            for (i, b) in boxes {
                if let Some(range) = grid.bands(grow(b, grid.pixel)) {
                    for band in range {
                        bins[band].push(i as u32);
                    }
                }
            }
            bins
        };
        let water = bin(&mut scene.water.iter().map(|w| w.bbox).enumerate());
        let streets = bin(&mut scene
            .streets
            .iter()
            .enumerate()
            .filter(|(i, _)| epoch.surfaces[*i].is_some())
            .map(|(i, s)| (i, grow(bbox_of(&[s.a, s.b]), s.outer))));
        let buildings = bin(&mut scene
            .buildings
            .iter()
            .enumerate()
            .filter(|(_, b)| b.year <= epoch.year + 2)
            .map(|(i, b)| {
                let shadow = bbox_of(&epoch.shadows[i]);
                let b = grow(b.bbox, 25.0);
                (
                    i,
                    [
                        b[0].min(shadow[0]),
                        b[1].min(shadow[1]),
                        b[2].max(shadow[2]),
                        b[3].max(shadow[3]),
                    ],
                )
            }));
        let vehicles = vehicles(epoch, grid);
        let vehicle_bins = bin(&mut vehicles.iter().map(|v| v.bbox).enumerate());
        Self {
            epoch,
            grid,
            water,
            streets,
            buildings,
            vehicles,
            vehicle_bins,
        }
    }

    #[allow(clippy::too_many_lines)]
    fn band(&self, band: usize, out: &mut [u8], work: &mut Work) {
        let (e, g) = (self.epoch, self.grid);
        let scene = e.scene;
        let w = g.width;
        let channels = if e.gray { 1 } else { 3 };
        let n_rows = out.len() / (w * channels);
        let row0 = band * BAND_ROWS;
        let rows = row0..row0 + n_rows;
        let px = g.pixel as f32;
        let lx0 = g.x0 - scene.origin.0;
        let ly0 = g.top - scene.origin.1;
        let local_x = |x: usize| (lx0 + (x as f64 + 0.5) * g.pixel) as f32;
        let local_y = |y: usize| (ly0 - (y as f64 + 0.5) * g.pixel) as f32;
        let to_px = |p: &Xy| g.to_pixel(*p);
        let at = |x: usize, y: usize| (y - row0) * w + x;

        // Water first: where it, a roof or a street covers a pixel completely, the ground
        // under it is never seen and not painted.
        let mask = &mut work.mask;
        mask.clear();
        mask.resize(n_rows * w, 0.0);
        work.river.clear();
        work.river.resize(n_rows * w, 0);
        let scan = &mut work.scan;
        for &i in &self.water[band] {
            let water = &scene.water[i as usize];
            if water.layer != Layer::Water {
                continue;
            }
            scan.clear();
            for ring in &water.rings {
                scan.ring(ring.iter().map(to_px));
            }
            scan.fill(rows.clone(), w, |x, y, c| {
                let i = at(x, y);
                if c > mask[i] {
                    mask[i] = c;
                    work.river[i] = water.river;
                }
            });
        }
        let hidden = &mut work.hidden;
        hidden.clear();
        hidden.extend(mask.iter().map(|&m| m >= 0.999));
        for &i in &self.buildings[band] {
            let b = &scene.buildings[i as usize];
            if b.year <= e.year {
                scan.clear();
                scan.ring(b.ring.iter().map(to_px));
                scan.fill(rows.clone(), w, |x, y, c| hidden[at(x, y)] |= c >= 0.999);
            }
        }
        for &i in &self.streets[band] {
            let st = &scene.streets[i as usize];
            if e.surfaces[i as usize] == Some(Surface::Paved) {
                scan.clear();
                scan.ring(thick_segment(st.a, st.b, st.outer).iter().map(to_px));
                scan.fill(rows.clone(), w, |x, y, c| hidden[at(x, y)] |= c >= 0.999);
            }
        }

        let rgb = &mut work.rgb;
        rgb.clear();
        rgb.resize(n_rows * w, [0.0; 3]);
        for (r, line) in rgb.chunks_exact_mut(w).enumerate() {
            let y = local_y(row0 + r);
            e.land.row(
                y,
                (local_x(0), local_x(w - 1)),
                &e.density,
                &mut work.lattice,
            );
            let hidden = &hidden[r * w..(r + 1) * w];
            for (x, c) in line.iter_mut().enumerate() {
                if hidden[x] {
                    continue;
                }
                let lx = local_x(x);
                let m = Lookup::new(&work.lattice, lx);
                *c = e.ground(lx, y, px, &m, &mut work.memo);
            }
        }

        for layer in [Layer::Bank, Layer::Edge] {
            for &i in &self.water[band] {
                let shape = &scene.water[i as usize];
                if shape.layer != layer {
                    continue;
                }
                scan.clear();
                for ring in &shape.rings {
                    scan.ring(ring.iter().map(to_px));
                }
                let memo = &mut work.memo;
                scan.fill(rows.clone(), w, |x, y, c| {
                    let i = at(x, y);
                    if hidden[i] {
                        return;
                    }
                    let (lx, ly) = (local_x(x), local_y(y));
                    let col = if layer == Layer::Bank {
                        e.bank(lx, ly, px, memo)
                    } else {
                        e.edge(lx, ly, px)
                    };
                    rgb[i] = mix(rgb[i], col, c);
                });
            }
        }
        for (i, &m) in mask.iter().enumerate() {
            if m > 0.0 {
                let (x, y) = (i % w, row0 + i / w);
                let c = e.water(local_x(x), local_y(y), px, work.river[i]);
                rgb[i] = mix(rgb[i], c, m);
            }
        }

        // Gardens of the standing houses: a tint per lot, the yard, hedges.
        for &i in &self.buildings[band] {
            let b = &scene.buildings[i as usize];
            let Some(plot) = b.plot.as_ref().filter(|_| b.year <= e.year) else {
                continue;
            };
            let centre = (
                (b.centroid.0 - scene.origin.0) as f32,
                (b.centroid.1 - scene.origin.1) as f32,
            );
            let [count, bulk] = e.density.sample(centre.0, centre.1);
            let h = b.roof.hash;
            // Courtyards in the dense town, gardens of their own tint elsewhere.
            let courtyard = unit(hash(h, 23, 0)) < paved_share(bulk);
            let (f, warm) = (
                0.9 + 0.2 * unit(hash(h, 21, 0)),
                0.1 * (unit(hash(h, 22, 0)) - 0.5),
            );
            let tint = [f * (1.0 + warm), f, f * (1.0 - warm)];
            scan.clear();
            scan.ring(plot.lot.iter().map(to_px));
            scan.fill(rows.clone(), w, |x, y, c| {
                let i = at(x, y);
                let p = rgb[i];
                rgb[i] = if courtyard {
                    mix(p, e.yard(b, local_x(x), local_y(y), px), c * 0.92)
                } else {
                    mix(p, [p[0] * tint[0], p[1] * tint[1], p[2] * tint[2]], c)
                };
            });
            for yard in &plot.yards {
                scan.clear();
                scan.ring(yard.iter().map(to_px));
                scan.fill(rows.clone(), w, |x, y, c| {
                    let i = at(x, y);
                    rgb[i] = mix(rgb[i], e.yard(b, local_x(x), local_y(y), px), c * 0.9);
                });
            }
            if courtyard || count > 14.0 {
                continue;
            }
            for hedge in &plot.hedges {
                scan.clear();
                scan.ring(hedge.iter().map(to_px));
                let memo = &mut work.memo;
                scan.fill(rows.clone(), w, |x, y, c| {
                    let i = at(x, y);
                    let (col, alpha) = e.hedge(local_x(x), local_y(y), px, memo);
                    rgb[i] = mix(rgb[i], col, c * alpha);
                });
            }
        }

        // Streets: all pavements first, then all carriageways, so crossings stay open.
        for inner in [false, true] {
            for &i in &self.streets[band] {
                let st = &scene.streets[i as usize];
                let Some(surface) = e.surfaces[i as usize] else {
                    continue;
                };
                let half = match (surface, inner) {
                    (Surface::Paved, true) => st.half,
                    (Surface::Paved, false) => st.outer,
                    (Surface::Track, true) => st.half.min(1.3),
                    (Surface::Track, false) => st.half.min(1.3) + 0.6,
                };
                if !inner && half <= st.half {
                    continue;
                }
                scan.clear();
                scan.ring(thick_segment(st.a, st.b, half).iter().map(to_px));
                scan.fill(rows.clone(), w, |x, y, c| {
                    let i = at(x, y);
                    let col = e.street(st, surface, local_x(x), local_y(y), px, inner);
                    rgb[i] = mix(rgb[i], col, c);
                });
            }
        }

        // Construction sites, then cars and barges.
        for &i in &self.buildings[band] {
            let b = &scene.buildings[i as usize];
            if b.year <= e.year {
                continue;
            }
            scan.clear();
            scan.ring(
                b.ring
                    .iter()
                    .map(|p| {
                        let (dx, dy) = (p.0 - b.centroid.0, p.1 - b.centroid.1);
                        let len = dx.hypot(dy).max(0.1);
                        (p.0 + dx / len * 3.5, p.1 + dy / len * 3.5)
                    })
                    .map(|p| g.to_pixel(p)),
            );
            scan.fill(rows.clone(), w, |x, y, c| {
                let i = at(x, y);
                rgb[i] = mix(rgb[i], e.construction(b, local_x(x), local_y(y), px), c);
            });
        }
        for &i in &self.vehicle_bins[band] {
            let v = &self.vehicles[i as usize];
            scan.clear();
            scan.ring(vehicle_outline(v, scene.origin).iter().map(to_px));
            scan.fill(rows.clone(), w, |x, y, c| {
                let i = at(x, y);
                rgb[i] = mix(rgb[i], Epoch::vehicle(v, local_x(x), local_y(y), px), c);
            });
        }

        // Shadows, then roofs.
        mask.fill(0.0);
        for &i in &self.buildings[band] {
            let shadow = &e.shadows[i as usize];
            if shadow.is_empty() {
                continue;
            }
            scan.clear();
            scan.ring(shadow.iter().map(to_px));
            scan.fill(rows.clone(), w, |x, y, c| {
                let i = at(x, y);
                mask[i] = mask[i].max(c);
            });
        }
        for (c, &m) in rgb.iter_mut().zip(mask.iter()) {
            if m > 0.0 {
                *c = [
                    c[0] * (1.0 - 0.52 * m),
                    c[1] * (1.0 - 0.5 * m),
                    c[2] * (1.0 - 0.42 * m),
                ];
            }
        }
        for &i in &self.buildings[band] {
            let b = &scene.buildings[i as usize];
            if b.year > e.year {
                continue;
            }
            scan.clear();
            scan.ring(b.ring.iter().map(to_px));
            scan.fill(rows.clone(), w, |x, y, c| {
                let i = at(x, y);
                rgb[i] = mix(rgb[i], e.roof(&b.roof, local_x(x), local_y(y), px), c);
            });
        }

        // Develop the film.
        let part = hash(stream(e.seed, 103), g.width as i32, g.height as i32);
        for (r, line) in rgb.chunks_exact(w).enumerate() {
            let y = row0 + r;
            let ly = local_y(y);
            let out_line = &mut out[r * w * channels..(r + 1) * w * channels];
            let mut grain = hash(part, y as i32, 0) | 1;
            for (x, c) in line.iter().enumerate() {
                grain ^= grain << 13;
                grain ^= grain >> 17;
                grain ^= grain << 5;
                let d = e.develop(*c, local_x(x), ly, grain);
                let o = &mut out_line[x * channels..(x + 1) * channels];
                for (o, v) in o.iter_mut().zip(d) {
                    *o = (v + 0.5).clamp(0.0, 255.0) as u8;
                }
            }
        }
    }
}
