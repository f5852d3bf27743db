//! The ground between the vectors: fields in strips (narrow before the land consolidation of
//! the 1960s) with crops, tracks and orchards, meadows, forest with its ragged edge, and gardens
//! and courtyards with trees where houses stand. The tree crowns and the per-thread memory of
//! the painters live here too; river banks and hedges use them.

use super::Rgb;
use super::epochs::Epoch;
use super::landscape::{
    CLUMPS, DRY, FOREST, GROVE, Lookup, PATCH, RAGGED, SETTLED, STAND, WARP_X, WARP_Y,
};
use super::noise::{
    detail, fbm, fract, hash, ifloor, mix, noise, scale, smoothstep, stream, unit, unit_low,
};

/// Inverse crown radii, in lattice units, from 0.36 to 0.56: with the centres at most 0.25 from
/// the middle of their cell, even a ragged crown stays within reach of [`Crowns::at`], which
/// looks at the four cells nearest to a point.
const INV_RADIUS: [f32; 256] = {
    let mut table = [0.0; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = 1.0 / (0.36 + 0.2 * i as f32 / 255.0);
        i += 1;
    }
    table
};

/// Tree crowns on a jittered lattice. Remembers the four crowns around the last point, which
/// neighbouring pixels nearly always share.
#[derive(Default)]
pub(super) struct Crowns {
    key: Option<(u32, u32, i32, i32)>,
    /// Centre (lattice units), inverse radius and hash of each.
    near: [(f32, f32, f32, u32); 4],
}

impl Crowns {
    /// The crown of a lattice of `spacing` metres at a point: its coverage (0 in the gaps), its
    /// brightness under the sun (`sun` points towards it) and a hash that names it.
    /// Only a share `keep` of the crowns is there (by their hash).
    pub(super) fn at(
        &mut self,
        seed: u32,
        (x, y): (f32, f32),
        (spacing, keep): (f32, f32),
        sun: (f32, f32),
        pixel: f32,
    ) -> (f32, f32, u32) {
        let inv = 1.0 / spacing;
        let (gx, gy) = (x * inv, y * inv);
        let (cx, cy) = (ifloor(gx), ifloor(gy));
        let bx = if gx - (cx as f32) < 0.5 { cx - 1 } else { cx };
        let by = if gy - (cy as f32) < 0.5 { cy - 1 } else { cy };
        let key = (seed, spacing.to_bits(), bx, by);
        if self.key != Some(key) {
            for (k, near) in self.near.iter_mut().enumerate() {
                let (ix, iy) = (bx + (k & 1) as i32, by + (k >> 1) as i32);
                let h = hash(seed, ix, iy);
                *near = (
                    ix as f32 + 0.25 + 0.5 * unit(h),
                    iy as f32 + 0.25 + 0.5 * unit_low(h),
                    INV_RADIUS[((h >> 4) & 0xFF) as usize],
                    h,
                );
            }
            self.key = Some(key);
        }
        let mut best = (f32::MAX, 0.0, 0.0, 0);
        for &(jx, jy, inv_r, h) in &self.near {
            if unit(h) >= keep {
                continue;
            }
            let (dx, dy) = ((gx - jx) * inv_r, (gy - jy) * inv_r);
            let d2 = dx * dx + dy * dy;
            if d2 < best.0 {
                best = (d2, dx, dy, h);
            }
        }
        if best.0 >= 1.3 {
            return (0.0, 0.0, best.3);
        }
        // A ragged outline and clumps of leaves, where pixels are small enough to show them.
        let ragged = detail(1.1, pixel);
        let d2 = if ragged > 0.0 {
            best.0 + (noise(seed ^ 0x0C40, x * 0.9, y * 0.9) - 0.5) * 0.6 * ragged
        } else {
            best.0
        };
        if d2 >= 1.0 {
            return (0.0, 0.0, best.3);
        }
        let z = (1.0 - d2).max(0.0).sqrt();
        let light = 0.6 + 0.5 * (0.45 * z + 0.55 * (best.1 * sun.0 + best.2 * sun.1));
        (smoothstep(1.0, 0.75, d2), light.max(0.45), best.3)
    }
}

/// The field parcel of the last point, which neighbouring pixels nearly always share.
#[derive(Default)]
struct Parcel {
    block: Option<(i32, i32)>,
    block_hash: u32,
    /// Direction of the strips.
    cos: f32,
    sin: f32,
    strip: f32,
    strip_key: Option<i32>,
    strip_hash: u32,
    length: f32,
    shift: f32,
    crop_key: Option<i32>,
    crop: Crop,
    tone: f32,
    orchard_roll: f32,
}

/// Per-thread memory of the ground painter.
#[derive(Default)]
pub(super) struct Memo {
    parcel: Parcel,
    pub(super) trees: Crowns,
    tree_shadows: Crowns,
    forest: Crowns,
    forest_edge: Crowns,
    pub(super) shrubs: Crowns,
}

#[derive(Clone, Copy, Default)]
pub(super) enum Crop {
    Soil,
    Green,
    Ripe,
    Stubble,
    #[default]
    Grass,
    Rape,
}

impl Crop {
    fn colour(self) -> Rgb {
        match self {
            Self::Soil => [126.0, 112.0, 94.0],
            Self::Green => [106.0, 128.0, 72.0],
            Self::Ripe => [184.0, 168.0, 122.0],
            Self::Stubble => [192.0, 182.0, 150.0],
            Self::Grass => [114.0, 134.0, 78.0],
            Self::Rape => [198.0, 188.0, 92.0],
        }
    }
}

impl Epoch<'_> {
    fn crop(&self, roll: f32) -> Crop {
        let mut acc = 0.0;
        for &(crop, weight) in &self.crops {
            acc += weight;
            if roll < acc {
                return crop;
            }
        }
        Crop::Grass
    }

    /// The ground at local coordinates: gardens and yards where houses stand, fields, meadows
    /// and forest elsewhere.
    pub(super) fn ground(&self, x: f32, y: f32, px: f32, m: &Lookup<'_>, memo: &mut Memo) -> Rgb {
        let [count, bulk] = m.density();
        let urban = smoothstep(0.7, 2.6, count + m.land(RAGGED));
        if urban >= 1.0 {
            return self.garden(x, y, px, bulk, m, memo);
        }
        let rural = self.rural(x, y, px, m, memo);
        if urban <= 0.0 {
            return rural;
        }
        mix(rural, self.garden(x, y, px, bulk, m, memo), urban)
    }

    fn garden(&self, x: f32, y: f32, px: f32, bulk: f32, m: &Lookup<'_>, memo: &mut Memo) -> Rgb {
        let s = self.seed;
        let paved = paved_share(bulk);
        let n = fbm(stream(s, 23), x, y, 8.0, 2, px);
        let lawn = mix(
            [92.0, 116.0, 66.0],
            [130.0, 132.0, 94.0],
            m.land(DRY) * 0.6 + n * 0.4,
        );
        let mut c = mix(
            scale(lawn, 0.9 + 0.2 * n),
            [138.0, 134.0, 126.0],
            paved * 0.5,
        );
        let grove = m.land(GROVE);
        let share = 0.1 + 0.55 * smoothstep(0.5, 0.72, grove) - 0.1 * paved;
        let (alpha, light, id) = memo
            .trees
            .at(stream(s, 26), (x, y), (7.0, share), self.sun, px);
        if alpha > 0.0 {
            let leaf = mix([56.0, 84.0, 44.0], [86.0, 104.0, 56.0], unit_low(id));
            c = mix(c, scale(leaf, light), alpha);
        } else if px < 1.0 {
            // Shadow of a tree on the sun's side.
            let at = (x + self.sun.0 * 3.5, y + self.sun.1 * 3.5);
            let (alpha, _, _) = memo
                .tree_shadows
                .at(stream(s, 26), at, (7.0, share), self.sun, px);
            if alpha > 0.0 {
                c = scale(c, 1.0 - 0.45 * alpha);
            }
        }
        c
    }

    fn rural(&self, x: f32, y: f32, px: f32, m: &Lookup<'_>, memo: &mut Memo) -> Rgb {
        const EDGE: f32 = 0.585;
        let s = self.seed;
        let forest = m.land(FOREST);
        if forest > EDGE + 0.012 {
            return self.forest(x, y, px, m, memo);
        }
        let field = self.field(x, y, px, m, &mut memo.parcel);
        if forest < EDGE - 0.012 {
            return field;
        }
        // The forest edge: single crowns over the field.
        let t = smoothstep(EDGE - 0.012, EDGE + 0.012, forest);
        let (alpha, light, _) =
            memo.forest_edge
                .at(stream(s, 52), (x, y), (5.5, t * 1.4), self.sun, px);
        if alpha > 0.0 {
            mix(field, scale([52.0, 80.0, 42.0], light), alpha)
        } else {
            field
        }
    }

    fn forest(&self, x: f32, y: f32, px: f32, m: &Lookup<'_>, memo: &mut Memo) -> Rgb {
        let s = self.seed;
        let conifer = m.land(STAND) > 0.5;
        let (base, spacing) = if conifer {
            ([46.0, 70.0, 48.0], 4.2)
        } else {
            ([70.0, 98.0, 52.0], 6.0)
        };
        let (alpha, light, _) = memo
            .forest
            .at(stream(s, 52), (x, y), (spacing, 1.0), self.sun, px);
        let clumps = m.land(CLUMPS);
        let canopy = 0.5 + (light - 0.5) * alpha;
        scale(base, canopy * (0.8 + 0.4 * clumps))
    }

    fn field(&self, x: f32, y: f32, px: f32, m: &Lookup<'_>, p: &mut Parcel) -> Rgb {
        const BLOCK: f32 = 420.0;
        let s = self.seed;
        let settled = m.land(SETTLED);
        let (wx, wy) = (x + m.land(WARP_X), y + m.land(WARP_Y));
        let (bx, by) = (ifloor(wx * (1.0 / BLOCK)), ifloor(wy * (1.0 / BLOCK)));
        if p.block != Some((bx, by)) {
            // Parcels are strips; neighbouring blocks run in similar directions.
            let hb = hash(stream(s, 43), bx, by);
            let trend =
                noise(stream(s, 47), bx as f32 * 0.3, by as f32 * 0.3) * 2.0 * std::f32::consts::PI;
            let (sin, cos) = (trend + (unit(hb) - 0.5) * 0.8).sin_cos();
            p.block = Some((bx, by));
            p.block_hash = hb;
            (p.cos, p.sin) = (cos, sin);
            p.strip = self.strips.0 + (self.strips.1 - self.strips.0) * unit(hash(hb, 1, 0));
            p.strip_key = None;
        }
        let (u, v) = (x * p.cos + y * p.sin, y * p.cos - x * p.sin);
        let sv = v / p.strip;
        let iv = ifloor(sv);
        if p.strip_key != Some(iv) {
            p.strip_hash = hash(p.block_hash, iv, 7);
            p.length = self.lengths.0 + (self.lengths.1 - self.lengths.0) * unit(p.strip_hash);
            p.shift = unit_low(p.strip_hash);
            p.strip_key = Some(iv);
            p.crop_key = None;
        }
        let su = u / p.length + p.shift;
        let iu = ifloor(su);
        if p.crop_key != Some(iu) {
            let hp = hash(p.strip_hash ^ (self.year as u32), iu, 3);
            p.crop = self.crop(unit(hp));
            p.tone = 0.9 + 0.2 * unit(hash(hp, 1, 1));
            p.orchard_roll = unit(hash(hp, 5, 5));
            p.crop_key = Some(iu);
        }
        let orchard = settled > 0.05 && p.orchard_roll < 0.1 + 0.3 * settled;
        let crop = if orchard { Crop::Grass } else { p.crop };
        // Soil and moisture patterns.
        let mut c = scale(crop.colour(), p.tone * (0.9 + 0.2 * m.land(PATCH)));
        match crop {
            Crop::Soil => {
                let furrows = ((fract(v * (1.0 / 0.9)) - 0.5).abs() * 4.0 - 1.0) * 0.08;
                c = scale(c, 1.0 + furrows * detail(0.9, px));
            }
            Crop::Green | Crop::Ripe | Crop::Rape => {
                let d = (fract(v * (1.0 / 20.0)) - 0.5).abs() * 20.0;
                if d < (0.3f32).max(px * 0.5) {
                    let dark = 0.2 * (0.6 / px).min(1.0);
                    c = mix(c, [120.0, 106.0, 84.0], dark);
                }
            }
            Crop::Stubble => {
                let d = (fract(v * (1.0 / 7.0)) - 0.5).abs() * 7.0;
                if d < (0.7f32).max(px * 0.5) {
                    c = mix(c, [170.0, 154.0, 112.0], 0.45 * (1.4 / px).min(1.0));
                }
            }
            Crop::Grass => {
                let n = fbm(stream(s, 45), x, y, 6.0, 1, px);
                c = scale(c, 0.9 + 0.2 * n);
            }
        }
        if orchard {
            c = self.orchard(c, u, v, (p.cos, p.sin));
        }
        // A strip of grass between parcels and gravel tracks between blocks.
        let (fv, fu) = (sv - iv as f32, su - iu as f32);
        let edge = (fv.min(1.0 - fv) * p.strip).min(fu.min(1.0 - fu) * p.length);
        if edge < (0.5f32).max(px * 0.5) {
            c = mix(c, [108.0, 126.0, 74.0], 0.5 * (1.0 / px).min(1.0));
        }
        let fx = wx * (1.0 / BLOCK) - bx as f32;
        let fy = wy * (1.0 / BLOCK) - by as f32;
        let track = fx.min(1.0 - fx).min(fy).min(1.0 - fy) * BLOCK;
        if track < (1.6f32).max(px * 0.5) {
            let t = fbm(stream(s, 46), x, y, 2.0, 1, px);
            c = mix(
                c,
                scale([178.0, 166.0, 140.0], 0.9 + 0.2 * t),
                (3.2 / px).min(1.0),
            );
        }
        c
    }

    /// Fruit trees in rows, 9 m apart, in the parcel frame `(u, v)` turned by `(cos, sin)`.
    fn orchard(&self, c: Rgb, u: f32, v: f32, (cs, sn): (f32, f32)) -> Rgb {
        const SPACING: f32 = 9.0;
        const RADIUS: f32 = 0.36;
        let sun = (
            self.sun.0 * cs + self.sun.1 * sn,
            self.sun.1 * cs - self.sun.0 * sn,
        );
        let at = |u: f32, v: f32| {
            let (cu, cv) = (
                (fract(u * (1.0 / SPACING)) - 0.5) * (1.0 / RADIUS),
                (fract(v * (1.0 / SPACING)) - 0.5) * (1.0 / RADIUS),
            );
            (cu, cv, cu * cu + cv * cv)
        };
        let (cu, cv, d2) = at(u, v);
        if d2 < 1.0 {
            let z = (1.0 - d2).sqrt();
            let light = 0.6 + 0.5 * (0.45 * z + 0.55 * (cu * sun.0 + cv * sun.1));
            return mix(
                c,
                scale([70.0, 96.0, 50.0], light),
                smoothstep(1.0, 0.7, d2),
            );
        }
        let (_, _, d2) = at(u + sun.0 * 2.5, v + sun.1 * 2.5);
        if d2 < 1.0 { scale(c, 0.62) } else { c }
    }
}

/// The share of paved courtyards among the gardens, from the bulk of the buildings around.
pub(super) fn paved_share(bulk: f32) -> f32 {
    ((bulk - 1.2) / 1.8).clamp(0.0, 0.85)
}
