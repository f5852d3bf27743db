//! The plan objects with a table of their own: overbuildable areas, building limits and lines,
//! traffic, green and community areas. A map styles them by their purpose, so their codes and
//! German labels are columns (`zweckbestimmung`, `zweckbestimmung_text`, `nutzungsform`, …)
//! rather than JSON in `plans.planobjekte`; every other attribute stays in `attribute`.
//!
//! One table per feature type, named as its collection; the list below is the only place that
//! knows them (the importer, the catalog entries and the summary all read it).

use serde_json::Value;
use stadtkarte_core::catalog::{self, NewCollection};
use stadtkarte_core::tokio_postgres::Transaction;
use stadtkarte_core::tokio_postgres::types::ToSql;

use super::codes;
use super::{PlanObject, XplanError, XplanImport, db};

/// The geometry a typed table stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Areas,
    Lines,
}

/// A coded attribute stored as the code and its label.
struct Coded {
    /// XPlanGML property.
    property: &'static str,
    /// Column of the code; the label goes to `{column}_text`.
    column: &'static str,
    /// The code list.
    label: fn(&str) -> Option<&'static str>,
}

/// One feature type with a table of its own.
pub(super) struct Typed {
    /// XPlanGML feature type.
    pub kind: &'static str,
    /// Table in schema `plans`, and the collection id.
    pub table: &'static str,
    shape: Shape,
    coded: &'static [Coded],
    title: &'static str,
    description: &'static str,
}

const NUTZUNGSFORM: Coded = Coded {
    property: "nutzungsform",
    column: "nutzungsform",
    label: codes::nutzungsform,
};

/// The typed feature types, in the order the catalog lists them.
pub(super) const TYPED: &[Typed] = &[
    Typed {
        kind: "BP_UeberbaubareGrundstuecksFlaeche",
        table: "ueberbaubare_flaechen",
        shape: Shape::Areas,
        coded: &[],
        title: "Überbaubare Grundstücksflächen",
        description: "Flächen der Bebauungspläne, auf denen gebaut werden darf, begrenzt durch Baugrenzen und Baulinien (aus XPlanGML).",
    },
    Typed {
        kind: "BP_BauGrenze",
        table: "baugrenzen",
        shape: Shape::Lines,
        coded: &[],
        title: "Baugrenzen",
        description: "Baugrenzen der Bebauungspläne: Gebäude dürfen sie nicht überschreiten (aus XPlanGML).",
    },
    Typed {
        kind: "BP_BauLinie",
        table: "baulinien",
        shape: Shape::Lines,
        coded: &[],
        title: "Baulinien",
        description: "Baulinien der Bebauungspläne: auf ihnen muss gebaut werden (aus XPlanGML).",
    },
    Typed {
        kind: "BP_StrassenVerkehrsFlaeche",
        table: "strassenverkehrsflaechen",
        shape: Shape::Areas,
        coded: &[NUTZUNGSFORM],
        title: "Straßenverkehrsflächen",
        description: "Straßenverkehrsflächen der Bebauungspläne mit ihrer Nutzungsform (aus XPlanGML).",
    },
    Typed {
        kind: "BP_VerkehrsflaecheBesondererZweckbestimmung",
        table: "verkehrsflaechen_besonderer_zweckbestimmung",
        shape: Shape::Areas,
        coded: &[
            Coded {
                property: "zweckbestimmung",
                column: "zweckbestimmung",
                label: codes::zweckbestimmung_verkehr,
            },
            NUTZUNGSFORM,
        ],
        title: "Verkehrsflächen besonderer Zweckbestimmung",
        description: "Fußgängerbereiche, verkehrsberuhigte Bereiche, Parkierungsflächen und andere Verkehrsflächen besonderer Zweckbestimmung der Bebauungspläne (aus XPlanGML).",
    },
    Typed {
        kind: "BP_GruenFlaeche",
        table: "gruenflaechen",
        shape: Shape::Areas,
        coded: &[
            Coded {
                property: "zweckbestimmung",
                column: "zweckbestimmung",
                label: codes::zweckbestimmung_gruen,
            },
            NUTZUNGSFORM,
        ],
        title: "Grünflächen der Bebauungspläne",
        description: "Parkanlagen, Spielplätze und andere Grünflächen der Bebauungspläne mit Zweckbestimmung und Nutzungsform (aus XPlanGML).",
    },
    Typed {
        kind: "BP_GemeinbedarfsFlaeche",
        table: "gemeinbedarfsflaechen",
        shape: Shape::Areas,
        coded: &[Coded {
            property: "zweckbestimmung",
            column: "zweckbestimmung",
            label: codes::zweckbestimmung_gemeinbedarf,
        }],
        title: "Flächen für den Gemeinbedarf",
        description: "Flächen für Schulen, Kindertagesstätten, Kirchen und andere Einrichtungen des Gemeinbedarfs in den Bebauungsplänen (aus XPlanGML).",
    },
];

/// The typed table of a feature type, if it has one.
pub(super) fn of(kind: &str) -> Option<&'static Typed> {
    TYPED.iter().find(|t| t.kind == kind)
}

/// The first code of a coded property: written directly (`<zweckbestimmung>1000<…>`, XPlanGML
/// 5.x) or inside a complex purpose (`BP_KomplexeZweckbestGruen/allgemein`, 6.0, whose code list
/// holds the general and the detailed purposes); a municipality's own `detaillierteZweckbestimmung`
/// only when `allgemein` is missing (its codes are local, so it has no label here).
fn first_code(object: &PlanObject, property: &str) -> Option<String> {
    let value = match object.attributes.get(property)? {
        Value::Array(list) => list.first()?,
        other => other,
    };
    match value {
        Value::String(code) => Some(code.trim().to_owned()).filter(|c| !c.is_empty()),
        Value::Object(fields) => fields
            .iter()
            .find(|(name, _)| *name == "allgemein")
            .or_else(|| fields.iter().find(|(name, _)| name.starts_with("detail")))
            .and_then(|(_, v)| v.as_str())
            .map(|c| c.trim().to_owned()),
        _ => None,
    }
}

/// Stores one object in its typed table.
pub(super) async fn insert(
    tx: &Transaction<'_>,
    typed: &Typed,
    object: &PlanObject,
    plan_id: &str,
    storage: i32,
) -> Result<(), XplanError> {
    let bereich = object.links("gehoertZuBereich").into_iter().next();
    let attributes = Value::Object(object.attributes.clone());
    let mut columns = vec!["gml_id", "plan_id", "bereich_gml_id", "attribute"];
    let mut texts: Vec<Option<String>> = Vec::new();
    let mut text_columns = Vec::new();
    for coded in typed.coded {
        let code = first_code(object, coded.property);
        let label = code.as_deref().and_then(coded.label).map(str::to_owned);
        text_columns.push(coded.column.to_owned());
        text_columns.push(format!("{}_text", coded.column));
        texts.push(code);
        texts.push(label);
    }
    columns.extend(text_columns.iter().map(String::as_str));
    let mut params: Vec<&(dyn ToSql + Sync)> =
        vec![&object.gml_id, &plan_id, &bereich, &attributes];
    params.extend(texts.iter().map(|t| t as &(dyn ToSql + Sync)));
    let wkb = params.len() + 1;
    let srid_value = object.srid.unwrap_or(storage);
    params.push(&object.wkb);
    params.push(&srid_value);
    let geometry = match typed.shape {
        Shape::Areas => super::multipolygon_sql(wkb, wkb + 1, storage),
        Shape::Lines => format!(
            "ST_Multi(ST_CollectionExtract(ST_Transform(ST_SetSRID(ST_CurveToLine(ST_GeomFromWKB(${wkb})), ${}), {storage}), 2))",
            wkb + 1
        ),
    };
    let placeholders: Vec<String> = (1..wkb).map(|i| format!("${i}")).collect();
    // Table and column names come from the list above, never from the file.
    let sql = format!(
        "INSERT INTO plans.{} ({}, geom) VALUES ({}, {geometry})",
        typed.table,
        columns.join(", "),
        placeholders.join(", ")
    );
    tx.execute(&sql, &params)
        .await
        .map_err(db("storing a plan object in its table"))?;
    Ok(())
}

/// Catalog entries for the typed tables, so that OGC API Features and the tiles serve them.
pub(super) async fn register(tx: &Transaction<'_>, job: &XplanImport) -> Result<(), XplanError> {
    for typed in TYPED {
        catalog::register(
            tx,
            &NewCollection {
                id: typed.table,
                title: typed.title,
                description: typed.description,
                keywords: &["Bebauungsplan", "XPlanung", "Bauleitplanung"],
                table_schema: "plans",
                table_name: typed.table,
                geometry_type: match typed.shape {
                    Shape::Areas => "MultiPolygon",
                    Shape::Lines => "MultiLineString",
                },
                storage_srid: job.storage_srid,
                temporal_column: None,
                license: &job.license,
                license_url: job.license_url.as_deref(),
                attribution: &job.attribution,
                min_zoom: 12,
                max_zoom: 22,
            },
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{PlanObject, first_code};

    fn object(attributes: serde_json::Value) -> PlanObject {
        let serde_json::Value::Object(attributes) = attributes else {
            return object(json!({}));
        };
        PlanObject {
            kind: "BP_GruenFlaeche".to_owned(),
            gml_id: "g".to_owned(),
            attributes,
            wkb: None,
            srid: None,
        }
    }

    #[test]
    fn codes_plain_and_complex() {
        assert_eq!(
            first_code(
                &object(json!({"zweckbestimmung": "1600"})),
                "zweckbestimmung"
            )
            .as_deref(),
            Some("1600")
        );
        assert_eq!(
            first_code(
                &object(
                    json!({"zweckbestimmung": [{"allgemein": "12000"}, {"allgemein": "1200"}]})
                ),
                "zweckbestimmung"
            )
            .as_deref(),
            Some("12000")
        );
        assert_eq!(
            first_code(
                &object(json!({"zweckbestimmung": {"allgemein": "1000", "detaillierteZweckbestimmung": "X1"}})),
                "zweckbestimmung"
            )
            .as_deref(),
            Some("1000")
        );
        assert_eq!(first_code(&object(json!({})), "zweckbestimmung"), None);
    }
}
