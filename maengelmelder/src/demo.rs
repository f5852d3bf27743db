//! The demo's departments and categories: what a German city's defect reporter offers, routed
//! to the departments that handle it, with one category of each release kind and at least one
//! required question. Idempotent: running it again updates what it made.

use serde_json::json;
use stadtkarte_core::db::DbError;
use stadtkarte_core::tokio_postgres::GenericClient;

/// The departments: id, name, functional mailbox.
pub const DEPARTMENTS: &[(&str, &str, &str)] = &[
    (
        "tiefbau",
        "Tiefbauamt (Straßen, Beleuchtung)",
        "tiefbauamt@koblenz.example",
    ),
    (
        "gruen",
        "Grünflächen- und Bestattungsamt",
        "gruenflaechenamt@koblenz.example",
    ),
    ("ordnung", "Ordnungsamt", "ordnungsamt@koblenz.example"),
    (
        "abfall",
        "Eigenbetrieb Abfallwirtschaft",
        "abfallwirtschaft@koblenz.example",
    ),
    (
        "verkehr",
        "Straßenverkehrsbehörde",
        "verkehrsbehoerde@koblenz.example",
    ),
];

struct Cat {
    code: &'static str,
    de: &'static str,
    en: &'static str,
    about_de: &'static str,
    about_en: &'static str,
    keywords: &'static [&'static str],
    group: &'static str,
    department: &'static str,
    release: &'static str,
    minutes: i32,
    notify: &'static str,
}

const CATEGORIES: &[Cat] = &[
    Cat {
        code: "strassenschaden",
        de: "Straßenschaden / Schlagloch",
        en: "Road damage / pothole",
        about_de: "Schlaglöcher, Risse und Absenkungen in Fahrbahn, Radweg oder Gehweg.",
        about_en: "Potholes, cracks and subsidence in roads, cycle paths or pavements.",
        keywords: &["Schlagloch", "Fahrbahn", "Gehweg", "Radweg"],
        group: "Straße und Verkehr",
        department: "tiefbau",
        release: "review",
        minutes: 0,
        notify: "immediate",
    },
    Cat {
        code: "beleuchtung",
        de: "Straßenbeleuchtung defekt",
        en: "Street light out",
        about_de: "Eine Straßenlaterne ist dunkel, flackert oder brennt am Tag.",
        about_en: "A street light is dark, flickers or is on during the day.",
        keywords: &["Laterne", "Licht"],
        group: "Straße und Verkehr",
        department: "tiefbau",
        release: "immediate",
        minutes: 0,
        notify: "immediate",
    },
    Cat {
        code: "muell",
        de: "Illegale Müllablagerung",
        en: "Illegal dumping",
        about_de: "Sperrmüll, Bauschutt, Säcke oder Reifen, die jemand abgeladen hat.",
        about_en: "Bulky waste, rubble, bags or tyres that someone dumped.",
        keywords: &["Sperrmüll", "Wilder Müll"],
        group: "Sauberkeit",
        department: "abfall",
        release: "delay",
        minutes: 60,
        notify: "immediate",
    },
    Cat {
        code: "verschmutzung",
        de: "Verschmutzung / Abfallbehälter voll",
        en: "Litter / bin full",
        about_de: "Verschmutzte Plätze und Wege, volle oder beschädigte Papierkörbe.",
        about_en: "Littered squares and paths, full or damaged litter bins.",
        keywords: &["Papierkorb", "Abfall"],
        group: "Sauberkeit",
        department: "abfall",
        release: "delay",
        minutes: 30,
        notify: "digest",
    },
    Cat {
        code: "spielplatz",
        de: "Spielplatz",
        en: "Playground",
        about_de: "Beschädigte oder gefährliche Spielgeräte, Verschmutzung auf Spielplätzen.",
        about_en: "Damaged or dangerous play equipment, litter on playgrounds.",
        keywords: &["Spielgerät", "Sandkasten"],
        group: "Grün und Spiel",
        department: "gruen",
        release: "review",
        minutes: 0,
        notify: "immediate",
    },
    Cat {
        code: "gruen",
        de: "Bäume und Grünflächen",
        en: "Trees and green spaces",
        about_de: "Umgestürzte Bäume, herabhängende Äste, ungepflegte Grünflächen.",
        about_en: "Fallen trees, hanging branches, neglected green spaces.",
        keywords: &["Baum", "Ast", "Hecke", "Rasen"],
        group: "Grün und Spiel",
        department: "gruen",
        release: "review",
        minutes: 0,
        notify: "digest",
    },
    Cat {
        code: "verkehrszeichen",
        de: "Verkehrszeichen und Ampeln",
        en: "Traffic signs and lights",
        about_de: "Umgefahrene, verdrehte oder verdeckte Schilder, gestörte Ampeln.",
        about_en: "Knocked-down, twisted or hidden signs, faulty traffic lights.",
        keywords: &["Schild", "Ampel", "Lichtsignalanlage"],
        group: "Straße und Verkehr",
        department: "verkehr",
        release: "immediate",
        minutes: 0,
        notify: "immediate",
    },
    Cat {
        code: "graffiti",
        de: "Graffiti",
        en: "Graffiti",
        about_de: "Schmierereien an öffentlichen Gebäuden, Brücken und Stadtmobiliar.",
        about_en: "Graffiti on public buildings, bridges and street furniture.",
        keywords: &["Schmiererei"],
        group: "Sauberkeit",
        department: "ordnung",
        release: "review",
        minutes: 0,
        notify: "digest",
    },
    Cat {
        code: "sonstiges",
        de: "Sonstiges",
        en: "Other",
        about_de: "Alles, was in keine andere Kategorie passt; wir leiten es weiter.",
        about_en: "Anything that fits no other category; we pass it on.",
        keywords: &[],
        group: "Sonstiges",
        department: "ordnung",
        release: "review",
        minutes: 0,
        notify: "immediate",
    },
];

/// Creates or updates the demo's departments, categories, questions and note templates.
pub async fn seed(client: &impl GenericClient) -> Result<usize, DbError> {
    let db = DbError::query;
    for (id, name, email) in DEPARTMENTS {
        client
            .execute(
                "INSERT INTO auth.departments (id, name, email) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email",
                &[id, name, email],
            )
            .await
            .map_err(db("seeding the departments"))?;
    }
    for (i, c) in CATEGORIES.iter().enumerate() {
        let keywords: Vec<&str> = c.keywords.to_vec();
        let position = i32::try_from(i + 1).unwrap_or(0);
        client
            .execute(
                "INSERT INTO maengel.categories (code, name_de, name_en, description_de, description_en,
                     keywords, group_name, department, release, release_minutes, notify, position)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (code) DO UPDATE SET name_de = EXCLUDED.name_de, name_en = EXCLUDED.name_en,
                     description_de = EXCLUDED.description_de, description_en = EXCLUDED.description_en,
                     keywords = EXCLUDED.keywords, group_name = EXCLUDED.group_name,
                     department = EXCLUDED.department, release = EXCLUDED.release,
                     release_minutes = EXCLUDED.release_minutes, notify = EXCLUDED.notify,
                     position = EXCLUDED.position, active = true, updated_at = now()",
                &[
                    &c.code, &c.de, &c.en, &c.about_de, &c.about_en, &keywords, &c.group,
                    &c.department, &c.release, &c.minutes, &c.notify, &position,
                ],
            )
            .await
            .map_err(db("seeding the categories"))?;
    }
    let attributes = [
        (
            "strassenschaden",
            "art",
            "singlevaluelist",
            true,
            1,
            "Art des Schadens",
            "Kind of damage",
            "",
            json!([{"key": "schlagloch", "name_de": "Schlagloch", "name_en": "Pothole"},
                   {"key": "riss", "name_de": "Riss", "name_en": "Crack"},
                   {"key": "absenkung", "name_de": "Absenkung", "name_en": "Subsidence"}]),
        ),
        (
            "strassenschaden",
            "flaeche",
            "singlevaluelist",
            false,
            2,
            "Wo genau?",
            "Where exactly?",
            "",
            json!([{"key": "fahrbahn", "name_de": "Fahrbahn", "name_en": "Road"},
                   {"key": "radweg", "name_de": "Radweg", "name_en": "Cycle path"},
                   {"key": "gehweg", "name_de": "Gehweg", "name_en": "Pavement"}]),
        ),
        (
            "beleuchtung",
            "mastnummer",
            "string",
            false,
            1,
            "Nummer am Mast (falls lesbar)",
            "Number on the post (if legible)",
            "z. B. K-0412 / e.g. K-0412",
            json!([]),
        ),
        (
            "muell",
            "menge",
            "singlevaluelist",
            true,
            1,
            "Wie viel?",
            "How much?",
            "",
            json!([{"key": "klein", "name_de": "Einzelne Säcke", "name_en": "A few bags"},
                   {"key": "mittel", "name_de": "Eine Kofferraumladung", "name_en": "A car boot full"},
                   {"key": "gross", "name_de": "Mehr als eine Kofferraumladung", "name_en": "More than a car boot full"}]),
        ),
        (
            "muell",
            "art",
            "multivaluelist",
            false,
            2,
            "Was liegt dort?",
            "What is there?",
            "",
            json!([{"key": "sperrmuell", "name_de": "Sperrmüll", "name_en": "Bulky waste"},
                   {"key": "bauschutt", "name_de": "Bauschutt", "name_en": "Rubble"},
                   {"key": "reifen", "name_de": "Reifen", "name_en": "Tyres"},
                   {"key": "elektro", "name_de": "Elektrogeräte", "name_en": "Electrical appliances"}]),
        ),
        (
            "spielplatz",
            "geraet",
            "text",
            false,
            1,
            "Welches Spielgerät?",
            "Which piece of equipment?",
            "",
            json!([]),
        ),
        (
            "verkehrszeichen",
            "seit",
            "datetime",
            false,
            1,
            "Seit wann?",
            "Since when?",
            "JJJJ-MM-TT / YYYY-MM-DD",
            json!([]),
        ),
    ];
    for (category, code, datatype, required, position, de, en, help, choices) in attributes {
        client
            .execute(
                "INSERT INTO maengel.attributes (category, code, datatype, required, position,
                     description_de, description_en, datatype_description, choices)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (category, code) DO UPDATE SET datatype = EXCLUDED.datatype,
                     required = EXCLUDED.required, position = EXCLUDED.position,
                     description_de = EXCLUDED.description_de, description_en = EXCLUDED.description_en,
                     datatype_description = EXCLUDED.datatype_description, choices = EXCLUDED.choices",
                &[&category, &code, &datatype, &required, &position, &de, &en, &help, &choices],
            )
            .await
            .map_err(db("seeding the questions"))?;
    }
    let templates = [
        (
            "geprueft",
            "Geprüft und weitergegeben",
            "Vielen Dank für Ihre Meldung. Wir haben sie geprüft und an die zuständige Stelle weitergegeben.",
        ),
        (
            "in_bearbeitung",
            "Auftrag erteilt",
            "Der Auftrag zur Behebung ist erteilt. Je nach Witterung und Auslastung kann es einige Wochen dauern.",
        ),
        (
            "erledigt",
            "Behoben",
            "Der Mangel wurde behoben. Vielen Dank für Ihren Hinweis!",
        ),
        (
            "nicht_loesbar",
            "Nicht zuständig",
            "Für diese Stelle ist nicht die Stadt zuständig. Wir haben den Hinweis an den Eigentümer weitergeleitet.",
        ),
        (
            "duplikat",
            "Bereits gemeldet",
            "Dieser Mangel wurde bereits gemeldet. Den Stand finden Sie bei der verknüpften Meldung.",
        ),
        (
            "abgelehnt",
            "Kein Mangel",
            "Wir haben uns die Stelle angesehen und keinen Mangel festgestellt.",
        ),
    ];
    let existing: i64 = client
        .query_one("SELECT count(*) FROM maengel.templates", &[])
        .await
        .map_err(db("seeding the note templates"))?
        .get(0);
    if existing == 0 {
        for (status, title, text) in templates {
            client
                .execute(
                    "INSERT INTO maengel.templates (status, title, text) VALUES ($1, $2, $3)",
                    &[&status, &title, &text],
                )
                .await
                .map_err(db("seeding the note templates"))?;
        }
    }
    Ok(CATEGORIES.len())
}

/// Example reports of the demo city (synthetic, without any personal data): `n` reports of
/// every category at buildings spread over the city, created over the last half year, in every
/// status, released, with the status history. Replaces earlier example reports (token `demo-…`).
pub async fn sample_reports(client: &impl GenericClient, n: i32) -> Result<u64, DbError> {
    let db = DbError::query;
    client
        .execute("DELETE FROM maengel.reports WHERE token LIKE 'demo-%'", &[])
        .await
        .map_err(db("removing the example reports"))?;
    let made = client
        .execute(
            "WITH cats AS (
                 SELECT code, name_de, row_number() OVER (ORDER BY position, code) AS k, count(*) OVER () AS cn
                 FROM maengel.categories),
             picks AS (
                 SELECT i, (SELECT count(*) FROM data.gebaeude) AS nb FROM generate_series(1, $1) i),
             rows AS (
                 SELECT p.i, c.code, c.name_de,
                        (ARRAY['eingegangen','geprueft','in_bearbeitung','in_bearbeitung','erledigt','erledigt',
                               'erledigt','nicht_loesbar','abgelehnt','eingegangen'])[1 + (p.i * 7) % 10] AS status,
                        now() - ((p.i * 37) % 180) * interval '1 day' - ((p.i * 13) % 24) * interval '1 hour' AS created,
                        g.geom AS building, g.strasse || ' ' || g.hausnummer AS address, g.stadtteil
                 FROM picks p
                 JOIN cats c ON c.k = 1 + p.i % c.cn
                 JOIN LATERAL (SELECT * FROM data.gebaeude ORDER BY id OFFSET (p.i * 7919) % p.nb LIMIT 1) g ON true)
             INSERT INTO maengel.reports (category, status, description, released_at, geom, address, district,
                                          secret, token, created_at, updated_at, closed_at, status_note)
             SELECT code, status,
                    'Beispielmeldung (Demo): ' || name_de || ' bei ' || address || '.',
                    created + interval '10 minutes',
                    ST_PointOnSurface(building), address, stadtteil,
                    'demo-secret-' || i || '-' || md5(random()::text), 'demo-' || i,
                    created, created + interval '2 days',
                    CASE WHEN status IN ('erledigt', 'nicht_loesbar', 'abgelehnt')
                         THEN created + (1 + (i * 11) % 30) * interval '1 day' END,
                    CASE status WHEN 'erledigt' THEN 'Der Mangel wurde behoben. Vielen Dank für Ihre Meldung!'
                                WHEN 'in_bearbeitung' THEN 'Der Auftrag ist erteilt.'
                                WHEN 'nicht_loesbar' THEN 'Die Stelle liegt auf Privatgrund; wir haben den Eigentümer informiert.'
                                WHEN 'abgelehnt' THEN 'Kein Mangel im öffentlichen Raum.' END
             FROM rows",
            &[&n],
        )
        .await
        .map_err(db("making the example reports"))?;
    client
        .execute(
            "INSERT INTO maengel.events (report_id, kind, status, public, text, at)
             SELECT id, 'status', status, true, status_note, coalesce(closed_at, updated_at)
             FROM maengel.reports WHERE token LIKE 'demo-%' AND status <> 'eingegangen'",
            &[],
        )
        .await
        .map_err(db("making the example reports' history"))?;
    Ok(made)
}
