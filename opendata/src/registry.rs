//! The dataset registry (`catalog.datasets`, `catalog.dataset_collections`,
//! `catalog.dataset_imagery`).
//!
//! Vocabularies are checked here with messages that list the allowed values (the database
//! checks them again). `modified` is computed on every read from the `updated_at` of the
//! collections and imagery epochs, so it follows the data without anyone touching the dataset.

use stadtkarte_core::db::DbError;
use stadtkarte_core::tokio_postgres::{GenericClient, Row};
use stadtkarte_core::{audit, catalog, imagery};

/// EU data themes (`http://publications.europa.eu/resource/authority/data-theme/`).
pub const THEMES: &[&str] = &[
    "AGRI", "ECON", "EDUC", "ENER", "ENVI", "GOVE", "HEAL", "INTR", "JUST", "REGI", "SOCI", "TECH",
    "TRAN",
];
/// EU frequencies (`http://publications.europa.eu/resource/authority/frequency/`).
pub const FREQUENCIES: &[&str] = &[
    "CONT",
    "UPDATE_CONT",
    "DAILY",
    "WEEKLY",
    "BIWEEKLY",
    "MONTHLY",
    "QUARTERLY",
    "BIANNUAL",
    "ANNUAL",
    "BIENNIAL",
    "IRREG",
    "NEVER",
    "UNKNOWN",
];
/// Open licences of the dcat-ap.de vocabulary, by their short id.
pub const LICENSES: &[(&str, &str)] = &[
    (
        "dl-by-de/2.0",
        "Datenlizenz Deutschland – Namensnennung – Version 2.0",
    ),
    (
        "dl-zero-de/2.0",
        "Datenlizenz Deutschland – Zero – Version 2.0",
    ),
    (
        "cc-by/4.0",
        "Creative Commons Namensnennung – 4.0 International",
    ),
    (
        "cc-by-sa/4.0",
        "Creative Commons Namensnennung – Weitergabe unter gleichen Bedingungen 4.0 International",
    ),
    ("cc-zero", "Creative Commons CC Zero License"),
    ("odbl", "Open Data Commons Open Database License"),
    (
        "officialWork",
        "Amtliches Werk, lizenzfrei nach §5 Abs. 1 UrhG",
    ),
];
/// Prefix of the licence IRIs.
pub const LICENSE_PREFIX: &str = "http://dcat-ap.de/def/licenses/";

/// A dataset as stored, with what is derived from its collections.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// URL-safe id.
    pub id: String,
    /// Title (German).
    pub title: String,
    /// Title (English).
    pub title_en: Option<String>,
    /// Description (German).
    pub description: String,
    /// Description (English).
    pub description_en: Option<String>,
    /// Keywords.
    pub keywords: Vec<String>,
    /// EU data-theme codes.
    pub themes: Vec<String>,
    /// Licence IRI.
    pub license: String,
    /// The exact attribution text to copy.
    pub attribution: String,
    /// Publisher.
    pub publisher_name: String,
    /// Publisher's web site.
    pub publisher_url: Option<String>,
    /// Contact point name.
    pub contact_name: String,
    /// Contact point e-mail.
    pub contact_email: String,
    /// `dcatde:contributorID`.
    pub contributor_id: String,
    /// `dcatde:politicalGeocodingURI`.
    pub political_geocoding: String,
    /// `dcatde:politicalGeocodingLevelURI`.
    pub political_geocoding_level: String,
    /// Temporal coverage, start (ISO date).
    pub temporal_start: Option<String>,
    /// Temporal coverage, end (ISO date).
    pub temporal_end: Option<String>,
    /// EU frequency code.
    pub accrual_periodicity: String,
    /// First publication, RFC 3339.
    pub issued: String,
    /// Last change of data or metadata, RFC 3339.
    pub modified: String,
    /// Published collections.
    pub collections: Vec<String>,
    /// Published aerial-imagery epochs (`catalog.imagery`).
    pub imagery: Vec<String>,
    /// Features in all its collections.
    pub feature_count: i64,
    /// Spatial extent (CRS84) of its collections and epochs.
    pub extent_crs84: Option<[f64; 4]>,
}

/// What staff give for a new or changed dataset (`None`: keep, or default when new).
#[derive(Debug, Clone, Default)]
pub struct DatasetInput {
    /// Title (German).
    pub title: Option<String>,
    /// Title (English).
    pub title_en: Option<String>,
    /// Description (German).
    pub description: Option<String>,
    /// Description (English).
    pub description_en: Option<String>,
    /// Keywords (replace).
    pub keywords: Option<Vec<String>>,
    /// Themes (replace).
    pub themes: Option<Vec<String>>,
    /// Licence: short id (`dl-by-de/2.0`) or IRI.
    pub license: Option<String>,
    /// Attribution text.
    pub attribution: Option<String>,
    /// Publisher name.
    pub publisher_name: Option<String>,
    /// Publisher web site.
    pub publisher_url: Option<String>,
    /// Contact name.
    pub contact_name: Option<String>,
    /// Contact e-mail.
    pub contact_email: Option<String>,
    /// Temporal coverage start (YYYY-MM-DD).
    pub temporal_start: Option<String>,
    /// Temporal coverage end (YYYY-MM-DD).
    pub temporal_end: Option<String>,
    /// EU frequency code.
    pub accrual_periodicity: Option<String>,
    /// Collections (replace).
    pub collections: Option<Vec<String>>,
    /// Aerial-imagery epochs (replace).
    pub imagery: Option<Vec<String>>,
}

/// The defaults of a municipality for new datasets.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// Publisher, e.g. "Stadt Koblenz".
    pub publisher_name: String,
    /// Publisher web site.
    pub publisher_url: Option<String>,
    /// Contact point.
    pub contact_name: String,
    /// Contact e-mail.
    pub contact_email: String,
    /// `dcatde:contributorID` IRI.
    pub contributor_id: String,
    /// Political geocoding IRI.
    pub political_geocoding: String,
    /// Political geocoding level IRI.
    pub political_geocoding_level: String,
}

/// Why a registry change was refused. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A value is not allowed; the message says which are.
    #[error("{0}")]
    Invalid(String),
    /// No dataset with this id.
    #[error("there is no dataset {0:?}")]
    NotFound(String),
    /// The id is taken.
    #[error("dataset {0:?} exists already; use `dataset update`")]
    Exists(String),
    /// The database refused.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<RegistryError> for stadtkarte_core::Problem {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Invalid(m) => Self::bad_request(m),
            RegistryError::NotFound(id) => Self::not_found(format!("There is no dataset {id:?}.")),
            RegistryError::Exists(id) => Self::new(
                axum::http::StatusCode::CONFLICT,
                "Konflikt / conflict",
                format!("dataset {id:?} exists already"),
            ),
            RegistryError::Db(db) => db.into(),
        }
    }
}

const SELECT: &str = "SELECT d.id, d.title, d.title_en, d.description, d.description_en, d.keywords, d.themes,
        d.license, d.attribution, d.publisher_name, d.publisher_url, d.contact_name, d.contact_email,
        d.contributor_id, d.political_geocoding, d.political_geocoding_level,
        d.temporal_start::text, d.temporal_end::text, d.accrual_periodicity,
        to_json(d.issued) #>> '{}',
        to_json(greatest(d.metadata_modified, c.modified, i.modified)) #>> '{}',
        c.ids, c.features,
        CASE WHEN c.xmin IS NULL AND i.box IS NULL THEN NULL ELSE ARRAY[
             least(c.xmin, ST_XMin(i.box)), least(c.ymin, ST_YMin(i.box)),
             greatest(c.xmax, ST_XMax(i.box)), greatest(c.ymax, ST_YMax(i.box))] END,
        i.ids
     FROM catalog.datasets d
     CROSS JOIN LATERAL (
         SELECT coalesce(array_agg(c.id ORDER BY c.id), '{}') AS ids,
                coalesce(sum(c.feature_count), 0)::bigint AS features,
                max(c.updated_at) AS modified,
                min(c.extent_crs84[1]) AS xmin, min(c.extent_crs84[2]) AS ymin,
                max(c.extent_crs84[3]) AS xmax, max(c.extent_crs84[4]) AS ymax
           FROM catalog.dataset_collections dc
           JOIN catalog.collections c ON c.id = dc.collection_id
          WHERE dc.dataset_id = d.id) c
     CROSS JOIN LATERAL (
         SELECT coalesce(array_agg(i.id ORDER BY i.id), '{}') AS ids,
                max(i.updated_at) AS modified, ST_Extent(i.footprint) AS box
           FROM catalog.dataset_imagery di
           JOIN catalog.imagery i ON i.id = di.imagery_id
          WHERE di.dataset_id = d.id) i";

fn from_row(r: &Row) -> Dataset {
    let extent: Option<Vec<f64>> = r.get(23);
    Dataset {
        id: r.get(0),
        title: r.get(1),
        title_en: r.get(2),
        description: r.get(3),
        description_en: r.get(4),
        keywords: r.get(5),
        themes: r.get(6),
        license: r.get(7),
        attribution: r.get(8),
        publisher_name: r.get(9),
        publisher_url: r.get(10),
        contact_name: r.get(11),
        contact_email: r.get(12),
        contributor_id: r.get(13),
        political_geocoding: r.get(14),
        political_geocoding_level: r.get(15),
        temporal_start: r.get(16),
        temporal_end: r.get(17),
        accrual_periodicity: r.get(18),
        issued: r.get(19),
        modified: r.get(20),
        collections: r.get(21),
        imagery: r.get(24),
        feature_count: r.get(22),
        extent_crs84: extent.and_then(|e| <[f64; 4]>::try_from(e).ok()),
    }
}

/// Every dataset, by id.
pub async fn list(client: &impl GenericClient) -> Result<Vec<Dataset>, RegistryError> {
    let rows = client
        .query(&format!("{SELECT} ORDER BY d.id"), &[])
        .await
        .map_err(DbError::query("listing datasets"))?;
    Ok(rows.iter().map(from_row).collect())
}

/// One dataset.
pub async fn get(client: &impl GenericClient, id: &str) -> Result<Option<Dataset>, RegistryError> {
    let row = client
        .query_opt(&format!("{SELECT} WHERE d.id = $1"), &[&id])
        .await
        .map_err(DbError::query("reading a dataset"))?;
    Ok(row.as_ref().map(from_row))
}

fn check_in(kind: &str, value: &str, allowed: &[&str]) -> Result<(), RegistryError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(RegistryError::Invalid(format!(
            "{kind} {value:?} is not allowed; use one of {}",
            allowed.join(", ")
        )))
    }
}

/// A licence IRI from a short id or an IRI of the vocabulary.
pub fn license_iri(value: &str) -> Result<String, RegistryError> {
    let short = value.strip_prefix(LICENSE_PREFIX).unwrap_or(value);
    if LICENSES.iter().any(|(id, _)| *id == short) {
        Ok(format!("{LICENSE_PREFIX}{short}"))
    } else {
        let ids: Vec<&str> = LICENSES.iter().map(|(id, _)| *id).collect();
        Err(RegistryError::Invalid(format!(
            "licence {value:?} is not an open licence of the dcat-ap.de vocabulary; use one of {}",
            ids.join(", ")
        )))
    }
}

/// The licence's name for people.
#[must_use]
pub fn license_name(iri: &str) -> &str {
    let short = iri.strip_prefix(LICENSE_PREFIX).unwrap_or(iri);
    LICENSES
        .iter()
        .find(|(id, _)| *id == short)
        .map_or(iri, |(_, name)| name)
}

fn check_date(what: &str, value: Option<&String>) -> Result<(), RegistryError> {
    match value {
        Some(v)
            if !(v.len() == 10
                && v.as_bytes()[4] == b'-'
                && v.as_bytes()[7] == b'-'
                && v.bytes().filter(u8::is_ascii_digit).count() == 8) =>
        {
            Err(RegistryError::Invalid(format!(
                "{what} {v:?} is not a date (YYYY-MM-DD)"
            )))
        }
        _ => Ok(()),
    }
}

async fn check_input(
    client: &impl GenericClient,
    input: &DatasetInput,
) -> Result<Option<String>, RegistryError> {
    for t in input.themes.iter().flatten() {
        check_in("theme", t, THEMES)?;
    }
    if let Some(f) = &input.accrual_periodicity {
        check_in("frequency", f, FREQUENCIES)?;
    }
    check_date("temporal start", input.temporal_start.as_ref())?;
    check_date("temporal end", input.temporal_end.as_ref())?;
    if let Some(e) = &input.contact_email
        && !e.contains('@')
    {
        return Err(RegistryError::Invalid(format!(
            "contact e-mail {e:?} is not an e-mail address"
        )));
    }
    for c in input.collections.iter().flatten() {
        if catalog::get(client, c).await?.is_none() {
            return Err(RegistryError::Invalid(format!(
                "collection {c:?} does not exist (see `stadtkarte dataset list` and the catalog)"
            )));
        }
    }
    if let Some(wanted) = &input.imagery {
        let known: Vec<String> = client
            .query(
                "SELECT id FROM catalog.imagery WHERE id = ANY($1)",
                &[wanted],
            )
            .await
            .map_err(DbError::query("checking imagery epochs"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if let Some(missing) = wanted.iter().find(|w| !known.contains(w)) {
            return Err(RegistryError::Invalid(format!(
                "imagery epoch {missing:?} does not exist (see `/imagery` and `stadtkarte import imagery`)"
            )));
        }
    }
    input.license.as_deref().map(license_iri).transpose()
}

/// Creates a dataset.
pub async fn add(
    client: &impl GenericClient,
    id: &str,
    input: &DatasetInput,
    defaults: &Defaults,
    actor: &str,
) -> Result<Dataset, RegistryError> {
    if !(id.len() <= 63
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'))
    {
        return Err(RegistryError::Invalid(format!(
            "{id:?} is not a valid dataset id (lower-case letters, digits, _ and -)"
        )));
    }
    if get(client, id).await?.is_some() {
        return Err(RegistryError::Exists(id.to_owned()));
    }
    let license = check_input(client, input)
        .await?
        .unwrap_or_else(|| format!("{LICENSE_PREFIX}dl-by-de/2.0"));
    let required = |v: &Option<String>, what: &str| {
        v.clone()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| RegistryError::Invalid(format!("a new dataset needs {what}")))
    };
    let title = required(&input.title, "a title (--title)")?;
    let description = required(&input.description, "a description (--description)")?;
    let attribution = input
        .attribution
        .clone()
        .unwrap_or_else(|| format!("{}, {}", defaults.publisher_name, license_name(&license)));
    client
        .execute(
            "INSERT INTO catalog.datasets (id, title, title_en, description, description_en, keywords, themes,
                 license, attribution, publisher_name, publisher_url, contact_name, contact_email,
                 contributor_id, political_geocoding, political_geocoding_level, temporal_start,
                 temporal_end, accrual_periodicity)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                 $17::text::date, $18::text::date, $19)",
            &[
                &id,
                &title,
                &input.title_en,
                &description,
                &input.description_en,
                &input.keywords.clone().unwrap_or_default(),
                &input.themes.clone().unwrap_or_default(),
                &license,
                &attribution,
                &input.publisher_name.clone().unwrap_or_else(|| defaults.publisher_name.clone()),
                &input.publisher_url.clone().or_else(|| defaults.publisher_url.clone()),
                &input.contact_name.clone().unwrap_or_else(|| defaults.contact_name.clone()),
                &input.contact_email.clone().unwrap_or_else(|| defaults.contact_email.clone()),
                &defaults.contributor_id,
                &defaults.political_geocoding,
                &defaults.political_geocoding_level,
                &input.temporal_start,
                &input.temporal_end,
                &input.accrual_periodicity.clone().unwrap_or_else(|| "IRREG".to_owned()),
            ],
        )
        .await
        .map_err(DbError::query("adding a dataset"))?;
    set_links(
        client,
        id,
        Links::Collections,
        input.collections.as_deref().unwrap_or_default(),
    )
    .await?;
    set_links(
        client,
        id,
        Links::Imagery,
        input.imagery.as_deref().unwrap_or_default(),
    )
    .await?;
    let added = get(client, id)
        .await?
        .ok_or_else(|| RegistryError::NotFound(id.to_owned()))?;
    record(client, actor, "dataset.add", id, None, Some(&added)).await?;
    Ok(added)
}

/// The audit view of a dataset: what editors change (no personal data).
fn audit_view(d: &Dataset) -> serde_json::Value {
    serde_json::json!({
        "title": d.title, "title_en": d.title_en, "description": d.description,
        "description_en": d.description_en, "keywords": d.keywords, "themes": d.themes,
        "license": d.license, "attribution": d.attribution, "frequency": d.accrual_periodicity,
        "collections": d.collections, "imagery": d.imagery,
    })
}

/// One audit entry of a change, with the dataset before and after.
async fn record(
    client: &impl GenericClient,
    actor: &str,
    action: &str,
    id: &str,
    before: Option<&Dataset>,
    after: Option<&Dataset>,
) -> Result<(), RegistryError> {
    audit::append(
        client,
        &audit::Entry {
            actor,
            action,
            subject: &format!("dataset:{id}"),
            details: serde_json::json!({}),
            before: before.map(audit_view),
            after: after.map(audit_view),
            ..audit::Entry::default()
        },
    )
    .await?;
    Ok(())
}

/// Changes the given fields of a dataset.
pub async fn update(
    client: &impl GenericClient,
    id: &str,
    input: &DatasetInput,
    actor: &str,
) -> Result<Dataset, RegistryError> {
    let Some(before) = get(client, id).await? else {
        return Err(RegistryError::NotFound(id.to_owned()));
    };
    let license = check_input(client, input).await?;
    client
        .execute(
            "UPDATE catalog.datasets SET
                 title = coalesce($2, title), title_en = coalesce($3, title_en),
                 description = coalesce($4, description), description_en = coalesce($5, description_en),
                 keywords = coalesce($6, keywords), themes = coalesce($7, themes),
                 license = coalesce($8, license), attribution = coalesce($9, attribution),
                 publisher_name = coalesce($10, publisher_name), publisher_url = coalesce($11, publisher_url),
                 contact_name = coalesce($12, contact_name), contact_email = coalesce($13, contact_email),
                 temporal_start = coalesce($14::text::date, temporal_start),
                 temporal_end = coalesce($15::text::date, temporal_end),
                 accrual_periodicity = coalesce($16, accrual_periodicity), metadata_modified = now()
             WHERE id = $1",
            &[
                &id,
                &input.title,
                &input.title_en,
                &input.description,
                &input.description_en,
                &input.keywords,
                &input.themes,
                &license,
                &input.attribution,
                &input.publisher_name,
                &input.publisher_url,
                &input.contact_name,
                &input.contact_email,
                &input.temporal_start,
                &input.temporal_end,
                &input.accrual_periodicity,
            ],
        )
        .await
        .map_err(DbError::query("updating a dataset"))?;
    if let Some(collections) = &input.collections {
        set_links(client, id, Links::Collections, collections).await?;
    }
    if let Some(epochs) = &input.imagery {
        set_links(client, id, Links::Imagery, epochs).await?;
    }
    let after = get(client, id)
        .await?
        .ok_or_else(|| RegistryError::NotFound(id.to_owned()))?;
    record(
        client,
        actor,
        "dataset.update",
        id,
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(after)
}

/// What a dataset links to: its link table and that table's column.
#[derive(Clone, Copy)]
enum Links {
    Collections,
    Imagery,
}

/// Replaces the dataset's links of one kind.
async fn set_links(
    client: &impl GenericClient,
    id: &str,
    kind: Links,
    targets: &[String],
) -> Result<(), RegistryError> {
    let (table, column, what) = match kind {
        Links::Collections => (
            "dataset_collections",
            "collection_id",
            "linking collections",
        ),
        Links::Imagery => ("dataset_imagery", "imagery_id", "linking imagery epochs"),
    };
    client
        .execute(
            &format!("DELETE FROM catalog.{table} WHERE dataset_id = $1"),
            &[&id],
        )
        .await
        .map_err(DbError::query(what))?;
    client
        .execute(
            &format!(
                "INSERT INTO catalog.{table} (dataset_id, {column}) SELECT $1, unnest($2::text[])"
            ),
            &[&id, &targets],
        )
        .await
        .map_err(DbError::query(what))?;
    Ok(())
}

/// Removes a dataset (its collections and epochs stay).
pub async fn remove(
    client: &impl GenericClient,
    id: &str,
    actor: &str,
) -> Result<(), RegistryError> {
    let before = get(client, id).await?;
    let n = client
        .execute("DELETE FROM catalog.datasets WHERE id = $1", &[&id])
        .await
        .map_err(DbError::query("removing a dataset"))?;
    if n == 0 {
        return Err(RegistryError::NotFound(id.to_owned()));
    }
    record(client, actor, "dataset.remove", id, before.as_ref(), None).await?;
    Ok(())
}

/// The datasets of the demo city, one per demo collection (replacing earlier ones).
pub async fn fill_demo(
    client: &impl GenericClient,
    defaults: &Defaults,
) -> Result<usize, RegistryError> {
    // (id, title, English title, description, collection, keywords, themes)
    type Entry<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a [&'a str],
        &'a [&'a str],
    );
    let entries: [Entry<'_>; 5] = [
        (
            "gebaeude",
            "Gebäude",
            "Buildings",
            "Alle Gebäude der Stadt mit Nutzung, Geschosszahl, Höhe, Adresse und Fertigstellungsdatum.",
            "gebaeude",
            &["Gebäude", "Adresse", "Liegenschaftskataster"],
            &["REGI"],
        ),
        (
            "stadtteile",
            "Stadtteile",
            "City districts",
            "Die 30 Stadtteile mit Name, Schlüssel und Postleitzahl.",
            "stadtteile",
            &["Stadtteil", "Verwaltungsgrenze"],
            &["REGI", "GOVE"],
        ),
        (
            "strassen",
            "Straßennetz",
            "Street network",
            "Straßen mit Namen und Straßenklasse.",
            "strassen",
            &["Straße", "Verkehr"],
            &["TRAN"],
        ),
        (
            "orte",
            "Schulen, Spielplätze, Haltestellen und Toiletten",
            "Schools, playgrounds, bus stops and toilets",
            "Orte von Interesse im Stadtgebiet.",
            "poi",
            &["Schule", "Spielplatz", "Bushaltestelle", "Toilette"],
            &["EDUC", "SOCI", "TRAN"],
        ),
        (
            "gewaesser",
            "Gewässer",
            "Rivers",
            "Rhein und Mosel im Stadtgebiet.",
            "gewaesser",
            &["Gewässer", "Rhein", "Mosel"],
            &["ENVI"],
        ),
    ];
    client
        .execute(
            "DELETE FROM catalog.datasets WHERE id = ANY($1)",
            &[&entries.iter().map(|e| e.0).collect::<Vec<_>>()],
        )
        .await
        .map_err(DbError::query("replacing the demo datasets"))?;
    for (id, title, title_en, description, collection, keywords, themes) in entries {
        let input = DatasetInput {
            title: Some(title.to_owned()),
            title_en: Some(title_en.to_owned()),
            description: Some(format!("{description} Synthetische Demodaten.")),
            keywords: Some(keywords.iter().map(|k| (*k).to_owned()).collect()),
            themes: Some(themes.iter().map(|t| (*t).to_owned()).collect()),
            license: Some("dl-by-de/2.0".to_owned()),
            accrual_periodicity: Some("ANNUAL".to_owned()),
            collections: Some(vec![collection.to_owned()]),
            ..DatasetInput::default()
        };
        add(client, id, &input, defaults, "stadtkarte demo").await?;
    }
    Ok(entries.len())
}

/// Creates the datasets [`MAENGEL`] and [`PETITIONS`] where they are missing (staff's changes
/// to them stay). Returns the ids created.
pub async fn ensure_participation(
    client: &impl GenericClient,
    defaults: &Defaults,
) -> Result<Vec<&'static str>, RegistryError> {
    let mut created = Vec::new();
    for id in [MAENGEL, PETITIONS] {
        let there = client
            .query_opt("SELECT 1 FROM catalog.datasets WHERE id = $1", &[&id])
            .await
            .map_err(DbError::query("looking for a dataset"))?
            .is_some();
        if there {
            continue;
        }
        if id == MAENGEL {
            link_maengel(client, defaults, "stadtkarte").await?;
        } else {
            link_petitions(client, defaults, "stadtkarte").await?;
        }
        created.push(id);
    }
    Ok(created)
}

/// Id of the dataset of the Mängelmelder's reports.
pub const MAENGEL: &str = "maengelmeldungen";

/// Creates or replaces the dataset [`MAENGEL`] ("Mängelmeldungen"): the public reports of the
/// Mängelmelder (collection `maengel`, the view without any personal data), daily, under
/// "Zero".
pub async fn link_maengel(
    client: &impl GenericClient,
    defaults: &Defaults,
    actor: &str,
) -> Result<(), RegistryError> {
    client
        .execute("DELETE FROM catalog.datasets WHERE id = $1", &[&MAENGEL])
        .await
        .map_err(DbError::query("replacing the dataset of defect reports"))?;
    let input = DatasetInput {
        title: Some("Mängelmeldungen".to_owned()),
        title_en: Some("Reported defects".to_owned()),
        description: Some(
            "Von Bürgerinnen und Bürgern gemeldete Mängel im öffentlichen Raum (Straßenschäden, \
             defekte Beleuchtung, illegale Ablagerungen …) mit Kategorie, Ort, Stadtteil, Status \
             und Bearbeitungsverlauf. Ohne personenbezogene Daten; Beschreibungen erst nach \
             Freigabe durch die Verwaltung."
                .to_owned(),
        ),
        description_en: Some(
            "Defects in public space reported by citizens (road damage, broken street lights, \
             illegal dumping …) with category, place, district, status and progress. No personal \
             data; descriptions only once released by the city."
                .to_owned(),
        ),
        keywords: Some(
            [
                "Mängelmelder",
                "Open311",
                "Bürgerbeteiligung",
                "Straßenschäden",
            ]
            .iter()
            .map(|k| (*k).to_owned())
            .collect(),
        ),
        themes: Some(vec!["GOVE".to_owned(), "TRAN".to_owned()]),
        license: Some("dl-zero-de/2.0".to_owned()),
        accrual_periodicity: Some("DAILY".to_owned()),
        collections: Some(vec!["maengel".to_owned()]),
        ..DatasetInput::default()
    };
    add(client, MAENGEL, &input, defaults, actor).await?;
    Ok(())
}

/// Id of the dataset of petitions.
pub const PETITIONS: &str = "petitionen";

/// Creates or replaces the dataset [`PETITIONS`] ("Petitionen"): the published petitions with
/// their place, status and counts (collection `petitionen`, the view without signers or any
/// other personal data), daily, under "Zero".
pub async fn link_petitions(
    client: &impl GenericClient,
    defaults: &Defaults,
    actor: &str,
) -> Result<(), RegistryError> {
    client
        .execute("DELETE FROM catalog.datasets WHERE id = $1", &[&PETITIONS])
        .await
        .map_err(DbError::query("replacing the dataset of petitions"))?;
    let input = DatasetInput {
        title: Some("Petitionen".to_owned()),
        title_en: Some("Petitions".to_owned()),
        description: Some(
            "Petitionen an den Stadtrat mit ihrem Ort (Punkt, Fläche oder Stadtteile), Thema, \
             Status, Zeichnungsfrist, Quorum und der Zahl der bestätigten Unterschriften \
             (insgesamt und aus der Stadt). Ohne Unterzeichnende und ohne andere \
             personenbezogene Daten."
                .to_owned(),
        ),
        description_en: Some(
            "Petitions to the city council with their place (point, area or districts), topic, \
             status, deadline, threshold and the number of confirmed signatures (in total and \
             from the city). No signers and no other personal data."
                .to_owned(),
        ),
        keywords: Some(
            ["Petitionen", "Bürgerbeteiligung", "Stadtrat"]
                .iter()
                .map(|k| (*k).to_owned())
                .collect(),
        ),
        themes: Some(vec!["GOVE".to_owned(), "SOCI".to_owned()]),
        license: Some("dl-zero-de/2.0".to_owned()),
        accrual_periodicity: Some("DAILY".to_owned()),
        collections: Some(vec!["petitionen".to_owned()]),
        ..DatasetInput::default()
    };
    add(client, PETITIONS, &input, defaults, actor).await?;
    Ok(())
}

/// Id of the demo dataset of aerial imagery.
pub const DEMO_IMAGERY: &str = "luftbilder";

/// Creates or replaces the demo dataset [`DEMO_IMAGERY`] ("Luftbilder") publishing every epoch
/// in `catalog.imagery`; does nothing when there is none. Returns the number of epochs linked.
pub async fn link_demo_imagery(
    client: &impl GenericClient,
    defaults: &Defaults,
) -> Result<usize, RegistryError> {
    let epochs = imagery::list(client).await?;
    if epochs.is_empty() {
        return Ok(0);
    }
    client
        .execute(
            "DELETE FROM catalog.datasets WHERE id = $1",
            &[&DEMO_IMAGERY],
        )
        .await
        .map_err(DbError::query("replacing the demo imagery dataset"))?;
    let years: Vec<String> = epochs.iter().map(|e| e.year.to_string()).collect();
    let first = epochs.iter().map(|e| e.year).min().unwrap_or_default();
    let last = epochs.iter().map(|e| e.year).max().unwrap_or_default();
    let input = DatasetInput {
        title: Some("Luftbilder".to_owned()),
        title_en: Some("Aerial imagery".to_owned()),
        description: Some(format!(
            "Luftbilder (Orthofotos) des Stadtgebiets aus {} Jahrgängen ({}), als Kacheln und als Cloud-Optimized GeoTIFF. Synthetische Demodaten.",
            epochs.len(),
            years.join(", ")
        )),
        description_en: Some(format!(
            "Aerial images (orthophotos) of the city from {} epochs ({}), as tiles and as Cloud-Optimized GeoTIFF. Synthetic demo data.",
            epochs.len(),
            years.join(", ")
        )),
        keywords: Some(
            ["Luftbild", "Orthofoto", "Luftbildzeitreihe"]
                .iter()
                .map(|k| (*k).to_owned())
                .collect(),
        ),
        themes: Some(vec!["REGI".to_owned(), "ENVI".to_owned()]),
        license: Some("dl-by-de/2.0".to_owned()),
        temporal_start: Some(format!("{first:04}-01-01")),
        temporal_end: Some(format!("{last:04}-12-31")),
        accrual_periodicity: Some("IRREG".to_owned()),
        imagery: Some(epochs.iter().map(|e| e.id.clone()).collect()),
        ..DatasetInput::default()
    };
    add(client, DEMO_IMAGERY, &input, defaults, "stadtkarte demo").await?;
    Ok(epochs.len())
}
