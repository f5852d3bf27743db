//! XPlanGML 6.0 of one plan, written with quick-xml: the `BP_Plan` with its Geltungsbereich and
//! the Planurkunde as external reference, one `BP_Bereich` with the scan (`refScan`, world file
//! as `georefURL`), and the plan's objects, each linked to the Bereich. Coordinates in
//! EPSG:25832, to the centimetre.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::layout::{Drawing, Use, bbox};
use super::{Files, PlanSpec};
use crate::demo::DemoError;
use crate::demo::geometry::Xy;

const XPLAN: &str = "http://www.xplanung.de/xplangml/6/0";
const GML: &str = "http://www.opengis.net/gml/3.2";
const XLINK: &str = "http://www.w3.org/1999/xlink";
const SRS: &str = "EPSG:25832";

type W = Writer<Vec<u8>>;

/// The plan as an XPlanGML 6.0 document.
pub fn write(spec: &PlanSpec, drawing: &Drawing, files: &Files) -> Result<Vec<u8>, DemoError> {
    document(spec, drawing, files).map_err(|e| DemoError::Plans(e.to_string()))
}

/// Running ids of one plan's objects and geometries.
struct Ids {
    prefix: String,
    next: u32,
}

impl Ids {
    fn next(&mut self) -> String {
        self.next += 1;
        format!("{}_{:04}", self.prefix, self.next)
    }
}

/// One object of the plan, before it is written.
struct Object {
    kind: &'static str,
    id: String,
    geometry: Geometry,
    properties: Vec<(&'static str, String)>,
    /// Complex purposes (XPlanGML 6.0): (wrapper type, `allgemein` code).
    purpose: Option<(&'static str, &'static str)>,
    after_purpose: Vec<(&'static str, String)>,
}

enum Geometry {
    Polygon(Vec<Vec<Xy>>),
    Line(Vec<Xy>),
}

fn document(spec: &PlanSpec, drawing: &Drawing, files: &Files) -> io::Result<Vec<u8>> {
    let mut ids = Ids {
        prefix: spec.id(),
        next: 0,
    };
    let plan_id = spec.id();
    let bereich_id = format!("{plan_id}_BEREICH");
    let objects = objects(drawing, &mut ids);
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 1);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let [x0, y0, x1, y1] = bbox(&drawing.boundary);
    w.create_element("xplan:XPlanAuszug")
        .with_attributes([
            ("xmlns:xplan", XPLAN),
            ("xmlns:gml", GML),
            ("xmlns:xlink", XLINK),
            ("gml:id", &format!("{plan_id}_AUSZUG")),
        ])
        .write_inner_content(|w| {
            envelope(w, [x0, y0, x1, y1])?;
            member(w, |w| plan(w, spec, drawing, files, &bereich_id, &mut ids))?;
            member(w, |w| bereich(w, spec, drawing, files, &objects, &mut ids))?;
            for object in &objects {
                member(w, |w| feature(w, object, &bereich_id, &mut ids))?;
            }
            Ok(())
        })?;
    Ok(w.into_inner())
}

/// The plan's objects in the order they are written.
fn objects(drawing: &Drawing, ids: &mut Ids) -> Vec<Object> {
    let mut out = Vec::new();
    let object = |kind, id, geometry| Object {
        kind,
        id,
        geometry,
        properties: Vec::new(),
        purpose: None,
        after_purpose: Vec::new(),
    };
    for zone in &drawing.zones {
        let geometry = Geometry::Polygon(vec![zone.ring.clone()]);
        let mut o = match zone.kind {
            Use::Bau(b) => {
                let mut o = object("BP_BaugebietsTeilFlaeche", ids.next(), geometry);
                o.after_purpose = vec![
                    ("GFZ", format!("{:.1}", b.gfz)),
                    ("GRZ", format!("{:.1}", b.grz)),
                    ("Z", b.z.to_string()),
                    ("allgArtDerBaulNutzung", b.allgemein.to_owned()),
                    ("besondereArtDerBaulNutzung", b.besondere.to_owned()),
                    ("bauweise", b.bauweise.to_owned()),
                ];
                o
            }
            Use::Gruen(code, nutzungsform) => {
                let mut o = object("BP_GruenFlaeche", ids.next(), geometry);
                o.purpose = Some(("xplan:BP_KomplexeZweckbestGruen", code));
                o.after_purpose = vec![("nutzungsform", nutzungsform.to_owned())];
                o
            }
            Use::Gemeinbedarf(code) => {
                let mut o = object("BP_GemeinbedarfsFlaeche", ids.next(), geometry);
                o.purpose = Some(("xplan:BP_KomplexeZweckbestGemeinbedarf", code));
                o
            }
            Use::Verkehr(code) => {
                let mut o = object(
                    "BP_VerkehrsflaecheBesondererZweckbestimmung",
                    ids.next(),
                    geometry,
                );
                o.after_purpose = vec![
                    ("zweckbestimmung", code.to_owned()),
                    ("nutzungsform", "2000".to_owned()),
                ];
                o
            }
        };
        o.properties.push(("rechtscharakter", "1000".to_owned()));
        out.push(o);
    }
    let mut streets = object(
        "BP_StrassenVerkehrsFlaeche",
        ids.next(),
        Geometry::Polygon(drawing.streets.clone()),
    );
    streets
        .properties
        .push(("rechtscharakter", "1000".to_owned()));
    streets.after_purpose = vec![("nutzungsform", "2000".to_owned())];
    out.push(streets);
    for ring in &drawing.overbuildable {
        let mut o = object(
            "BP_UeberbaubareGrundstuecksFlaeche",
            ids.next(),
            Geometry::Polygon(vec![ring.clone()]),
        );
        o.properties.push(("rechtscharakter", "1000".to_owned()));
        out.push(o);
    }
    for (kind, lines) in [
        ("BP_BauGrenze", &drawing.baugrenzen),
        ("BP_BauLinie", &drawing.baulinien),
    ] {
        for line in lines {
            let mut o = object(kind, ids.next(), Geometry::Line(line.clone()));
            o.properties.push(("rechtscharakter", "1000".to_owned()));
            out.push(o);
        }
    }
    out
}

fn member(w: &mut W, inner: impl FnOnce(&mut W) -> io::Result<()>) -> io::Result<()> {
    w.create_element("gml:featureMember")
        .write_inner_content(inner)?;
    Ok(())
}

fn text(w: &mut W, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(value))?;
    Ok(())
}

fn link(w: &mut W, name: &str, target: &str) -> io::Result<()> {
    w.create_element(name)
        .with_attribute(("xlink:href", format!("#{target}").as_str()))
        .write_empty()?;
    Ok(())
}

fn envelope(w: &mut W, [x0, y0, x1, y1]: [f64; 4]) -> io::Result<()> {
    w.create_element("gml:boundedBy").write_inner_content(|w| {
        w.create_element("gml:Envelope")
            .with_attribute(("srsName", SRS))
            .write_inner_content(|w| {
                text(w, "gml:lowerCorner", &format!("{x0:.2} {y0:.2}"))?;
                text(w, "gml:upperCorner", &format!("{x1:.2} {y1:.2}"))
            })?;
        Ok(())
    })?;
    Ok(())
}

fn pos_list(points: &[Xy], close: bool) -> String {
    let mut all: Vec<Xy> = points.to_vec();
    if close && all.first() != all.last() {
        all.push(all[0]);
    }
    all.iter()
        .map(|(x, y)| format!("{x:.2} {y:.2}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn polygon(w: &mut W, rings: &[Vec<Xy>], id: &str) -> io::Result<()> {
    w.create_element("gml:Polygon")
        .with_attributes([("gml:id", id), ("srsName", SRS)])
        .write_inner_content(|w| {
            for (i, ring) in rings.iter().enumerate() {
                let side = if i == 0 {
                    "gml:exterior"
                } else {
                    "gml:interior"
                };
                w.create_element(side).write_inner_content(|w| {
                    w.create_element("gml:LinearRing")
                        .write_inner_content(|w| {
                            w.create_element("gml:posList")
                                .with_attribute(("srsDimension", "2"))
                                .write_text_content(BytesText::new(&pos_list(ring, true)))?;
                            Ok(())
                        })?;
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    Ok(())
}

fn line(w: &mut W, points: &[Xy], id: &str) -> io::Result<()> {
    w.create_element("gml:LineString")
        .with_attributes([("gml:id", id), ("srsName", SRS)])
        .write_inner_content(|w| {
            w.create_element("gml:posList")
                .with_attribute(("srsDimension", "2"))
                .write_text_content(BytesText::new(&pos_list(points, false)))?;
            Ok(())
        })?;
    Ok(())
}

fn reference(
    w: &mut W,
    wrapper: &str,
    georef: Option<&str>,
    art: &str,
    name: &str,
    url: &str,
    typ: Option<&str>,
) -> io::Result<()> {
    w.create_element(wrapper).write_inner_content(|w| {
        if let Some(georef) = georef {
            text(w, "xplan:georefURL", georef)?;
        }
        text(w, "xplan:art", art)?;
        text(w, "xplan:referenzName", name)?;
        text(w, "xplan:referenzURL", url)?;
        if let Some(typ) = typ {
            text(w, "xplan:typ", typ)?;
        }
        Ok(())
    })?;
    Ok(())
}

fn plan(
    w: &mut W,
    spec: &PlanSpec,
    drawing: &Drawing,
    files: &Files,
    bereich_id: &str,
    ids: &mut Ids,
) -> io::Result<()> {
    let plan_id = spec.id();
    w.create_element("xplan:BP_Plan")
        .with_attribute(("gml:id", plan_id.as_str()))
        .write_inner_content(|w| {
            envelope(w, drawing.bbox())?;
            text(w, "xplan:name", spec.name)?;
            text(w, "xplan:nummer", spec.nummer)?;
            text(w, "xplan:beschreibung", spec.beschreibung)?;
            text(w, "xplan:technHerstellDatum", "2026-01-15")?;
            text(w, "xplan:erstellungsMassstab", "1000")?;
            w.create_element("xplan:raeumlicherGeltungsbereich")
                .write_inner_content(|w| {
                    polygon(w, std::slice::from_ref(&drawing.boundary), &ids.next())
                })?;
            w.create_element("xplan:externeReferenz")
                .write_inner_content(|w| {
                    reference(
                        w,
                        "xplan:XP_SpezExterneReferenz",
                        None,
                        "Dokument",
                        &format!("Planurkunde {} {}", spec.nummer, spec.name),
                        &files.pdf,
                        Some("1030"),
                    )
                })?;
            w.create_element("xplan:gemeinde")
                .write_inner_content(|w| {
                    w.create_element("xplan:XP_Gemeinde")
                        .write_inner_content(|w| {
                            text(w, "xplan:ags", "07111000")?;
                            text(w, "xplan:rs", "071110000000")?;
                            text(w, "xplan:gemeindeName", "Koblenz")?;
                            text(w, "xplan:ortsteilName", spec.district)
                        })?;
                    Ok(())
                })?;
            text(w, "xplan:planArt", "1000")?;
            text(w, "xplan:rechtsstand", spec.rechtsstand)?;
            for (property, date) in spec.dates {
                text(w, &format!("xplan:{property}"), date)?;
            }
            link(w, "xplan:bereich", bereich_id)
        })?;
    Ok(())
}

fn bereich(
    w: &mut W,
    spec: &PlanSpec,
    drawing: &Drawing,
    files: &Files,
    objects: &[Object],
    ids: &mut Ids,
) -> io::Result<()> {
    let plan_id = spec.id();
    w.create_element("xplan:BP_Bereich")
        .with_attribute(("gml:id", format!("{plan_id}_BEREICH").as_str()))
        .write_inner_content(|w| {
            envelope(w, drawing.bbox())?;
            text(w, "xplan:nummer", "0")?;
            text(w, "xplan:name", spec.name)?;
            w.create_element("xplan:geltungsbereich")
                .write_inner_content(|w| {
                    polygon(w, std::slice::from_ref(&drawing.boundary), &ids.next())
                })?;
            w.create_element("xplan:refScan").write_inner_content(|w| {
                reference(
                    w,
                    "xplan:XP_ExterneReferenz",
                    Some(&files.pgw),
                    "PlanMitGeoreferenz",
                    &format!("Planscan {} {}", spec.nummer, spec.name),
                    &files.png,
                    None,
                )
            })?;
            for object in objects {
                link(w, "xplan:planinhalt", &object.id)?;
            }
            link(w, "xplan:gehoertZuPlan", &plan_id)
        })?;
    Ok(())
}

fn feature(w: &mut W, object: &Object, bereich_id: &str, ids: &mut Ids) -> io::Result<()> {
    w.create_element(format!("xplan:{}", object.kind).as_str())
        .with_attribute(("gml:id", object.id.as_str()))
        .write_inner_content(|w| {
            let points: Vec<Xy> = match &object.geometry {
                Geometry::Polygon(rings) => rings.first().cloned().unwrap_or_default(),
                Geometry::Line(points) => points.clone(),
            };
            envelope(w, bbox(&points))?;
            link(w, "xplan:gehoertZuBereich", bereich_id)?;
            for (name, value) in &object.properties {
                text(w, &format!("xplan:{name}"), value)?;
            }
            w.create_element("xplan:position")
                .write_inner_content(|w| match &object.geometry {
                    Geometry::Polygon(rings) => polygon(w, rings, &ids.next()),
                    Geometry::Line(points) => line(w, points, &ids.next()),
                })?;
            if matches!(object.geometry, Geometry::Polygon(_)) {
                // Overbuildable areas lie over the zones; everything else tiles the plan.
                let overlay = object.kind == "BP_UeberbaubareGrundstuecksFlaeche";
                text(
                    w,
                    "xplan:flaechenschluss",
                    if overlay { "false" } else { "true" },
                )?;
            }
            if let Some((wrapper, code)) = object.purpose {
                w.create_element("xplan:zweckbestimmung")
                    .write_inner_content(|w| {
                        w.create_element(wrapper)
                            .write_inner_content(|w| text(w, "xplan:allgemein", code))?;
                        Ok(())
                    })?;
            }
            for (name, value) in &object.after_purpose {
                text(w, &format!("xplan:{name}"), value)?;
            }
            Ok(())
        })?;
    Ok(())
}
