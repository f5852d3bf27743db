//! The georeferenced scan of a plan: the plan painted north-up on slightly yellowed paper at
//! half a metre per pixel (zones in their colours, the street area, overbuildable areas hatched
//! by outline, building limits dashed, building lines solid, the Geltungsbereich as a broad
//! broken band), as a PNG with its world file (`.pgw`) in EPSG:25832, so that GIS and the map
//! can lay it over the city.

// Pixel arithmetic: coordinates are small and non-negative where they are cast.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]

use image::ImageEncoder as _;
use image::codecs::png::PngEncoder;

use super::layout::Drawing;
use crate::demo::geometry::Xy;

/// Metres per pixel.
const PIXEL: f64 = 0.5;
/// Paper around the Geltungsbereich (metres).
const MARGIN: f64 = 15.0;

const PAPER: [u8; 3] = [246, 242, 228];
const INK: [u8; 3] = [40, 40, 48];
const STREET: [u8; 3] = [250, 236, 190];
const BAULINIE: [u8; 3] = [200, 40, 40];
const BAUGRENZE: [u8; 3] = [30, 60, 150];

/// A painted scan.
pub struct Scan {
    /// The PNG.
    pub png: Result<Vec<u8>, image::ImageError>,
    /// The world file: pixel size, rotation terms, the centre of the upper-left pixel.
    pub world_file: String,
}

/// A raster in world coordinates.
struct Canvas {
    width: usize,
    height: usize,
    x0: f64,
    y1: f64,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(bbox: [f64; 4]) -> Self {
        let x0 = ((bbox[0] - MARGIN) / PIXEL).floor() * PIXEL;
        let y0 = ((bbox[1] - MARGIN) / PIXEL).floor() * PIXEL;
        let x1 = ((bbox[2] + MARGIN) / PIXEL).ceil() * PIXEL;
        let y1 = ((bbox[3] + MARGIN) / PIXEL).ceil() * PIXEL;
        let width = ((x1 - x0) / PIXEL).round() as usize;
        let height = ((y1 - y0) / PIXEL).round() as usize;
        let mut pixels = Vec::with_capacity(width * height * 3);
        for row in 0..height {
            for col in 0..width {
                // Paper yellowed towards the edges, with faint fibres.
                let dx = col as f64 / width as f64 - 0.5;
                let dy = row as f64 / height as f64 - 0.5;
                let age = (dx * dx + dy * dy) * 40.0;
                let fibre = if (col * 7 + row * 13) % 97 == 0 {
                    6.0
                } else {
                    0.0
                };
                for (k, &c) in PAPER.iter().enumerate() {
                    let tint = if k == 2 { age * 1.6 } else { age * 0.6 };
                    pixels.push((f64::from(c) - tint - fibre).clamp(0.0, 255.0) as u8);
                }
            }
        }
        Self {
            width,
            height,
            x0,
            y1,
            pixels,
        }
    }

    fn to_pixel(&self, p: Xy) -> (f64, f64) {
        ((p.0 - self.x0) / PIXEL, (self.y1 - p.1) / PIXEL)
    }

    fn put(&mut self, col: i64, row: i64, colour: [u8; 3], opacity: f64) {
        if col < 0 || row < 0 || col >= self.width as i64 || row >= self.height as i64 {
            return;
        }
        let i = (row as usize * self.width + col as usize) * 3;
        for (pixel, &c) in self.pixels[i..i + 3].iter_mut().zip(&colour) {
            let old = f64::from(*pixel);
            // Printed colour multiplies with the paper, as ink does.
            let ink = old * f64::from(c) / 255.0;
            *pixel = (old + (ink - old) * opacity).round() as u8;
        }
    }

    /// Fills rings (even-odd, so later rings cut holes) row by row.
    fn fill(&mut self, rings: &[Vec<Xy>], colour: [u8; 3], opacity: f64) {
        let rings: Vec<Vec<(f64, f64)>> = rings
            .iter()
            .map(|r| r.iter().map(|&p| self.to_pixel(p)).collect())
            .collect();
        for row in 0..self.height {
            let y = row as f64 + 0.5;
            let mut crossings = Vec::new();
            for ring in &rings {
                for (i, a) in ring.iter().enumerate() {
                    let b = ring[(i + 1) % ring.len()];
                    if (a.1 <= y) != (b.1 <= y) {
                        crossings.push(a.0 + (y - a.1) / (b.1 - a.1) * (b.0 - a.0));
                    }
                }
            }
            crossings.sort_by(f64::total_cmp);
            for pair in crossings.chunks_exact(2) {
                let from = (pair[0] - 0.5).ceil().max(0.0) as i64;
                let to = (pair[1] - 0.5).floor() as i64;
                for col in from..=to {
                    self.put(col, row as i64, colour, opacity);
                }
            }
        }
    }

    /// Strokes a line `width` pixels wide; `dash` is (on, off) in pixels.
    fn stroke(&mut self, line: &[Xy], width: f64, colour: [u8; 3], dash: Option<(f64, f64)>) {
        let half = width / 2.0;
        let mut travelled = 0.0;
        for pair in line.windows(2) {
            let (a, b) = (self.to_pixel(pair[0]), self.to_pixel(pair[1]));
            let length = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
            let steps = (length * 2.0).ceil().max(1.0) as usize;
            for s in 0..=steps {
                let t = s as f64 / steps as f64;
                let along = travelled + t * length;
                if let Some((on, off)) = dash
                    && along % (on + off) > on
                {
                    continue;
                }
                let (x, y) = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
                let r = half.ceil() as i64;
                for dy in -r..=r {
                    for dx in -r..=r {
                        let (px, py) = (x.floor() as i64 + dx, y.floor() as i64 + dy);
                        let d =
                            ((px as f64 + 0.5 - x).powi(2) + (py as f64 + 0.5 - y).powi(2)).sqrt();
                        if d <= half {
                            self.put(px, py, colour, 1.0);
                        }
                    }
                }
            }
            travelled += length;
        }
    }
}

fn closed(ring: &[Xy]) -> Vec<Xy> {
    let mut line = ring.to_vec();
    if let Some(&first) = ring.first() {
        line.push(first);
    }
    line
}

/// Paints the plan.
pub fn paint(drawing: &Drawing) -> Scan {
    let mut canvas = Canvas::new(drawing.bbox());
    canvas.fill(&drawing.streets, STREET, 0.9);
    for zone in &drawing.zones {
        canvas.fill(std::slice::from_ref(&zone.ring), zone.kind.colour(), 0.85);
        canvas.stroke(&closed(&zone.ring), 1.0, INK, None);
    }
    for ring in &drawing.overbuildable {
        // The overbuildable area a shade darker than its zone.
        canvas.fill(std::slice::from_ref(ring), [225, 215, 205], 0.5);
    }
    for line in &drawing.baugrenzen {
        canvas.stroke(line, 2.0, BAUGRENZE, Some((10.0, 5.0)));
    }
    for line in &drawing.baulinien {
        canvas.stroke(line, 2.5, BAULINIE, None);
    }
    canvas.stroke(&closed(&drawing.boundary), 5.0, INK, Some((24.0, 8.0)));
    let mut png = Vec::new();
    let encoded = PngEncoder::new(&mut png)
        .write_image(
            &canvas.pixels,
            canvas.width as u32,
            canvas.height as u32,
            image::ExtendedColorType::Rgb8,
        )
        .map(|()| png);
    // Lines: x size, rotation, rotation, y size (negative: rows go south), x and y of the
    // centre of the upper-left pixel.
    let world_file = format!(
        "{PIXEL:.6}\n0.000000\n0.000000\n{:.6}\n{:.6}\n{:.6}\n",
        -PIXEL,
        canvas.x0 + PIXEL / 2.0,
        canvas.y1 - PIXEL / 2.0
    );
    Scan {
        png: encoded,
        world_file,
    }
}
