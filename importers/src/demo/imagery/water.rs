//! Water: the Rhine and the Moselle from `data.gewaesser`, carried on along their centre lines to
//! the edges of the picture, with a stony edge and a bank of meadow and trees.

use super::epochs::Epoch;
use super::ground::Memo;
use super::noise::{fbm, hash, mix, noise, scale, stream, unit};
use super::{Rgb, Xy, bbox_of};

pub(super) struct Water {
    pub(super) rings: Vec<Vec<Xy>>,
    pub(super) bbox: [f64; 4],
    /// 0 Rhine, 1 Moselle.
    pub(super) river: u8,
    pub(super) layer: Layer,
}

/// What a river shape paints, in this order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Layer {
    /// Trees and meadows along the river.
    Bank,
    /// Stones at the water's edge.
    Edge,
    Water,
}

impl Water {
    pub(super) fn new(rings: Vec<Vec<Xy>>, river: u8, layer: Layer) -> Self {
        let bbox = bbox_of(rings.iter().flatten());
        Self {
            rings,
            bbox,
            river,
            layer,
        }
    }
}

/// A river as polygons: one rectangle per piece of the centre line and a disc at each bend. Ends
/// `outside` the city are carried 5 km on, to the edge of the picture; an end inside flows into
/// the other river (the Moselle into the Rhine) and is carried on by its half width.
pub(super) fn river_shapes(
    line: &[Xy],
    half: f64,
    river: u8,
    layer: Layer,
    outside: impl Fn(&Xy) -> bool,
) -> Vec<Water> {
    let mut shapes = Vec::new();
    let n = line.len();
    for (i, w) in line.windows(2).enumerate() {
        let (mut a, mut b) = (w[0], w[1]);
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        if len < 0.01 {
            continue;
        }
        let d = ((b.0 - a.0) / len, (b.1 - a.1) / len);
        let reach = |p: &Xy| if outside(p) { 5_000.0 } else { half };
        if i == 0 {
            let r = reach(&a);
            a = (a.0 - d.0 * r, a.1 - d.1 * r);
        }
        if i + 2 == n {
            let r = reach(&b);
            b = (b.0 + d.0 * r, b.1 + d.1 * r);
        }
        let nrm = (-d.1 * half, d.0 * half);
        shapes.push(Water::new(
            vec![vec![
                (a.0 + nrm.0, a.1 + nrm.1),
                (b.0 + nrm.0, b.1 + nrm.1),
                (b.0 - nrm.0, b.1 - nrm.1),
                (a.0 - nrm.0, a.1 - nrm.1),
            ]],
            river,
            layer,
        ));
        if i > 0 {
            let disc = (0..32)
                .map(|k| {
                    let t = f64::from(k) * std::f64::consts::TAU / 32.0;
                    (a.0 + half * t.cos(), a.1 + half * t.sin())
                })
                .collect();
            shapes.push(Water::new(vec![disc], river, layer));
        }
    }
    shapes
}

impl Epoch<'_> {
    /// Meadow and trees along a river.
    pub(super) fn bank(&self, x: f32, y: f32, px: f32, memo: &mut Memo) -> Rgb {
        let s = self.seed;
        let n = fbm(stream(s, 64), x, y, 6.0, 2, px);
        let c = mix([96.0, 122.0, 66.0], [130.0, 134.0, 92.0], n);
        let (alpha, light, _) = memo
            .trees
            .at(stream(s, 65), (x, y), (8.0, 0.7), self.sun, px);
        if alpha > 0.0 {
            mix(c, scale([58.0, 86.0, 46.0], light), alpha)
        } else {
            c
        }
    }

    /// Stones and gravel at the water's edge.
    pub(super) fn edge(&self, x: f32, y: f32, px: f32) -> Rgb {
        let n = fbm(stream(self.seed, 66), x, y, 1.0, 2, px);
        scale([150.0, 144.0, 132.0], 0.8 + 0.4 * n)
    }

    pub(super) fn water(&self, x: f32, y: f32, px: f32, river: u8) -> Rgb {
        let s = self.seed;
        let base = if river == 1 {
            [58.0, 76.0, 62.0]
        } else {
            [50.0, 66.0, 72.0]
        };
        let broad = noise(stream(s, 61), x * (1.0 / 220.0), y * (1.0 / 220.0));
        let ripples = fbm(stream(s, 62), x, y, 4.0, 2, px);
        let mut c = scale(base, 0.84 + 0.26 * broad + 0.16 * (ripples - 0.5));
        if px < 1.0 && unit(hash(stream(s, 63), (x * 4.0) as i32, (y * 4.0) as i32)) < 0.0004 {
            c = mix(c, [150.0, 160.0, 165.0], 0.4);
        }
        c
    }
}
