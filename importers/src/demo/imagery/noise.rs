//! Hashes, value noise and colour helpers: the randomness of every texture, the same for the
//! same seed.

use super::Rgb;

pub(super) fn seed_u32(seed: u64) -> u32 {
    (seed ^ (seed >> 32)) as u32 ^ 0x5EED_1A6E
}

/// An independent seed for each use of the noise, named by `k`.
pub(super) fn stream(seed: u32, k: u32) -> u32 {
    seed ^ k.wrapping_mul(0x9E37_79B9)
}

pub(super) fn hash(seed: u32, x: i32, y: i32) -> u32 {
    let mut h = seed
        ^ (x as u32).wrapping_mul(0x8DA6_B343)
        ^ (y as u32).wrapping_mul(0xD816_3841).rotate_left(13);
    h = (h ^ (h >> 16)).wrapping_mul(0x7FEB_352D);
    h = (h ^ (h >> 15)).wrapping_mul(0x846C_A68B);
    h ^ (h >> 16)
}

/// Uniform in [0, 1) from the high bits.
pub(super) fn unit(h: u32) -> f32 {
    (h >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Uniform in [0, 1) from the low bits (nearly independent of [`unit`]).
pub(super) fn unit_low(h: u32) -> f32 {
    (h & 0xFFFF) as f32 * (1.0 / 65_536.0)
}

/// `x.floor()` as an integer, without the library call that `f32::floor` is on plain x86-64.
pub(super) fn ifloor(x: f32) -> i32 {
    let i = x as i32;
    i - i32::from((i as f32) > x)
}

fn ffloor(x: f32) -> f32 {
    ifloor(x) as f32
}

pub(super) fn fract(x: f32) -> f32 {
    x - ffloor(x)
}

/// Side of the random lattice that [`noise`] reads; it repeats after that many features.
const LATTICE: usize = 256;

/// Random values in [0, 1) on a 256 x 256 torus, the same for every seed (seeds shift it).
fn lattice() -> &'static [f32] {
    static VALUES: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    VALUES.get_or_init(|| {
        (0..LATTICE * LATTICE)
            .map(|i| {
                unit(hash(
                    0x1A77_1CE5,
                    (i % LATTICE) as i32,
                    (i / LATTICE) as i32,
                ))
            })
            .collect()
    })
}

/// Smooth value noise in [0, 1) on a unit lattice.
pub(super) fn noise(seed: u32, x: f32, y: f32) -> f32 {
    let values = lattice();
    let m = seed.wrapping_mul(0x9E37_79B9);
    let (ix, iy) = (ifloor(x), ifloor(y));
    let (tx, ty) = (x - ix as f32, y - iy as f32);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let mask = LATTICE - 1;
    let x0 = (ix.wrapping_add((m >> 24) as i32) as usize) & mask;
    let y0 = (iy.wrapping_add(((m >> 16) & 0xFF) as i32) as usize) & mask;
    let (x1, y1) = ((x0 + 1) & mask, ((y0 + 1) & mask) * LATTICE);
    let y0 = y0 * LATTICE;
    let all = LATTICE * LATTICE - 1;
    let (a, b, c, d) = (
        values[(y0 + x0) & all],
        values[(y0 + x1) & all],
        values[(y1 + x0) & all],
        values[(y1 + x1) & all],
    );
    let top = a + (b - a) * sx;
    let bottom = c + (d - c) * sx;
    top + (bottom - top) * sy
}

/// How much of a feature of `size` metres survives at `pixel` metres: none below two pixels.
pub(super) fn detail(size: f32, pixel: f32) -> f32 {
    (size / pixel - 1.0).clamp(0.0, 1.0)
}

/// Value noise of `octaves` octaves, the first with features of `size` metres; octaves finer
/// than the pixel fade to their mean.
pub(super) fn fbm(seed: u32, x: f32, y: f32, size: f32, octaves: u32, pixel: f32) -> f32 {
    let (mut sum, mut total, mut amp, mut size) = (0.0, 0.0, 1.0, size);
    let mut inv = 1.0 / size;
    for o in 0..octaves {
        let keep = detail(size, pixel);
        let v = if keep > 0.0 {
            0.5 + (noise(seed.wrapping_add(o), x * inv, y * inv) - 0.5) * keep
        } else {
            0.5
        };
        sum += v * amp;
        total += amp;
        amp *= 0.5;
        size *= 0.5;
        inv *= 2.0;
    }
    sum / total
}

pub(super) fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

pub(super) fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

pub(super) fn scale(c: Rgb, f: f32) -> Rgb {
    [c[0] * f, c[1] * f, c[2] * f]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_smooth_and_in_range() {
        let mut last = noise(1, 0.0, 0.3);
        for i in 1..1_000 {
            let v = noise(1, i as f32 * 0.01, 0.3);
            assert!((0.0..1.0).contains(&v));
            assert!((v - last).abs() < 0.05, "jump at {i}");
            last = v;
        }
        assert!(
            (fbm(3, 10.0, 10.0, 0.1, 3, 2.0) - 0.5).abs() < 1e-6,
            "sub-pixel detail fades"
        );
    }
}
