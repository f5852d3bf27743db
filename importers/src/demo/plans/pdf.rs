//! The Planurkunde of a plan: one A3 landscape page with the plan drawing north-up at a round
//! scale (zones in colour with their Nutzungsschablone, building limits dashed, building lines
//! solid, the Geltungsbereich as a broad broken line), and beside it the title block, the legend
//! and the Verfahrensvermerke. Written with `pdf-writer` in the PDF base fonts (Helvetica,
//! `WinAnsi`), so the file carries no font and stays a few kilobytes.

// Page arithmetic in points: small values.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]

use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str, TextStr};

use super::PlanSpec;
use super::layout::{Drawing, Use, bbox};
use crate::demo::geometry::Xy;
use crate::xplan::codes;

const WIDTH: f32 = 1190.55;
const HEIGHT: f32 = 841.89;
/// The drawing's frame: left, bottom, right, top.
const FRAME: [f32; 4] = [30.0, 30.0, 820.0, 811.0];
/// Points per millimetre.
const PT_PER_MM: f64 = 72.0 / 25.4;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// Text in the `WinAnsi` encoding of the base fonts (German letters, dashes and quotes; anything
/// else becomes `?`).
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '–' => 0x96,
            '—' => 0x97,
            '„' => 0x84,
            '“' => 0x93,
            '”' => 0x94,
            '€' => 0x80,
            c if (c as u32) < 0x80 || (0xA0..=0xFF).contains(&(c as u32)) => c as u8,
            _ => b'?',
        })
        .collect()
}

fn rgb(c: [u8; 3]) -> (f32, f32, f32) {
    (
        f32::from(c[0]) / 255.0,
        f32::from(c[1]) / 255.0,
        f32::from(c[2]) / 255.0,
    )
}

/// Maps world coordinates to the page at a round scale.
struct Sheet {
    origin: Xy,
    centre: (f32, f32),
    points_per_metre: f64,
    scale: u32,
}

impl Sheet {
    fn new(drawing: &Drawing) -> Self {
        let [x0, y0, x1, y1] = bbox(&drawing.boundary);
        let room = f64::from((FRAME[2] - FRAME[0]).min(FRAME[3] - FRAME[1]) - 60.0);
        let extent = (x1 - x0).max(y1 - y0);
        let scale = [500, 1000, 1500, 2000, 2500, 5000, 10_000]
            .into_iter()
            .find(|s| extent * 1000.0 / f64::from(*s) * PT_PER_MM <= room)
            .unwrap_or(20_000);
        Self {
            origin: (f64::midpoint(x0, x1), f64::midpoint(y0, y1)),
            centre: (
                f32::midpoint(FRAME[0], FRAME[2]),
                f32::midpoint(FRAME[1], FRAME[3]),
            ),
            points_per_metre: 1000.0 / f64::from(scale) * PT_PER_MM,
            scale,
        }
    }

    fn at(&self, p: Xy) -> (f32, f32) {
        (
            self.centre.0 + ((p.0 - self.origin.0) * self.points_per_metre) as f32,
            self.centre.1 + ((p.1 - self.origin.1) * self.points_per_metre) as f32,
        )
    }

    fn path(&self, c: &mut Content, points: &[Xy], close: bool) {
        for (i, &p) in points.iter().enumerate() {
            let (x, y) = self.at(p);
            if i == 0 {
                c.move_to(x, y);
            } else {
                c.line_to(x, y);
            }
        }
        if close {
            c.close_path();
        }
    }
}

fn write(c: &mut Content, font: Name<'_>, size: f32, x: f32, y: f32, text: &str) {
    c.begin_text();
    c.set_font(font, size);
    c.next_line(x, y);
    c.show(Str(&win_ansi(text)));
    c.end_text();
}

fn centroid(ring: &[Xy]) -> Xy {
    let n = ring.len().max(1) as f64;
    let (sx, sy) = ring
        .iter()
        .fold((0.0, 0.0), |(sx, sy), p| (sx + p.0, sy + p.1));
    (sx / n, sy / n)
}

/// The drawing: street area, zones with their labels, overbuildable areas, limits, lines and
/// the Geltungsbereich.
fn plan_drawing(c: &mut Content, sheet: &Sheet, drawing: &Drawing) {
    let (r, g, b) = rgb([250, 236, 190]);
    c.set_fill_rgb(r, g, b);
    for ring in &drawing.streets {
        sheet.path(c, ring, true);
    }
    c.fill_even_odd();
    c.set_line_width(0.5);
    c.set_stroke_rgb(0.15, 0.15, 0.2);
    for zone in &drawing.zones {
        let (r, g, b) = rgb(zone.kind.colour());
        c.set_fill_rgb(r, g, b);
        sheet.path(c, &zone.ring, true);
        c.fill_nonzero_and_stroke();
    }
    c.set_fill_rgb(1.0, 1.0, 1.0);
    for ring in &drawing.overbuildable {
        c.save_state();
        sheet.path(c, ring, true);
        c.set_fill_rgb(0.95, 0.92, 0.88);
        c.fill_nonzero();
        c.restore_state();
    }
    c.set_line_width(1.2);
    c.set_stroke_rgb(0.12, 0.24, 0.6);
    c.set_dash_pattern([6.0, 3.0], 0.0);
    for line in &drawing.baugrenzen {
        sheet.path(c, line, false);
        c.stroke();
    }
    c.set_dash_pattern([], 0.0);
    c.set_line_width(1.6);
    c.set_stroke_rgb(0.8, 0.15, 0.15);
    for line in &drawing.baulinien {
        sheet.path(c, line, false);
        c.stroke();
    }
    c.set_line_width(3.0);
    c.set_stroke_rgb(0.1, 0.1, 0.1);
    c.set_dash_pattern([14.0, 5.0], 0.0);
    sheet.path(c, &drawing.boundary, true);
    c.stroke();
    c.set_dash_pattern([], 0.0);
    c.set_fill_rgb(0.1, 0.1, 0.1);
    for zone in &drawing.zones {
        let (x, y) = sheet.at(centroid(&zone.ring));
        let label = zone.kind.label();
        let size = 6.5;
        let half = label.chars().count() as f32 * size * 0.26;
        write(c, REGULAR, size, x - half, y - 2.0, &label);
    }
}

/// The frame, north arrow and scale under the drawing.
fn frame(c: &mut Content, sheet: &Sheet) {
    c.set_line_width(1.0);
    c.set_stroke_rgb(0.0, 0.0, 0.0);
    c.rect(FRAME[0], FRAME[1], FRAME[2] - FRAME[0], FRAME[3] - FRAME[1]);
    c.stroke();
    let (nx, ny) = (FRAME[2] - 40.0, FRAME[3] - 60.0);
    c.set_fill_rgb(0.0, 0.0, 0.0);
    c.move_to(nx, ny + 30.0);
    c.line_to(nx - 8.0, ny);
    c.line_to(nx + 8.0, ny);
    c.close_path();
    c.fill_nonzero();
    write(c, BOLD, 12.0, nx - 4.5, ny - 14.0, "N");
    write(
        c,
        REGULAR,
        9.0,
        FRAME[0] + 10.0,
        FRAME[1] + 10.0,
        &format!(
            "Maßstab 1:{}   Koordinatenreferenzsystem ETRS89 / UTM Zone 32N (EPSG:25832)",
            sheet.scale
        ),
    );
}

/// The title block, legend and procedure notes right of the drawing.
fn side(c: &mut Content, spec: &PlanSpec, drawing: &Drawing) {
    let x = FRAME[2] + 20.0;
    let mut y = FRAME[3] - 20.0;
    let line = |c: &mut Content, y: &mut f32, font, size: f32, text: &str| {
        write(c, font, size, x, *y, text);
        *y -= size + 5.0;
    };
    line(c, &mut y, BOLD, 14.0, "Stadt Koblenz");
    line(
        c,
        &mut y,
        REGULAR,
        10.0,
        &format!("Stadtteil {}", spec.district),
    );
    line(
        c,
        &mut y,
        BOLD,
        16.0,
        &format!("Bebauungsplan Nr. {}", spec.nummer),
    );
    line(c, &mut y, BOLD, 13.0, spec.name);
    let stand = codes::rechtsstand(spec.rechtsstand).unwrap_or(spec.rechtsstand);
    line(c, &mut y, REGULAR, 10.0, &format!("Rechtsstand: {stand}"));
    line(
        c,
        &mut y,
        REGULAR,
        9.0,
        "Synthetische Demodaten – kein rechtsverbindlicher Plan",
    );
    y -= 10.0;
    line(c, &mut y, BOLD, 11.0, "Zeichenerklärung");
    let mut kinds: Vec<Use> = Vec::new();
    for zone in &drawing.zones {
        if !kinds.iter().any(|k| k.legend() == zone.kind.legend()) {
            kinds.push(zone.kind);
        }
    }
    for kind in kinds {
        let (r, g, b) = rgb(kind.colour());
        c.set_fill_rgb(r, g, b);
        c.rect(x, y - 2.0, 22.0, 10.0);
        c.fill_nonzero();
        c.set_fill_rgb(0.0, 0.0, 0.0);
        write(c, REGULAR, 9.0, x + 30.0, y, kind.legend());
        y -= 15.0;
    }
    let legend_line = |c: &mut Content,
                       y: &mut f32,
                       colour: (f32, f32, f32),
                       width: f32,
                       dash: &[f32],
                       text: &str| {
        c.set_line_width(width);
        c.set_stroke_rgb(colour.0, colour.1, colour.2);
        c.set_dash_pattern(dash.iter().copied(), 0.0);
        c.move_to(x, *y + 3.0);
        c.line_to(x + 22.0, *y + 3.0);
        c.stroke();
        c.set_dash_pattern([], 0.0);
        write(c, REGULAR, 9.0, x + 30.0, *y, text);
        *y -= 15.0;
    };
    legend_line(c, &mut y, (0.12, 0.24, 0.6), 1.2, &[6.0, 3.0], "Baugrenze");
    legend_line(c, &mut y, (0.8, 0.15, 0.15), 1.6, &[], "Baulinie");
    legend_line(
        c,
        &mut y,
        (0.1, 0.1, 0.1),
        3.0,
        &[7.0, 3.0],
        "Grenze des räumlichen Geltungsbereichs",
    );
    c.set_fill_rgb(0.98, 0.925, 0.745);
    c.rect(x, y - 2.0, 22.0, 10.0);
    c.fill_nonzero();
    c.set_fill_rgb(0.0, 0.0, 0.0);
    write(c, REGULAR, 9.0, x + 30.0, y, "Straßenverkehrsfläche");
    y -= 15.0;
    write(
        c,
        REGULAR,
        8.0,
        x,
        y,
        "Nutzungsschablone: Art, Vollgeschosse, GRZ, GFZ, Bauweise (o/g/a)",
    );
    y -= 28.0;
    write(c, BOLD, 11.0, x, y, "Verfahrensvermerke");
    y -= 16.0;
    for (property, date) in spec.dates {
        let german = german_date(date);
        let note = match *property {
            "aufstellungsbeschlussDatum" => {
                format!("Aufstellungsbeschluss des Stadtrats am {german} (§ 2 Abs. 1 BauGB).")
            }
            "satzungsbeschlussDatum" => {
                format!("Als Satzung beschlossen am {german} (§ 10 Abs. 1 BauGB).")
            }
            "ausfertigungsDatum" => format!("Ausgefertigt am {german}."),
            "inkrafttretensDatum" => {
                format!("In Kraft getreten mit der Bekanntmachung am {german}.")
            }
            _ => format!("{property}: {german}"),
        };
        write(c, REGULAR, 8.5, x, y, &note);
        y -= 13.0;
    }
    if spec.rechtsstand == "2400" {
        write(
            c,
            REGULAR,
            8.5,
            x,
            y,
            "Entwurf zur öffentlichen Auslegung (§ 3 Abs. 2 BauGB).",
        );
    }
}

fn german_date(iso: &str) -> String {
    let mut parts = iso.split('-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(y), Some(m), Some(d)) => format!("{d}.{m}.{y}"),
        _ => iso.to_owned(),
    }
}

/// The Planurkunde as PDF bytes.
pub fn planurkunde(spec: &PlanSpec, drawing: &Drawing) -> Vec<u8> {
    let (catalog, tree, page, content_id, regular, bold, info) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
        Ref::new(6),
        Ref::new(7),
    );
    let sheet = Sheet::new(drawing);
    let mut content = Content::new();
    plan_drawing(&mut content, &sheet, drawing);
    frame(&mut content, &sheet);
    side(&mut content, spec, drawing);
    let content = content.finish();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page]).count(1);
    {
        let mut p = pdf.page(page);
        p.parent(tree)
            .media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT))
            .contents(content_id);
        p.resources()
            .fonts()
            .pair(REGULAR, regular)
            .pair(BOLD, bold);
    }
    pdf.stream(content_id, &content);
    for (id, name) in [(regular, &b"Helvetica"[..]), (bold, &b"Helvetica-Bold"[..])] {
        pdf.type1_font(id)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let title = format!(
        "Bebauungsplan Nr. {} „{}“ – Planurkunde",
        spec.nummer, spec.name
    );
    pdf.document_info(info)
        .title(TextStr(&title))
        .author(TextStr("Stadt Koblenz (synthetische Demodaten)"))
        .creator(TextStr("stadtkarte demo"));
    pdf.finish()
}
