//! What a report is: its statuses, its categories with their extra questions (Open311 service
//! definitions), the validation of a new report, and storing it — the report, its photos and the
//! mail it owes, in one transaction, so that it is durable before anyone says it was received.

use std::collections::BTreeMap;

use rand::Rng as _;
use serde_json::{Map, Value, json};
use stadtkarte_core::db::Conn;
use stadtkarte_core::db::DbError;
use stadtkarte_core::i18n::{self, Lang};
use stadtkarte_core::tokio_postgres::types::ToSql;
use stadtkarte_core::{AppState, Problem, ratelimit};

use crate::area::{self, Location, Placed};
use crate::notify;
use crate::photo::{PhotoError, Processed};

/// Longest description (characters), as Open311 allows.
pub const MAX_DESCRIPTION: usize = 4000;
/// Most photos per report.
pub const MAX_PHOTOS: usize = 3;

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Received, not looked at yet.
    Eingegangen,
    /// Looked at by the department.
    Geprueft,
    /// Being worked on.
    InBearbeitung,
    /// Fixed.
    Erledigt,
    /// Cannot be fixed (not the city's, or not possible).
    NichtLoesbar,
    /// The same as another report.
    Duplikat,
    /// Not a defect, abuse, or not the city's to decide.
    Abgelehnt,
}

impl Status {
    /// Every status, in the order of the workflow.
    pub const ALL: [Self; 7] = [
        Self::Eingegangen,
        Self::Geprueft,
        Self::InBearbeitung,
        Self::Erledigt,
        Self::NichtLoesbar,
        Self::Duplikat,
        Self::Abgelehnt,
    ];

    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eingegangen => "eingegangen",
            Self::Geprueft => "geprueft",
            Self::InBearbeitung => "in_bearbeitung",
            Self::Erledigt => "erledigt",
            Self::NichtLoesbar => "nicht_loesbar",
            Self::Duplikat => "duplikat",
            Self::Abgelehnt => "abgelehnt",
        }
    }

    /// From the stored name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the report is still open.
    #[must_use]
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Eingegangen | Self::Geprueft | Self::InBearbeitung
        )
    }

    /// Open311's two states.
    #[must_use]
    pub fn open311(self) -> &'static str {
        if self.is_open() { "open" } else { "closed" }
    }

    /// The detailed status for Open311 clients (`extensions=true`, `servicerequestupdates`),
    /// in FixMyStreet's words where it has one.
    #[must_use]
    pub fn detailed(self) -> &'static str {
        match self {
            Self::Eingegangen => "OPEN",
            Self::Geprueft => "INVESTIGATING",
            Self::InBearbeitung => "IN_PROGRESS",
            Self::Erledigt => "FIXED",
            Self::NichtLoesbar => "NO_FURTHER_ACTION",
            Self::Duplikat => "DUPLICATE",
            Self::Abgelehnt => "NOT_COUNCILS_RESPONSIBILITY",
        }
    }

    /// The name people read.
    #[must_use]
    pub fn label(self, lang: impl std::borrow::Borrow<Lang>) -> &'static str {
        let lang = *lang.borrow();
        i18n::tr_opt(lang, &format!("maengel.status.{}", self.as_str())).unwrap_or(self.as_str())
    }
}

/// When description and photos of a category's reports become public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// When staff release them.
    Review,
    /// A number of minutes after the report.
    Delay,
    /// At once.
    Immediate,
}

impl Release {
    /// From the stored name.
    #[must_use]
    pub fn parse(name: &str) -> Self {
        match name {
            "immediate" => Self::Immediate,
            "delay" => Self::Delay,
            _ => Self::Review,
        }
    }

    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Review => "review",
            Self::Delay => "delay",
            Self::Immediate => "immediate",
        }
    }
}

/// One value of a list question.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Choice {
    /// What is stored and posted.
    pub key: String,
    /// German name.
    pub name_de: String,
    /// English name.
    pub name_en: String,
}

impl Choice {
    /// The name in `lang`.
    #[must_use]
    pub fn name(&self, lang: impl std::borrow::Borrow<Lang>) -> &str {
        lang.borrow().pick(&self.name_de, &self.name_en)
    }
}

/// An extra question of a category (an Open311 attribute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Code, posted as `attribute[code]`.
    pub code: String,
    /// `string`, `number`, `datetime`, `text`, `singlevaluelist` or `multivaluelist`.
    pub datatype: String,
    /// Must be answered.
    pub required: bool,
    /// Asks for input (`false`: information only).
    pub variable: bool,
    /// Position (1 first).
    pub position: i32,
    /// The question in German.
    pub description_de: String,
    /// The question in English.
    pub description_en: String,
    /// Help on the format.
    pub datatype_description: String,
    /// The values of the list types.
    pub choices: Vec<Choice>,
}

impl Attribute {
    /// The question in `lang`.
    #[must_use]
    pub fn question(&self, lang: impl std::borrow::Borrow<Lang>) -> &str {
        lang.borrow()
            .pick(&self.description_de, &self.description_en)
    }

    /// Whether a list type.
    #[must_use]
    pub fn is_list(&self) -> bool {
        self.datatype.ends_with("valuelist")
    }
}

/// A category of defects (an Open311 service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// Code (`service_code`).
    pub code: String,
    /// German name.
    pub name_de: String,
    /// English name.
    pub name_en: String,
    /// German description.
    pub description_de: String,
    /// English description.
    pub description_en: String,
    /// Keywords.
    pub keywords: Vec<String>,
    /// Group.
    pub group: String,
    /// The department that handles it.
    pub department: String,
    /// Its name.
    pub department_name: String,
    /// The department's mailbox, if it has one.
    pub department_email: Option<String>,
    /// Release of description and photos.
    pub release: Release,
    /// Minutes for [`Release::Delay`].
    pub release_minutes: i32,
    /// `immediate` or `digest`.
    pub notify: String,
    /// Offered to citizens.
    pub active: bool,
    /// Order in lists.
    pub position: i32,
    /// Extra questions, in order.
    pub attributes: Vec<Attribute>,
}

impl Category {
    /// The name in `lang`.
    #[must_use]
    pub fn name(&self, lang: impl std::borrow::Borrow<Lang>) -> &str {
        lang.borrow().pick(&self.name_de, &self.name_en)
    }

    /// The description in `lang`.
    #[must_use]
    pub fn description(&self, lang: impl std::borrow::Borrow<Lang>) -> &str {
        lang.borrow()
            .pick(&self.description_de, &self.description_en)
    }
}

const CATEGORY_COLUMNS: &str = "c.code, c.name_de, c.name_en, c.description_de, c.description_en, \
    c.keywords, c.group_name, c.department, d.name, c.release, c.release_minutes, c.notify, c.active, c.position, d.email";

fn category_of(row: &stadtkarte_core::tokio_postgres::Row) -> Category {
    Category {
        code: row.get(0),
        name_de: row.get(1),
        name_en: row.get(2),
        description_de: row.get(3),
        description_en: row.get(4),
        keywords: row.get(5),
        group: row.get(6),
        department: row.get(7),
        department_name: row.get(8),
        release: Release::parse(row.get(9)),
        release_minutes: row.get(10),
        notify: row.get(11),
        active: row.get(12),
        position: row.get(13),
        department_email: row.get(14),
        attributes: Vec::new(),
    }
}

async fn attributes_of(
    client: &impl Conn,
    codes: &[String],
) -> Result<BTreeMap<String, Vec<Attribute>>, DbError> {
    let rows = client
        .query(
            "SELECT category, code, datatype, required, variable, position, description_de,
                    description_en, datatype_description, choices
             FROM maengel.attributes WHERE category = ANY($1) ORDER BY category, position",
            &[&codes],
        )
        .await
        .map_err(DbError::query("reading the questions of the categories"))?;
    let mut out: BTreeMap<String, Vec<Attribute>> = BTreeMap::new();
    for r in rows {
        let choices: Value = r.get(9);
        out.entry(r.get(0)).or_default().push(Attribute {
            code: r.get(1),
            datatype: r.get(2),
            required: r.get(3),
            variable: r.get(4),
            position: r.get(5),
            description_de: r.get(6),
            description_en: r.get(7),
            datatype_description: r.get(8),
            choices: serde_json::from_value(choices).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// The categories (only the active ones unless `all`), in their order, with their questions.
pub async fn categories(client: &impl Conn, all: bool) -> Result<Vec<Category>, DbError> {
    let rows = client
        .query(
            &format!(
                "SELECT {CATEGORY_COLUMNS} FROM maengel.categories c
                 JOIN auth.departments d ON d.id = c.department
                 WHERE $1 OR c.active ORDER BY c.position, c.name_de"
            ),
            &[&all],
        )
        .await
        .map_err(DbError::query("reading the categories"))?;
    let mut list: Vec<Category> = rows.iter().map(category_of).collect();
    let codes: Vec<String> = list.iter().map(|c| c.code.clone()).collect();
    let mut attributes = attributes_of(client, &codes).await?;
    for c in &mut list {
        c.attributes = attributes.remove(&c.code).unwrap_or_default();
    }
    Ok(list)
}

/// One category (active or not) with its questions.
pub async fn category(client: &impl Conn, code: &str) -> Result<Option<Category>, DbError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {CATEGORY_COLUMNS} FROM maengel.categories c
                 JOIN auth.departments d ON d.id = c.department WHERE c.code = $1"
            ),
            &[&code],
        )
        .await
        .map_err(DbError::query("reading a category"))?;
    let Some(row) = row else { return Ok(None) };
    let mut c = category_of(&row);
    c.attributes = attributes_of(client, std::slice::from_ref(&c.code))
        .await?
        .remove(&c.code)
        .unwrap_or_default();
    Ok(Some(c))
}

/// Where a report came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// The web form.
    Web,
    /// Open311, from the named API client.
    Open311(String),
}

/// A report as a citizen or an Open311 client sends it.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// Category code.
    pub category: String,
    /// What is wrong.
    pub description: String,
    /// Where.
    pub location: Location,
    /// For updates (optional).
    pub email: Option<String>,
    /// Name (optional).
    pub name: Option<String>,
    /// Phone (optional, Open311 only).
    pub phone: Option<String>,
    /// Mail about every change.
    pub wants_updates: bool,
    /// Answers to the extra questions: code and value (several for multivaluelist).
    pub attributes: Vec<(String, String)>,
    /// Links to media (Open311 `media_url`), kept, never fetched.
    pub media_urls: Vec<String>,
    /// Web or Open311.
    pub channel: Channel,
    /// The reporter's language (mail).
    pub lang: Lang,
    /// Processed photos.
    pub photos: Vec<Processed>,
    /// The category as the caller read it a moment ago (used when its code matches; else it
    /// is read).
    pub category_as_read: Option<Category>,
}

/// What is wrong with a new report: one per field, all at once.
#[derive(Debug, Clone, PartialEq)]
pub enum Invalid {
    /// No such (active) category.
    UnknownCategory(String),
    /// No category chosen.
    NoCategory,
    /// No description.
    EmptyDescription,
    /// Longer than [`MAX_DESCRIPTION`].
    LongDescription(usize),
    /// A required question unanswered.
    MissingAttribute {
        /// Its code.
        code: String,
        /// The question.
        question: String,
    },
    /// An answer of the wrong kind.
    BadAttribute {
        /// Its code.
        code: String,
        /// The question.
        question: String,
        /// Why (German / English).
        reason: (&'static str, &'static str),
    },
    /// A question the category does not ask.
    UnknownAttribute(String),
    /// No place given.
    NoLocation,
    /// Coordinates that are not numbers or not on Earth.
    BadCoordinates,
    /// The place lies outside the city.
    OutsideCity,
    /// An address the city does not have.
    UnknownAddress {
        /// As typed.
        typed: String,
        /// Close matches.
        suggestions: Vec<String>,
    },
    /// A district the city does not have.
    UnknownDistrict(String),
    /// Not an e-mail address.
    BadEmail,
    /// More than [`MAX_PHOTOS`].
    TooManyPhotos(usize),
    /// A photo refused.
    Photo {
        /// Its file name.
        file: String,
        /// Why.
        error: PhotoError,
    },
    /// The privacy notice was not accepted.
    PrivacyNotAccepted,
    /// A `media_url` that is not an http(s) address.
    BadMediaUrl,
    /// Name or phone too long.
    LongContact,
}

impl Invalid {
    /// The form field it belongs to.
    #[must_use]
    pub fn field(&self) -> String {
        match self {
            Self::UnknownCategory(_) | Self::NoCategory => "category".to_owned(),
            Self::EmptyDescription | Self::LongDescription(_) => "description".to_owned(),
            Self::MissingAttribute { code, .. }
            | Self::BadAttribute { code, .. }
            | Self::UnknownAttribute(code) => format!("attribute-{code}"),
            Self::NoLocation | Self::BadCoordinates | Self::OutsideCity => "location".to_owned(),
            Self::UnknownAddress { .. } => "address".to_owned(),
            Self::UnknownDistrict(_) => "district".to_owned(),
            Self::BadEmail | Self::LongContact => "email".to_owned(),
            Self::TooManyPhotos(_) | Self::Photo { .. } => "photos".to_owned(),
            Self::PrivacyNotAccepted => "privacy".to_owned(),
            Self::BadMediaUrl => "media_url".to_owned(),
        }
    }

    /// What the person reads.
    #[must_use]
    pub fn message(&self, lang: Lang) -> String {
        let en = lang == Lang::En;
        let t = |key: &str| i18n::tr(lang, &format!("maengel.invalid.{key}")).to_owned();
        match self {
            Self::UnknownCategory(c) => i18n::fill(lang, "maengel.invalid.unknown_category", &[c]),
            Self::NoCategory => t("no_category"),
            Self::EmptyDescription => t("empty_description"),
            Self::LongDescription(n) => i18n::fill(
                lang,
                "maengel.invalid.long_description",
                &[n, &MAX_DESCRIPTION],
            ),
            Self::MissingAttribute { question, .. } => {
                i18n::fill(lang, "maengel.invalid.missing_attribute", &[question])
            }
            Self::BadAttribute {
                question, reason, ..
            } => i18n::fill(
                lang,
                "maengel.invalid.bad_attribute",
                &[question, &if en { reason.1 } else { reason.0 }],
            ),
            Self::UnknownAttribute(code) => {
                i18n::fill(lang, "maengel.invalid.unknown_attribute", &[code])
            }
            Self::NoLocation => t("no_location"),
            Self::BadCoordinates => t("bad_coordinates"),
            Self::OutsideCity => t("outside_city"),
            Self::UnknownAddress { typed, suggestions } => {
                let mut m = i18n::fill(lang, "maengel.invalid.unknown_address", &[typed]);
                if !suggestions.is_empty() {
                    m.push(' ');
                    m.push_str(&i18n::fill(
                        lang,
                        "maengel.invalid.did_you_mean",
                        &[&suggestions.join(", ")],
                    ));
                }
                m
            }
            Self::UnknownDistrict(d) => i18n::fill(lang, "maengel.invalid.unknown_district", &[d]),
            Self::BadEmail => t("bad_email"),
            Self::TooManyPhotos(n) => {
                i18n::fill(lang, "maengel.invalid.too_many_photos", &[n, &MAX_PHOTOS])
            }
            Self::Photo { file, error } => error.message(file, en),
            Self::PrivacyNotAccepted => t("privacy"),
            Self::BadMediaUrl => t("media_url"),
            Self::LongContact => t("long_contact"),
        }
    }
}

/// Why a report was not stored.
#[derive(Debug)]
pub enum SubmitError {
    /// Something the sender can fix.
    Invalid(Vec<Invalid>),
    /// The server's trouble (database away: 503).
    Server(Problem),
}

impl From<DbError> for SubmitError {
    fn from(e: DbError) -> Self {
        Self::Server(e.into())
    }
}

impl From<Problem> for SubmitError {
    fn from(e: Problem) -> Self {
        Self::Server(e)
    }
}

/// A stored report.
#[derive(Debug, Clone)]
pub struct Created {
    /// Its number.
    pub id: i64,
    /// Its Open311 token.
    pub token: String,
    /// Its category's name (German and English).
    pub category: (String, String),
    /// Where it lies.
    pub placed: Placed,
    /// Whether description and photos are public at once.
    pub released: bool,
}

/// Checks an e-mail address the way a form should: one `@`, something on both sides, a dot in
/// the domain, no spaces or angle brackets, at most 254 characters.
#[must_use]
pub fn plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !email.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        })
}

/// Checks the answers against the category's questions; returns them as a JSON object.
pub fn check_attributes(
    category: &Category,
    answers: &[(String, String)],
    lang: Lang,
    problems: &mut Vec<Invalid>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (code, _) in answers {
        if !category.attributes.iter().any(|a| &a.code == code) {
            problems.push(Invalid::UnknownAttribute(code.clone()));
        }
    }
    for a in category.attributes.iter().filter(|a| a.variable) {
        let values: Vec<&str> = answers
            .iter()
            .filter(|(c, v)| c == &a.code && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect();
        let question = a.question(lang).to_owned();
        let bad = |reason| Invalid::BadAttribute {
            code: a.code.clone(),
            question: question.clone(),
            reason,
        };
        if values.is_empty() {
            if a.required {
                problems.push(Invalid::MissingAttribute {
                    code: a.code.clone(),
                    question: question.clone(),
                });
            }
            continue;
        }
        let known = |v: &str| a.choices.iter().any(|c| c.key == v);
        let value = match a.datatype.as_str() {
            "number" => match values[0].replace(',', ".").parse::<f64>() {
                Ok(n) if n.is_finite() && values.len() == 1 => json!(n),
                _ => {
                    problems.push(bad(("keine Zahl", "not a number")));
                    continue;
                }
            },
            "datetime" => {
                let v = values[0];
                let ok = chrono::DateTime::parse_from_rfc3339(v).is_ok()
                    || chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M").is_ok()
                    || chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok();
                if !ok || values.len() > 1 {
                    problems.push(bad((
                        "kein Datum (JJJJ-MM-TT oder JJJJ-MM-TTThh:mm)",
                        "not a date (YYYY-MM-DD or YYYY-MM-DDThh:mm)",
                    )));
                    continue;
                }
                json!(v)
            }
            "singlevaluelist" => {
                if values.len() > 1 || !known(values[0]) {
                    problems.push(bad((
                        "keiner der angebotenen Werte",
                        "not one of the offered values",
                    )));
                    continue;
                }
                json!(values[0])
            }
            "multivaluelist" => {
                if !values.iter().all(|v| known(v)) {
                    problems.push(bad((
                        "keiner der angebotenen Werte",
                        "not one of the offered values",
                    )));
                    continue;
                }
                json!(values)
            }
            _ => {
                let v = values.join("\n");
                if v.chars().count() > 1000 {
                    problems.push(bad((
                        "länger als 1000 Zeichen",
                        "longer than 1000 characters",
                    )));
                    continue;
                }
                json!(v)
            }
        };
        out.insert(a.code.clone(), value);
    }
    out
}

/// A random token of `bytes` bytes, URL-safe.
#[must_use]
pub fn random_token(bytes: usize) -> String {
    use base64::Engine as _;
    let mut buf = vec![0_u8; bytes];
    rand::rng().fill(buf.as_mut_slice());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

fn trimmed(value: Option<&String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A report that passed every check.
struct Checked {
    category: Category,
    placed: Placed,
    description: String,
    attributes: Map<String, Value>,
    email: Option<String>,
    name: Option<String>,
    phone: Option<String>,
}

/// Every check of a report, all problems at once.
async fn check(
    client: &impl Conn,
    config: &stadtkarte_core::config::MaengelConfig,
    report: &NewReport,
) -> Result<Result<Checked, Vec<Invalid>>, DbError> {
    let lang = report.lang;
    let mut problems = Vec::new();
    let category = if report.category.trim().is_empty() {
        problems.push(Invalid::NoCategory);
        None
    } else {
        let as_read = report
            .category_as_read
            .clone()
            .filter(|c| c.code == report.category.trim());
        let found = match as_read {
            Some(c) => Some(c),
            None => category(client, report.category.trim()).await?,
        };
        match found {
            Some(c) if c.active => Some(c),
            _ => {
                problems.push(Invalid::UnknownCategory(report.category.clone()));
                None
            }
        }
    };
    let description = report.description.trim().replace("\r\n", "\n");
    let chars = description.chars().count();
    if chars == 0 {
        problems.push(Invalid::EmptyDescription);
    } else if chars > MAX_DESCRIPTION {
        problems.push(Invalid::LongDescription(chars));
    }
    let attributes = category
        .as_ref()
        .map(|c| check_attributes(c, &report.attributes, lang, &mut problems))
        .unwrap_or_default();
    let email = trimmed(report.email.as_ref()).map(|e| e.to_lowercase());
    if email.as_deref().is_some_and(|e| !plausible_email(e)) {
        problems.push(Invalid::BadEmail);
    }
    let name = trimmed(report.name.as_ref());
    let phone = trimmed(report.phone.as_ref());
    if name.as_ref().is_some_and(|n| n.chars().count() > 200)
        || phone.as_ref().is_some_and(|p| p.chars().count() > 50)
    {
        problems.push(Invalid::LongContact);
    }
    for url in &report.media_urls {
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && url.len() <= 2000
            && !url.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            problems.push(Invalid::BadMediaUrl);
            break;
        }
    }
    if report.photos.len() > MAX_PHOTOS {
        problems.push(Invalid::TooManyPhotos(report.photos.len()));
    }
    let placed = match area::place(client, config, &report.location).await {
        Ok(p) => Some(p),
        Err(area::PlaceError::Invalid(i)) => {
            problems.push(i);
            None
        }
        Err(area::PlaceError::Db(e)) => return Err(e),
    };
    match (category, placed) {
        (Some(category), Some(placed)) if problems.is_empty() => Ok(Ok(Checked {
            category,
            placed,
            description,
            attributes,
            email,
            name,
            phone,
        })),
        _ => Ok(Err(problems)),
    }
}

/// The problems of `report` (empty when it would be accepted), without storing anything.
pub async fn validate_only(state: &AppState, report: &NewReport) -> Result<Vec<Invalid>, DbError> {
    let client = state.pool.get().await?;
    Ok(check(&*client, &state.config.maengel, report)
        .await?
        .err()
        .unwrap_or_default())
}

/// The statement that stores a report.
const INSERT_REPORT: &str = "INSERT INTO maengel.reports (category, description, released_at, geom,
        address, district, attributes, media_urls, reporter_email, reporter_name, reporter_phone,
        wants_updates, secret, token, lang, channel, api_client)
    VALUES ($1, $2, CASE WHEN $3::int IS NULL THEN NULL ELSE now() + make_interval(mins => $3::int) END,
        ST_Transform(ST_SetSRID(ST_MakePoint($4, $5), 4326), 25832), $6, $7, $8, $9,
        $10, $11, $12, $13, $14, $15, $16, $17, $18)
    RETURNING id";

/// Validates `report` and stores it with its photos and mail in one transaction. Returns once
/// the transaction is committed.
pub async fn submit(state: &AppState, report: NewReport) -> Result<Created, SubmitError> {
    let lang = report.lang;
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let Checked {
        category,
        placed,
        description,
        attributes,
        email,
        name,
        phone,
    } = check(&*client, &state.config.maengel, &report)
        .await?
        .map_err(SubmitError::Invalid)?;

    let token = random_token(12);
    let secret = random_token(24);
    let (channel, api_client) = match &report.channel {
        Channel::Web => ("web", None),
        Channel::Open311(client) => ("open311", Some(client.as_str())),
    };
    let release_minutes = match category.release {
        Release::Immediate => Some(0),
        Release::Delay => Some(category.release_minutes),
        Release::Review => None,
    };
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("storing a report"))?;
    // The report and the Open311 client's posts per minute go out together (one round trip);
    // the count has no commit of its own, so a refused or failed report does not count.
    let attributes = Value::Object(attributes);
    let wants_updates = report.wants_updates && email.is_some();
    let values: [&(dyn ToSql + Sync); 18] = [
        &category.code,
        &description,
        &release_minutes,
        &placed.lon,
        &placed.lat,
        &placed.address,
        &placed.district,
        &attributes,
        &report.media_urls,
        &email,
        &name,
        &phone,
        &wants_updates,
        &secret,
        &token,
        &lang.code(),
        &channel,
        &api_client,
    ];
    let insert = async {
        tx.query_one(INSERT_REPORT, &values)
            .await
            .map_err(|e| SubmitError::from(DbError::query("storing a report")(e)))
    };
    let limit = async {
        if let Some(api_client) = api_client {
            ratelimit::hit_shared(
                &tx,
                &format!("open311:{api_client}"),
                state.config.maengel.reports_per_api_key_minute,
                60,
            )
            .await?;
        }
        Ok::<_, SubmitError>(())
    };
    let (row, ()) = futures_util::future::try_join(insert, limit).await?;
    let id: i64 = row.get(0);
    for (i, photo) in report.photos.iter().enumerate() {
        let position = i16::try_from(i + 1).unwrap_or(1);
        tx.execute(
            "INSERT INTO maengel.photos (report_id, position, display, thumb, width, height)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &id,
                &position,
                &photo.display,
                &photo.thumb,
                &i32::try_from(photo.width).unwrap_or(i32::MAX),
                &i32::try_from(photo.height).unwrap_or(i32::MAX),
            ],
        )
        .await
        .map_err(DbError::query("storing a photo"))?;
    }
    let created = Created {
        id,
        token,
        category: (category.name_de.clone(), category.name_en.clone()),
        placed,
        released: release_minutes == Some(0),
    };
    if let Some(email) = &email {
        notify::confirmation(&tx, state, email, lang, &created, &secret).await?;
    }
    if category.notify == "immediate" {
        notify::department_new(&tx, state, &category, &created, &description).await?;
    }
    tx.commit()
        .await
        .map_err(DbError::query("storing a report"))?;
    metrics::counter!("stadtkarte_maengel_reports_total", "channel" => channel).increment(1);
    Ok(created)
}

/// Counts a "me too" for an open report: no personal data, only the number goes up.
pub async fn support(client: &impl Conn, id: i64) -> Result<Option<i32>, DbError> {
    let row = client
        .query_opt(
            "UPDATE maengel.reports SET supporters = supporters + 1
             WHERE id = $1 AND NOT hidden AND status IN ('eingegangen', 'geprueft', 'in_bearbeitung')
             RETURNING supporters",
            &[&id],
        )
        .await
        .map_err(DbError::query("counting a supporter"))?;
    Ok(row.map(|r| r.get(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn category() -> Category {
        Category {
            code: "x".into(),
            name_de: "X".into(),
            name_en: "X".into(),
            description_de: String::new(),
            description_en: String::new(),
            keywords: vec![],
            group: String::new(),
            department: "d".into(),
            department_name: "D".into(),
            department_email: None,
            release: Release::Review,
            release_minutes: 0,
            notify: "immediate".into(),
            active: true,
            position: 1,
            attributes: vec![
                Attribute {
                    code: "art".into(),
                    datatype: "singlevaluelist".into(),
                    required: true,
                    variable: true,
                    position: 1,
                    description_de: "Art".into(),
                    description_en: "Kind".into(),
                    datatype_description: String::new(),
                    choices: vec![Choice {
                        key: "loch".into(),
                        name_de: "Loch".into(),
                        name_en: "Hole".into(),
                    }],
                },
                Attribute {
                    code: "tiefe".into(),
                    datatype: "number".into(),
                    required: false,
                    variable: true,
                    position: 2,
                    description_de: "Tiefe".into(),
                    description_en: "Depth".into(),
                    datatype_description: String::new(),
                    choices: vec![],
                },
            ],
        }
    }

    #[test]
    fn answers_are_checked_against_the_questions() {
        let c = category();
        let mut p = Vec::new();
        let out = check_attributes(
            &c,
            &[
                ("art".into(), "loch".into()),
                ("tiefe".into(), "4,5".into()),
            ],
            Lang::De,
            &mut p,
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(out["art"], json!("loch"));
        assert_eq!(out["tiefe"], json!(4.5));

        let mut p = Vec::new();
        check_attributes(&c, &[("tiefe".into(), "tief".into())], Lang::De, &mut p);
        assert!(matches!(p[0], Invalid::MissingAttribute { ref code, .. } if code == "art"));
        assert!(matches!(p[1], Invalid::BadAttribute { ref code, .. } if code == "tiefe"));

        let mut p = Vec::new();
        check_attributes(
            &c,
            &[
                ("art".into(), "riss".into()),
                ("farbe".into(), "rot".into()),
            ],
            Lang::De,
            &mut p,
        );
        assert!(matches!(p[0], Invalid::UnknownAttribute(ref code) if code == "farbe"));
        assert!(matches!(p[1], Invalid::BadAttribute { ref code, .. } if code == "art"));
    }

    #[test]
    fn e_mail_addresses_are_plausible_or_refused() {
        assert!(plausible_email("anna@example.org"));
        for bad in [
            "anna",
            "anna@",
            "@example.org",
            "anna@example",
            "anna@.org",
            "a b@example.org",
            "anna@example.org\r\nBcc: x@y.z",
            "\"a\"@example.org",
        ] {
            assert!(!plausible_email(bad), "{bad:?}");
        }
    }

    #[test]
    fn statuses_map_onto_open311() {
        let open: Vec<_> = Status::ALL.into_iter().filter(|s| s.is_open()).collect();
        assert_eq!(
            open,
            [Status::Eingegangen, Status::Geprueft, Status::InBearbeitung]
        );
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
