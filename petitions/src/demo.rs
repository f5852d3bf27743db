//! Example petitions for the demo (`stadtkarte demo`): open ones about a point, an area and
//! districts with synthetic confirmed signatures spread over the districts, one closed with the
//! council's response, one rejected and one waiting for moderation. Marked by their sponsor key
//! (`demo-…`) and replaced on every run. No person's data: signers are "Beispiel N" without
//! address.

use stadtkarte_core::config::Config;
use stadtkarte_core::db::DbError;
use stadtkarte_core::tokio_postgres::GenericClient;

/// One example: title, text, topic, place (`point:District`, `area:District`,
/// `districts:A|B`), status, signatures.
const EXAMPLES: &[(&str, &str, &str, &str, &str, i32)] = &[
    (
        "Sichere Querung für Schulkinder am Friedrich-Ebert-Ring",
        "Viele Kinder queren den Ring auf dem Schulweg ohne Ampel. Wir bitten den Stadtrat, eine Fußgängerampel oder einen Zebrastreifen mit Mittelinsel einzurichten. (Beispielpetition der Demo.)",
        "verkehr",
        "point:Altstadt",
        "open",
        1240,
    ),
    (
        "Mehr Bäume und Schatten auf dem Platz im Zentrum",
        "Im Sommer heizt sich der Platz stark auf. Wir fordern zwölf neue Stadtbäume, Trinkbrunnen und schattige Sitzplätze. (Beispielpetition der Demo.)",
        "umwelt",
        "area:Mitte",
        "open",
        2315,
    ),
    (
        "Durchgehender Radweg am Rheinufer",
        "Der Radweg am Rheinufer endet an mehreren Stellen abrupt. Wir bitten um eine durchgehende, getrennte Radverbindung durch die beiden Stadtteile. (Beispielpetition der Demo.)",
        "verkehr",
        "districts:Oberwerth|Süd",
        "open",
        640,
    ),
    (
        "Erhalt des Jugendtreffs im Stadtteil",
        "Der Jugendtreff soll schließen. Er ist der einzige Ort für Jugendliche im Stadtteil; wir bitten den Rat, die Finanzierung zu sichern. (Beispielpetition der Demo.)",
        "soziales",
        "districts:Lützel",
        "open",
        380,
    ),
    (
        "Öffentliche Toiletten am Spielplatz",
        "Am großen Spielplatz gibt es keine Toilette. Wir bitten um eine barrierefreie öffentliche Toilette in der Nähe. (Beispielpetition der Demo.)",
        "soziales",
        "point:Goldgrube",
        "open",
        95,
    ),
    (
        "Längere Öffnungszeiten der Stadtbibliothek",
        "Berufstätige können die Bibliothek kaum nutzen. Wir bitten um Öffnung bis 20 Uhr an zwei Tagen der Woche. (Beispielpetition der Demo.)",
        "kultur",
        "point:Altstadt",
        "closed",
        2890,
    ),
    (
        "Werbung für mein Geschäft in der Innenstadt",
        "Bitte machen Sie Werbung für mein Geschäft, es ist das beste in der ganzen Stadt und hat jeden Tag geöffnet. (Beispiel einer abgelehnten Petition.)",
        "sonstiges",
        "point:Mitte",
        "rejected",
        0,
    ),
    (
        "Tempo 30 vor allen Kitas",
        "Vor mehreren Kitas gilt noch Tempo 50. Wir bitten um Tempo 30 vor allen Kindertagesstätten der Stadt. (Beispielpetition der Demo, wartet auf Prüfung.)",
        "verkehr",
        "districts:Karthause Nord|Karthause Flugfeld",
        "moderation",
        0,
    ),
];

/// Makes the example petitions (replacing earlier ones); returns how many. Districts named in
/// the examples that the demo city lacks are replaced by the first districts it has.
pub async fn sample_petitions(
    client: &impl GenericClient,
    config: &Config,
) -> Result<u64, DbError> {
    let db = DbError::query;
    client
        .execute(
            "DELETE FROM petitions.petitions WHERE sponsor_key LIKE 'demo-%'",
            &[],
        )
        .await
        .map_err(db("removing the example petitions"))?;
    let districts: Vec<String> = client
        .query("SELECT name FROM data.stadtteile ORDER BY id", &[])
        .await
        .map_err(db("reading the demo districts"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if districts.is_empty() {
        return Ok(0);
    }
    let pick = |name: &str, i: usize| -> String {
        if districts.iter().any(|d| d == name) {
            name.to_owned()
        } else {
            districts[i % districts.len()].clone()
        }
    };
    let days = i32::try_from(config.petitions.duration_days).unwrap_or(182);
    let threshold = i32::try_from(config.petitions.threshold.max(1)).unwrap_or(2000);
    let mut made = 0;
    for (i, (title, body, topic, place, status, signatures)) in EXAMPLES.iter().enumerate() {
        let (kind, names) = place.split_once(':').unwrap_or(("point", place));
        let names: Vec<String> = names.split('|').map(|n| pick(n, i)).collect();
        let geom = match kind {
            // A point inside the district; an area: a circle of 250 m around it.
            "point" => {
                "(SELECT ST_PointOnSurface(ST_Union(geom)) FROM data.stadtteile WHERE name = ANY($6))"
            }
            "area" => {
                "(SELECT ST_Multi(ST_Intersection(ST_Buffer(ST_PointOnSurface(ST_Union(geom)), 250, 6), ST_Union(geom))) FROM data.stadtteile WHERE name = ANY($6))"
            }
            _ => "(SELECT ST_Multi(ST_Union(geom)) FROM data.stadtteile WHERE name = ANY($6))",
        };
        // Published some weeks ago (staggered); the closed one ran its full time.
        let age = if *status == "closed" {
            days + 20
        } else {
            10 + i32::try_from(i).unwrap_or(0) * 9
        };
        let row = client
            .query_one(
                &format!(
                    "INSERT INTO petitions.petitions (status, title, body, topic, place_kind, districts, geom,
                         creator_public, sponsor_key, threshold, residents_only, created_at, confirmed_at,
                         published_at, deadline, closed_at, reject_code, reject_reason, response, response_at)
                     VALUES ($1, $2, $3, $4, $5, $6, ST_Transform({geom}, 25832), false, 'demo-' || $7::int,
                         $8, true, now() - make_interval(days => $9 + 3), now() - make_interval(days => $9 + 3),
                         CASE WHEN $1 IN ('open', 'closed') THEN now() - make_interval(days => $9) END,
                         CASE WHEN $1 IN ('open', 'closed') THEN now() - make_interval(days => $9) + make_interval(days => $10) END,
                         CASE WHEN $1 = 'closed' THEN now() - make_interval(days => $9) + make_interval(days => $10)
                              WHEN $1 = 'rejected' THEN now() - make_interval(days => $9) END,
                         CASE WHEN $1 = 'rejected' THEN 'advertising' END,
                         CASE WHEN $1 = 'rejected' THEN 'Petitionen dürfen nicht für Waren oder Dienstleistungen werben.' END,
                         CASE WHEN $1 = 'closed' THEN 'Der Stadtrat hat die Petition in seiner Sitzung beraten. Die Stadtbibliothek öffnet ab dem nächsten Quartal dienstags und donnerstags bis 20 Uhr. Wir danken allen, die unterschrieben haben.' END,
                         CASE WHEN $1 = 'closed' THEN now() - interval '5 days' END)
                     RETURNING id"
                ),
                &[
                    status,
                    title,
                    body,
                    topic,
                    &if kind == "districts" { "districts" } else { kind },
                    &names,
                    &i32::try_from(i).unwrap_or(0),
                    &threshold,
                    &age,
                    &days,
                ],
            )
            .await
            .map_err(db("making an example petition"))?;
        let id: i64 = row.get(0);
        if *signatures > 0 {
            // Most signers live in the petition's districts, the others spread over the city;
            // one in eight gave a postcode outside.
            client
                .execute(
                    "WITH d AS (SELECT name, plz::text AS plz, row_number() OVER (ORDER BY id) AS k, count(*) OVER () AS n
                                FROM data.stadtteile),
                          s AS (SELECT g, CASE WHEN g % 3 <> 0 THEN (SELECT k FROM d WHERE name = ($3::text[])[1 + g % cardinality($3::text[])])
                                               ELSE 1 + (g * 7) % (SELECT max(n) FROM d) END AS k
                                FROM generate_series(1, $2) g)
                     INSERT INTO petitions.signatures (petition_id, name, slot, postcode, district, resident,
                         visibility, created_at, confirmed_at)
                     SELECT $1, 'Beispiel ' || s.g, 1,
                            CASE WHEN s.g % 8 = 0 THEN '5' || lpad(((s.g * 37) % 9999)::text, 4, '0') ELSE d.plz END,
                            CASE WHEN s.g % 8 = 0 THEN NULL ELSE d.name END,
                            s.g % 8 <> 0,
                            (ARRAY['anonymous', 'district', 'district', 'anonymous']::text[])[1 + s.g % 4],
                            now() - (s.g % 40) * interval '1 day', now() - (s.g % 40) * interval '1 day'
                     FROM s JOIN d ON d.k = s.k",
                    &[&id, signatures, &names],
                )
                .await
                .map_err(db("making example signatures"))?;
            client
                .execute(
                    "UPDATE petitions.petitions p SET threshold_reached_at = now() - interval '7 days'
                     WHERE id = $1 AND (SELECT coalesce(sum(n) FILTER (WHERE resident), 0) FROM petitions.counts WHERE petition_id = $1) >= threshold",
                    &[&id],
                )
                .await
                .map_err(db("making example signatures"))?;
        }
        made += 1;
    }
    Ok(made)
}
