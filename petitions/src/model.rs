//! Petitions and signatures in the database: starting a petition, the creator's and the
//! signers' confirmation (by a POST from the page the mail's link opens), the lifecycle, the
//! counts (kept exact by the table's trigger), and what the public may read.

use std::fmt;

use base64::Engine as _;
use rand::Rng as _;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use stadtkarte_core::config::PetitionsConfig;
use stadtkarte_core::db::Conn;
use stadtkarte_core::db::DbError;

use crate::place::Checked;

/// Longest title and text (characters).
pub const TITLE_MAX: usize = 150;
/// Shortest title.
pub const TITLE_MIN: usize = 10;
/// Longest text.
pub const BODY_MAX: usize = 6000;
/// Shortest text.
pub const BODY_MIN: usize = 30;
/// Longest name.
pub const NAME_MAX: usize = 200;

/// Where a petition stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The creator has not confirmed the e-mail address yet.
    Pending,
    /// Collecting sponsor signatures.
    Sponsoring,
    /// Waiting for a moderator.
    Moderation,
    /// Open for signatures.
    Open,
    /// Closed (deadline or early).
    Closed,
    /// Rejected by a moderator.
    Rejected,
    /// Hidden by staff.
    Hidden,
}

impl Status {
    /// Every status.
    pub const ALL: [Self; 7] = [
        Self::Pending,
        Self::Sponsoring,
        Self::Moderation,
        Self::Open,
        Self::Closed,
        Self::Rejected,
        Self::Hidden,
    ];

    /// As stored.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sponsoring => "sponsoring",
            Self::Moderation => "moderation",
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Rejected => "rejected",
            Self::Hidden => "hidden",
        }
    }

    /// From the stored text.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The public may see the petition.
    #[must_use]
    pub fn is_public(self) -> bool {
        matches!(self, Self::Open | Self::Closed | Self::Rejected)
    }

    /// The key of its label (`petitions.status.*`).
    #[must_use]
    pub fn label_key(self) -> &'static str {
        match self {
            Self::Pending => "petitions.status.pending",
            Self::Sponsoring => "petitions.status.sponsoring",
            Self::Moderation => "petitions.status.moderation",
            Self::Open => "petitions.status.open",
            Self::Closed => "petitions.status.closed",
            Self::Rejected => "petitions.status.rejected",
            Self::Hidden => "petitions.status.hidden",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a signer's name appears (openPetition's three levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Visibility {
    /// Name and district are shown.
    Public,
    /// Only the district is shown.
    District,
    /// Nothing is shown.
    Anonymous,
}

impl Visibility {
    /// As stored.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::District => "district",
            Self::Anonymous => "anonymous",
        }
    }

    /// From a form value (`oeffentlich`, `stadtteil`, `anonym`, or the stored names).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "oeffentlich" | "public" => Some(Self::Public),
            "stadtteil" | "district" => Some(Self::District),
            "anonym" | "anonymous" => Some(Self::Anonymous),
            _ => None,
        }
    }
}

/// What is wrong with a submission: each names its message key (`petitions.invalid.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Title too short or too long.
    Title,
    /// Text too short or too long.
    Body,
    /// No or an unknown topic.
    Topic,
    /// The place.
    Place(crate::place::PlaceError),
    /// No name or too long.
    Name,
    /// Not an e-mail address.
    Email,
    /// Not a German postcode (five digits).
    Postcode,
    /// A district that does not exist.
    District,
    /// No visibility chosen.
    Visibility,
    /// The privacy notice was not accepted.
    Consent,
}

impl Invalid {
    /// The form field it belongs to.
    #[must_use]
    pub fn field(&self) -> &'static str {
        match self {
            Self::Title => "titel",
            Self::Body => "text",
            Self::Topic => "thema",
            Self::Place(_) => "ort",
            Self::Name => "name",
            Self::Email => "email",
            Self::Postcode => "plz",
            Self::District => "stadtteil",
            Self::Visibility => "sichtbarkeit",
            Self::Consent => "datenschutz",
        }
    }

    /// The key of its message.
    #[must_use]
    pub fn key(&self) -> &'static str {
        match self {
            Self::Title => "petitions.invalid.title",
            Self::Body => "petitions.invalid.body",
            Self::Topic => "petitions.invalid.topic",
            Self::Place(p) => p.key(),
            Self::Name => "petitions.invalid.name",
            Self::Email => "petitions.invalid.email",
            Self::Postcode => "petitions.invalid.postcode",
            Self::District => "petitions.invalid.district",
            Self::Visibility => "petitions.invalid.visibility",
            Self::Consent => "petitions.invalid.consent",
        }
    }
}

/// An e-mail address folded so that one person has one: lower case, without a `+suffix`, and
/// without dots in the local part at Gmail (which ignores them). `None` when it is no address.
#[must_use]
pub fn canonical_email(email: &str) -> Option<(String, String)> {
    let email = email.trim().to_lowercase();
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = email.rsplit_once('@')?;
    if local.is_empty()
        || local.contains('@')
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || !domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
    {
        return None;
    }
    let domain = match domain {
        "googlemail.com" => "gmail.com",
        d => d,
    };
    let local = local.split('+').next().unwrap_or(local);
    let local = if domain == "gmail.com" {
        local.replace('.', "")
    } else {
        local.to_owned()
    };
    if local.is_empty() {
        return None;
    }
    Some((format!("{local}@{domain}"), domain.to_owned()))
}

/// A German postcode: five digits, not starting with 00.
#[must_use]
pub fn valid_postcode(postcode: &str) -> bool {
    let p = postcode.trim();
    p.len() == 5 && p.chars().all(|c| c.is_ascii_digit()) && !p.starts_with("00")
}

/// A new secret for a link: the text for the link and the hash to store.
#[must_use]
pub fn new_token() -> (String, Vec<u8>) {
    let raw: [u8; 32] = rand::rng().random();
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let hash = token_hash(&text);
    (text, hash)
}

/// The stored form of a link's secret.
#[must_use]
pub fn token_hash(text: &str) -> Vec<u8> {
    Sha256::digest(text.trim().as_bytes()).to_vec()
}

/// A petition as typed.
#[derive(Debug, Clone, Default)]
pub struct NewPetition {
    /// Title.
    pub title: String,
    /// Text.
    pub body: String,
    /// Topic code.
    pub topic: String,
    /// The creator's name.
    pub name: String,
    /// The creator's e-mail.
    pub email: String,
    /// Show the creator's name on the petition page.
    pub name_public: bool,
    /// Privacy notice accepted.
    pub consent: bool,
    /// Language of the creator's mail.
    pub lang: &'static str,
}

/// Checks the fields of a new petition that need no database (the place and topic are checked
/// with it).
#[must_use]
pub fn check_petition(p: &NewPetition) -> Vec<Invalid> {
    let mut out = Vec::new();
    let title = p.title.trim().chars().count();
    if !(TITLE_MIN..=TITLE_MAX).contains(&title) {
        out.push(Invalid::Title);
    }
    let body = p.body.trim().chars().count();
    if !(BODY_MIN..=BODY_MAX).contains(&body) {
        out.push(Invalid::Body);
    }
    let name = p.name.trim().chars().count();
    if name == 0 || name > NAME_MAX {
        out.push(Invalid::Name);
    }
    if canonical_email(&p.email).is_none() {
        out.push(Invalid::Email);
    }
    if !p.consent {
        out.push(Invalid::Consent);
    }
    out
}

/// Stores a new petition (status `pending`) and returns its id and the creator's confirmation
/// token. `place` is checked; `geometry_sql` is [`crate::place::Districts::geometry_sql`] over
/// `$7` (the GeoJSON text) and `$8` (the district names).
pub async fn create(
    client: &impl Conn,
    config: &PetitionsConfig,
    p: &NewPetition,
    place: &Checked,
    geometry_sql: &str,
) -> Result<(i64, String), DbError> {
    let (token, hash) = new_token();
    let (sponsor_key, _) = new_token();
    let geojson = place.geojson.clone().unwrap_or_default();
    let threshold = i32::try_from(config.threshold.max(1)).unwrap_or(i32::MAX);
    let row = client
        .query_one(
            &format!(
                "INSERT INTO petitions.petitions (title, body, topic, place_kind, districts, creator_name,
                     creator_email, creator_public, lang, confirm_hash, sponsor_key, threshold,
                     residents_only, geom)
                 VALUES ($1, $2, $3, $4, $8, $5, $6, $9, $10, $11, $12, $13, $14, {geometry_sql})
                 RETURNING id"
            ),
            &[
                &p.title.trim(),
                &p.body.trim(),
                &p.topic,
                &place.kind,
                &p.name.trim(),
                &p.email.trim(),
                &geojson,
                &place.districts,
                &p.name_public,
                &p.lang,
                &hash,
                &sponsor_key,
                &threshold,
                &config.threshold_residents_only,
            ],
        )
        .await
        .map_err(DbError::query("storing a petition"))?;
    Ok((row.get(0), token))
}

/// A petition as staff and its creator see it (with the private fields).
#[derive(Debug, Clone, Serialize)]
pub struct Petition {
    /// Number.
    pub id: i64,
    /// Status.
    pub status: Status,
    /// Title.
    pub title: String,
    /// The creator's title when a moderator changed it.
    pub original_title: Option<String>,
    /// Text.
    pub body: String,
    /// Topic code.
    pub topic: String,
    /// Topic (German).
    pub topic_de: String,
    /// Topic (English).
    pub topic_en: String,
    /// point | area | districts.
    pub place_kind: String,
    /// Districts.
    pub districts: Vec<String>,
    /// The place as GeoJSON (WGS84).
    pub geometry: String,
    /// The place's box (WGS84: minLon,minLat,maxLon,maxLat).
    pub bbox: String,
    /// The creator's name, when public (staff see it always: [`Petition::creator_name`]).
    pub creator_public_name: Option<String>,
    /// The creator's name (private).
    #[serde(skip)]
    pub creator_name: Option<String>,
    /// The creator's e-mail (private).
    #[serde(skip)]
    pub creator_email: Option<String>,
    /// Creator's language.
    #[serde(skip)]
    pub lang: String,
    /// The sponsors' link key.
    #[serde(skip)]
    pub sponsor_key: String,
    /// Flagged for a closer look.
    pub flagged: bool,
    /// Moderator's internal note.
    #[serde(skip)]
    pub moderation_note: Option<String>,
    /// Rejection code.
    pub reject_code: Option<String>,
    /// Rejection text.
    pub reject_reason: Option<String>,
    /// Why hidden (staff only).
    #[serde(skip)]
    pub hidden_reason: Option<String>,
    /// The council's response.
    pub response: Option<String>,
    /// When it was published.
    pub response_at: Option<String>,
    /// Signatures needed.
    pub threshold: i32,
    /// Only residents count.
    pub residents_only: bool,
    /// When the threshold was reached.
    pub threshold_reached_at: Option<String>,
    /// Created (ISO date-time).
    pub created_at: String,
    /// Published.
    pub published_at: Option<String>,
    /// Deadline.
    pub deadline: Option<String>,
    /// Days left (open petitions).
    pub days_left: Option<i32>,
    /// Closed.
    pub closed_at: Option<String>,
}

const PETITION_COLUMNS: &str = "p.id, p.status, p.title, p.original_title, p.body, p.topic, t.name_de, t.name_en,
    p.place_kind, p.districts, ST_AsGeoJSON(ST_Transform(p.geom, 4326), 6),
    concat_ws(',', round(ST_XMin(b)::numeric, 5), round(ST_YMin(b)::numeric, 5), round(ST_XMax(b)::numeric, 5), round(ST_YMax(b)::numeric, 5)),
    CASE WHEN p.creator_public THEN p.creator_name END, p.creator_name, p.creator_email, p.lang,
    p.sponsor_key, p.flagged, p.moderation_note, p.reject_code, p.reject_reason, p.hidden_reason,
    p.response, to_char(p.response_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD\"T\"HH24:MI'),
    p.threshold, p.residents_only, to_char(p.threshold_reached_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD\"T\"HH24:MI'),
    to_char(p.created_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD\"T\"HH24:MI'),
    to_char(p.published_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD\"T\"HH24:MI'),
    to_char(p.deadline AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD\"T\"HH24:MI'),
    CASE WHEN p.status = 'open' THEN greatest(0, ceil(extract(epoch FROM p.deadline - now()) / 86400))::int END,
    to_char(p.closed_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD\"T\"HH24:MI')";

fn petition_from(r: &stadtkarte_core::tokio_postgres::Row) -> Petition {
    Petition {
        id: r.get(0),
        status: Status::parse(r.get(1)).unwrap_or(Status::Hidden),
        title: r.get(2),
        original_title: r.get(3),
        body: r.get(4),
        topic: r.get(5),
        topic_de: r.get(6),
        topic_en: r.get(7),
        place_kind: r.get(8),
        districts: r.get(9),
        geometry: r.get(10),
        bbox: r.get(11),
        creator_public_name: r.get(12),
        creator_name: r.get(13),
        creator_email: r.get(14),
        lang: r.get(15),
        sponsor_key: r.get(16),
        flagged: r.get(17),
        moderation_note: r.get(18),
        reject_code: r.get(19),
        reject_reason: r.get(20),
        hidden_reason: r.get(21),
        response: r.get(22),
        response_at: r.get(23),
        threshold: r.get(24),
        residents_only: r.get(25),
        threshold_reached_at: r.get(26),
        created_at: r.get(27),
        published_at: r.get(28),
        deadline: r.get(29),
        days_left: r.get(30),
        closed_at: r.get(31),
    }
}

/// One petition by number (any status: callers decide what to show).
pub async fn petition(client: &impl Conn, id: i64) -> Result<Option<Petition>, DbError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {PETITION_COLUMNS} FROM petitions.petitions p
                 JOIN petitions.topics t ON t.code = p.topic, LATERAL (SELECT box2d(ST_Transform(p.geom, 4326)) AS b) bb
                 WHERE p.id = $1"
            ),
            &[&id],
        )
        .await
        .map_err(DbError::query("reading a petition"))?;
    Ok(row.as_ref().map(petition_from))
}

/// What signing needs of a petition (one light query on every signature).
#[derive(Debug, Clone)]
pub struct SigningTarget {
    /// Status.
    pub status: Status,
    /// Title.
    pub title: String,
    /// The sponsors' key.
    pub sponsor_key: String,
}

/// Status, title and sponsors' key of petition `id`.
pub async fn signing_target(client: &impl Conn, id: i64) -> Result<Option<SigningTarget>, DbError> {
    let row = client
        .query_opt(
            "SELECT status, title, sponsor_key FROM petitions.petitions WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(DbError::query("reading a petition"))?;
    Ok(row.map(|r| SigningTarget {
        status: Status::parse(r.get(0)).unwrap_or(Status::Hidden),
        title: r.get(1),
        sponsor_key: r.get(2),
    }))
}

/// A client's signatures of the last hour (by its salted daily hash), counted in the table up to
/// `limit`: a client's limit is small, so this is a short index range, and no counter row is
/// locked.
pub async fn recent_by_client(
    client: &impl Conn,
    client_hash: &str,
    limit: u32,
) -> Result<i64, DbError> {
    let row = client
        .query_one(
            "SELECT count(*) FROM (SELECT 1 FROM petitions.signatures
              WHERE client_hash = $1 AND created_at > now() - interval '1 hour' LIMIT $2) a",
            &[&client_hash, &i64::from(limit)],
        )
        .await
        .map_err(DbError::query("counting a client's signatures"))?;
    Ok(row.get(0))
}

/// A topic.
#[derive(Debug, Clone, Serialize)]
pub struct Topic {
    /// Code.
    pub code: String,
    /// German name.
    pub name_de: String,
    /// English name.
    pub name_en: String,
}

/// Every topic, in order.
pub async fn topics(client: &impl Conn) -> Result<Vec<Topic>, DbError> {
    let rows = client
        .query(
            "SELECT code, name_de, name_en FROM petitions.topics ORDER BY position, code",
            &[],
        )
        .await
        .map_err(DbError::query("listing the topics"))?;
    Ok(rows
        .iter()
        .map(|r| Topic {
            code: r.get(0),
            name_de: r.get(1),
            name_en: r.get(2),
        })
        .collect())
}

/// What the creator's confirmation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreatorConfirmed {
    /// Now collecting sponsors (the link to share).
    Sponsoring {
        /// Petition.
        id: i64,
        /// The sponsors' key.
        key: String,
    },
    /// Now waiting for moderation.
    Moderation(i64),
    /// Was confirmed before (nothing changed).
    Already(i64),
    /// No such token, or it expired.
    Unknown,
}

/// Confirms a creator's address: `pending` → `sponsoring` (when sponsors are needed) or
/// `moderation`.
pub async fn confirm_creator(
    client: &impl Conn,
    config: &PetitionsConfig,
    token: &str,
) -> Result<CreatorConfirmed, DbError> {
    let hash = token_hash(token);
    let hours = i32::try_from(config.confirm_hours).unwrap_or(72);
    let next = if config.sponsors > 0 {
        "sponsoring"
    } else {
        "moderation"
    };
    let row = client
        .query_opt(
            "UPDATE petitions.petitions SET status = $3, confirmed_at = now(), updated_at = now()
             WHERE confirm_hash = $1 AND status = 'pending'
               AND created_at > now() - make_interval(hours => $2)
             RETURNING id, sponsor_key",
            &[&hash, &hours, &next],
        )
        .await
        .map_err(DbError::query("confirming a petition"))?;
    if let Some(r) = row {
        let id: i64 = r.get(0);
        return Ok(if config.sponsors > 0 {
            CreatorConfirmed::Sponsoring { id, key: r.get(1) }
        } else {
            CreatorConfirmed::Moderation(id)
        });
    }
    let before = client
        .query_opt(
            "SELECT id FROM petitions.petitions WHERE confirm_hash = $1 AND status <> 'pending'",
            &[&hash],
        )
        .await
        .map_err(DbError::query("confirming a petition"))?;
    Ok(before.map_or(CreatorConfirmed::Unknown, |r| {
        CreatorConfirmed::Already(r.get(0))
    }))
}

/// A creator's petition by the confirmation token (for the page the link opens), if it is not
/// expired.
pub async fn petition_by_creator_token(
    client: &impl Conn,
    config: &PetitionsConfig,
    token: &str,
) -> Result<Option<(i64, String, Status)>, DbError> {
    let hours = i32::try_from(config.confirm_hours).unwrap_or(72);
    let row = client
        .query_opt(
            "SELECT id, title, status FROM petitions.petitions
             WHERE confirm_hash = $1 AND (status <> 'pending' OR created_at > now() - make_interval(hours => $2))",
            &[&token_hash(token), &hours],
        )
        .await
        .map_err(DbError::query("reading a petition"))?;
    Ok(row.map(|r| {
        (
            r.get(0),
            r.get(1),
            Status::parse(r.get(2)).unwrap_or(Status::Hidden),
        )
    }))
}

/// A signature as typed.
#[derive(Debug, Clone, Default)]
pub struct NewSignature {
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: String,
    /// Postcode.
    pub postcode: String,
    /// District chosen (empty: none).
    pub district: String,
    /// `oeffentlich`, `stadtteil`, `anonym`.
    pub visibility: String,
    /// Privacy notice accepted.
    pub consent: bool,
    /// Language of the mail.
    pub lang: &'static str,
    /// The sponsors' key from the link (empty: an ordinary signature).
    pub sponsor_key: String,
}

/// Checks what needs no database: name, e-mail, postcode, visibility, consent.
#[must_use]
pub fn check_signature(s: &NewSignature) -> Vec<Invalid> {
    let mut out = Vec::new();
    let name = s.name.trim().chars().count();
    if name == 0 || name > NAME_MAX {
        out.push(Invalid::Name);
    }
    if canonical_email(&s.email).is_none() {
        out.push(Invalid::Email);
    }
    if !valid_postcode(&s.postcode) {
        out.push(Invalid::Postcode);
    }
    if Visibility::parse(&s.visibility).is_none() {
        out.push(Invalid::Visibility);
    }
    if !s.consent {
        out.push(Invalid::Consent);
    }
    out
}

/// Why a signature was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignError {
    /// No such petition (or not public).
    Unknown,
    /// The petition does not take signatures now (closed, hidden, in moderation, …).
    NotOpen(Status),
    /// This e-mail address (or an alias of it) signed already.
    Duplicate,
    /// Fields are wrong.
    Invalid(Vec<Invalid>),
}

/// A signature taken (unconfirmed).
#[derive(Debug, Clone)]
pub struct Signed {
    /// Its id.
    pub id: i64,
    /// The confirmation token for the mail.
    pub token: String,
    /// The petition's title.
    pub title: String,
}

/// Stores an unconfirmed signature. `district` is the checked district (or `None`), `resident`
/// whether the signer counts as a resident. One per canonical e-mail and petition; with the
/// household rule a second one with another name and the same postcode.
#[allow(clippy::too_many_arguments)]
pub async fn sign(
    client: &impl Conn,
    config: &PetitionsConfig,
    petition_id: i64,
    s: &NewSignature,
    district: Option<&str>,
    resident: bool,
    client_hash: &str,
) -> Result<Result<Signed, SignError>, DbError> {
    let Some((canonical, domain)) = canonical_email(&s.email) else {
        return Ok(Err(SignError::Invalid(vec![Invalid::Email])));
    };
    let Some(visibility) = Visibility::parse(&s.visibility) else {
        return Ok(Err(SignError::Invalid(vec![Invalid::Visibility])));
    };
    // The petition and earlier signatures with the same address (they decide the slot) are
    // read together.
    let (row, earlier) = futures_util::future::try_join(
        client.query_opt(
            "SELECT status, title, sponsor_key FROM petitions.petitions WHERE id = $1",
            &[&petition_id],
        ),
        client.query(
            "SELECT lower(name), postcode, slot FROM petitions.signatures
             WHERE petition_id = $1 AND email_canonical = $2",
            &[&petition_id, &canonical],
        ),
    )
    .await
    .map_err(DbError::query("reading a petition and its signatures"))?;
    let Some(row) = row else {
        return Ok(Err(SignError::Unknown));
    };
    let status = Status::parse(row.get(0)).unwrap_or(Status::Hidden);
    let title: String = row.get(1);
    let key: String = row.get(2);
    let sponsor = status == Status::Sponsoring;
    let may_sign = status == Status::Open || (sponsor && s.sponsor_key.trim() == key);
    if !may_sign {
        return Ok(Err(if status.is_public() || sponsor {
            SignError::NotOpen(status)
        } else {
            SignError::Unknown
        }));
    }
    let slot: i16 = match earlier.as_slice() {
        [] => 1,
        [first]
            if config.household_rule
                && first.get::<_, String>(0) != s.name.trim().to_lowercase()
                && first.get::<_, Option<String>>(1).as_deref() == Some(s.postcode.trim()) =>
        {
            2
        }
        _ => return Ok(Err(SignError::Duplicate)),
    };
    let (token, hash) = new_token();
    let inserted = client
        .query_opt(
            "INSERT INTO petitions.signatures (petition_id, name, email, email_canonical, email_domain,
                 slot, postcode, district, resident, visibility, sponsor, token_hash, client_hash, lang)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (petition_id, email_canonical, slot) WHERE email_canonical IS NOT NULL DO NOTHING
             RETURNING id",
            &[
                &petition_id,
                &s.name.trim(),
                &s.email.trim(),
                &canonical,
                &domain,
                &slot,
                &s.postcode.trim(),
                &district,
                &resident,
                &visibility.as_str(),
                &sponsor,
                &hash,
                &client_hash,
                &s.lang,
            ],
        )
        .await
        .map_err(DbError::query("storing a signature"))?;
    // Another request with the same address won the race.
    let Some(inserted) = inserted else {
        return Ok(Err(SignError::Duplicate));
    };
    Ok(Ok(Signed {
        id: inserted.get(0),
        token,
        title,
    }))
}

/// What a signature's confirmation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureConfirmed {
    /// Counted now.
    Counted {
        /// The petition.
        petition_id: i64,
        /// A sponsor signature.
        sponsor: bool,
    },
    /// Was counted before.
    Already(i64),
    /// The petition no longer takes signatures.
    Closed(i64),
    /// No such token or expired.
    Unknown,
}

/// Confirms a signature by its token: it counts from now on (the trigger adds it to the
/// counts in this transaction). Only while the petition is open (or collecting sponsors).
pub async fn confirm_signature(
    client: &impl Conn,
    config: &PetitionsConfig,
    token: &str,
) -> Result<SignatureConfirmed, DbError> {
    let hash = token_hash(token);
    let hours = i32::try_from(config.confirm_hours).unwrap_or(72);
    let row = client
        .query_opt(
            "UPDATE petitions.signatures s SET confirmed_at = now()
             FROM petitions.petitions p
             WHERE s.token_hash = $1 AND s.confirmed_at IS NULL AND s.invalidated_at IS NULL
               AND s.created_at > now() - make_interval(hours => $2)
               AND p.id = s.petition_id AND p.status IN ('open', 'sponsoring')
             RETURNING s.petition_id, s.sponsor",
            &[&hash, &hours],
        )
        .await
        .map_err(DbError::query("confirming a signature"))?;
    if let Some(r) = row {
        return Ok(SignatureConfirmed::Counted {
            petition_id: r.get(0),
            sponsor: r.get(1),
        });
    }
    let before = client
        .query_opt(
            "SELECT s.petition_id, s.confirmed_at IS NOT NULL FROM petitions.signatures s
             WHERE s.token_hash = $1 AND (s.confirmed_at IS NOT NULL OR s.created_at > now() - make_interval(hours => $2))",
            &[&hash, &hours],
        )
        .await
        .map_err(DbError::query("confirming a signature"))?;
    Ok(match before {
        Some(r) if r.get::<_, bool>(1) => SignatureConfirmed::Already(r.get(0)),
        Some(r) => SignatureConfirmed::Closed(r.get(0)),
        None => SignatureConfirmed::Unknown,
    })
}

/// The signature a token belongs to (for the page the link opens): petition id and title,
/// whether confirmed.
pub async fn signature_by_token(
    client: &impl Conn,
    config: &PetitionsConfig,
    token: &str,
) -> Result<Option<(i64, String, bool)>, DbError> {
    let hours = i32::try_from(config.confirm_hours).unwrap_or(72);
    let row = client
        .query_opt(
            "SELECT p.id, p.title, s.confirmed_at IS NOT NULL FROM petitions.signatures s
             JOIN petitions.petitions p ON p.id = s.petition_id
             WHERE s.token_hash = $1 AND s.invalidated_at IS NULL
               AND (s.confirmed_at IS NOT NULL OR s.created_at > now() - make_interval(hours => $2))",
            &[&token_hash(token), &hours],
        )
        .await
        .map_err(DbError::query("reading a signature"))?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// After a sponsor's signature: when enough sponsors confirmed, the petition goes to
/// moderation. Returns whether it did now.
pub async fn sponsors_complete(
    client: &impl Conn,
    config: &PetitionsConfig,
    petition_id: i64,
) -> Result<bool, DbError> {
    let needed = i64::from(config.sponsors);
    let n = client
        .execute(
            "UPDATE petitions.petitions SET status = 'moderation', updated_at = now()
             WHERE id = $1 AND status = 'sponsoring'
               AND (SELECT count(*) FROM petitions.signatures
                     WHERE petition_id = $1 AND sponsor AND confirmed_at IS NOT NULL AND invalidated_at IS NULL) >= $2",
            &[&petition_id, &needed],
        )
        .await
        .map_err(DbError::query("checking the sponsors"))?;
    Ok(n > 0)
}

/// After a signature: marks the threshold as reached when it is. Returns the petition's
/// title and creator (e-mail, language) when it was reached just now.
pub async fn threshold_check(
    client: &impl Conn,
    petition_id: i64,
) -> Result<Option<(String, Option<String>, String)>, DbError> {
    // Read first: almost every signature leaves the petition as it is (and an UPDATE would
    // lock its row).
    let reached: bool = client
        .query_one(
            "SELECT coalesce((SELECT p.threshold_reached_at IS NULL AND p.status = 'open'
                    AND (SELECT coalesce(sum(n) FILTER (WHERE resident OR NOT p.residents_only), 0)
                           FROM petitions.counts c WHERE c.petition_id = p.id) >= p.threshold
                    FROM petitions.petitions p WHERE p.id = $1), false)",
            &[&petition_id],
        )
        .await
        .map_err(DbError::query("checking the threshold"))?
        .get(0);
    if !reached {
        return Ok(None);
    }
    let row = client
        .query_opt(
            "UPDATE petitions.petitions p SET threshold_reached_at = now()
             WHERE p.id = $1 AND p.threshold_reached_at IS NULL AND p.status = 'open'
               AND (SELECT coalesce(sum(n) FILTER (WHERE resident OR NOT p.residents_only), 0)
                      FROM petitions.counts c WHERE c.petition_id = p.id) >= p.threshold
             RETURNING p.title, p.creator_email, p.lang",
            &[&petition_id],
        )
        .await
        .map_err(DbError::query("checking the threshold"))?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// The counts of a petition.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Confirmed, valid signatures.
    pub signatures: i64,
    /// Of them, residents.
    pub residents: i64,
    /// Residents per district (districts without signatures left out), most first; signers
    /// of the city without a known district under `""`.
    pub by_district: Vec<(String, i64)>,
    /// Signatures towards the threshold (residents when only they count).
    pub counting: i64,
}

/// The counts of a petition, as kept by the trigger.
pub async fn counts(
    client: &impl Conn,
    petition_id: i64,
    residents_only: bool,
) -> Result<Counts, DbError> {
    let rows = client
        .query(
            "SELECT district, resident, n::bigint FROM petitions.counts WHERE petition_id = $1 AND n > 0",
            &[&petition_id],
        )
        .await
        .map_err(DbError::query("counting signatures"))?;
    let mut c = Counts::default();
    for r in &rows {
        let district: String = r.get(0);
        let resident: bool = r.get(1);
        let n: i64 = r.get(2);
        c.signatures += n;
        if resident {
            c.residents += n;
            match c.by_district.iter_mut().find(|(d, _)| *d == district) {
                Some(entry) => entry.1 += n,
                None => c.by_district.push((district, n)),
            }
        }
    }
    c.by_district
        .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    c.counting = if residents_only {
        c.residents
    } else {
        c.signatures
    };
    Ok(c)
}

/// A signer as the public may see them.
#[derive(Debug, Clone, Serialize)]
pub struct PublicSigner {
    /// The name, when the signer chose to show it.
    pub name: Option<String>,
    /// The district, unless anonymous.
    pub district: Option<String>,
    /// When (date).
    pub date: String,
}

/// The latest confirmed signers who chose to be shown (name and district, or district only).
pub async fn public_signers(
    client: &impl Conn,
    petition_id: i64,
    limit: i64,
) -> Result<Vec<PublicSigner>, DbError> {
    let rows = client
        .query(
            "SELECT CASE WHEN visibility = 'public' THEN name END, district,
                    to_char(confirmed_at AT TIME ZONE 'Europe/Berlin', 'DD.MM.YYYY')
             FROM petitions.signatures
             WHERE petition_id = $1 AND confirmed_at IS NOT NULL AND invalidated_at IS NULL
               AND visibility <> 'anonymous' AND anonymised_at IS NULL
             ORDER BY confirmed_at DESC LIMIT $2",
            &[&petition_id, &limit],
        )
        .await
        .map_err(DbError::query("listing signers"))?;
    Ok(rows
        .iter()
        .map(|r| PublicSigner {
            name: r.get(0),
            district: r.get(1),
            date: r.get(2),
        })
        .collect())
}

/// Filters of the public list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Status (`open`, `closed`, `rejected`; empty: open and closed).
    pub status: String,
    /// Topic code.
    pub topic: String,
    /// District name.
    pub district: String,
    /// Words in title or text.
    pub q: String,
}

/// A petition in the public list.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Number.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Status.
    pub status: Status,
    /// Topic code.
    pub topic: String,
    /// Topic (German).
    pub topic_de: String,
    /// Topic (English).
    pub topic_en: String,
    /// point | area | districts.
    pub place_kind: String,
    /// Districts.
    pub districts: Vec<String>,
    /// Signatures.
    pub signatures: i64,
    /// Residents.
    pub residents: i64,
    /// Threshold.
    pub threshold: i32,
    /// Only residents count.
    pub residents_only: bool,
    /// Published.
    pub published_at: Option<String>,
    /// Deadline.
    pub deadline: Option<String>,
    /// Days left.
    pub days_left: Option<i32>,
    /// A response was published.
    pub responded: bool,
    /// The place (GeoJSON, WGS84).
    #[serde(skip)]
    pub geometry: String,
}

/// The public petitions matching `filter`, most signed first (open ones first).
pub async fn list(
    client: &impl Conn,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<Summary>, DbError> {
    let statuses: Vec<&str> = match filter.status.as_str() {
        "open" | "closed" | "rejected" => vec![filter.status.as_str()],
        "alle" | "all" => vec!["open", "closed", "rejected"],
        _ => vec!["open", "closed"],
    };
    let rows = client
        .query(
            "SELECT p.id, p.title, p.status, p.topic, t.name_de, t.name_en, p.place_kind, p.districts,
                    v.signatures::bigint, v.residents::bigint, p.threshold, p.residents_only,
                    to_char(p.published_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD'),
                    to_char(p.deadline AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD'),
                    CASE WHEN p.status = 'open' THEN greatest(0, ceil(extract(epoch FROM p.deadline - now()) / 86400))::int END,
                    p.response_at IS NOT NULL,
                    ST_AsGeoJSON(ST_Transform(p.geom, 4326), 6)
             FROM petitions.petitions p
             JOIN petitions.public_petitions v ON v.id = p.id
             JOIN petitions.topics t ON t.code = p.topic
             WHERE p.status = ANY($1)
               AND ($2 = '' OR p.topic = $2)
               AND ($3 = '' OR $3 = ANY(p.districts))
               AND ($4 = '' OR p.title ILIKE '%' || $4 || '%' OR p.body ILIKE '%' || $4 || '%')
             ORDER BY p.status = 'open' DESC, v.signatures DESC, p.id DESC
             LIMIT $5",
            &[
                &statuses,
                &filter.topic.trim(),
                &filter.district.trim(),
                &like_escaped(filter.q.trim()),
                &limit,
            ],
        )
        .await
        .map_err(DbError::query("listing petitions"))?;
    Ok(rows
        .iter()
        .map(|r| Summary {
            id: r.get(0),
            title: r.get(1),
            status: Status::parse(r.get(2)).unwrap_or(Status::Closed),
            topic: r.get(3),
            topic_de: r.get(4),
            topic_en: r.get(5),
            place_kind: r.get(6),
            districts: r.get(7),
            signatures: r.get(8),
            residents: r.get(9),
            threshold: r.get(10),
            residents_only: r.get(11),
            published_at: r.get(12),
            deadline: r.get(13),
            days_left: r.get(14),
            responded: r.get(15),
            geometry: r.get(16),
        })
        .collect())
}

/// `text` with the LIKE wildcards escaped.
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Publishes a petition in moderation: open, with its deadline from now.
pub async fn publish(
    client: &impl Conn,
    config: &PetitionsConfig,
    id: i64,
) -> Result<bool, DbError> {
    let days = i32::try_from(config.duration_days.max(1)).unwrap_or(182);
    let threshold = i32::try_from(config.threshold.max(1)).unwrap_or(i32::MAX);
    let n = client
        .execute(
            "UPDATE petitions.petitions SET status = 'open', published_at = now(),
                 deadline = now() + make_interval(days => $2), threshold = $3, residents_only = $4,
                 flagged = false, updated_at = now()
             WHERE id = $1 AND status = 'moderation'",
            &[&id, &days, &threshold, &config.threshold_residents_only],
        )
        .await
        .map_err(DbError::query("publishing a petition"))?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_aliases_fold_to_one_address() {
        let one = canonical_email("Max.Muster+petition@GoogleMail.com").unwrap();
        assert_eq!(one.0, "maxmuster@gmail.com");
        assert_eq!(canonical_email("maxmuster@gmail.com").unwrap().0, one.0);
        // Dots count elsewhere; plus suffixes do not.
        assert_eq!(
            canonical_email("max.muster+x@web.de").unwrap().0,
            "max.muster@web.de"
        );
        assert_ne!(
            canonical_email("max.muster@web.de").unwrap().0,
            canonical_email("maxmuster@web.de").unwrap().0
        );
    }

    #[test]
    fn not_addresses_are_refused() {
        for bad in [
            "",
            "max",
            "max@",
            "@web.de",
            "max@web",
            "max@@web.de",
            "a b@web.de",
            "+@web.de",
            "max@web..de",
        ] {
            assert!(canonical_email(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn postcodes_are_five_digits() {
        assert!(valid_postcode("56068"));
        assert!(valid_postcode(" 10115 "));
        for bad in ["5606", "560681", "5606a", "00123", "SW1A 1AA", ""] {
            assert!(!valid_postcode(bad), "{bad}");
        }
    }

    #[test]
    fn tokens_are_hashed_and_unique() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(token_hash(&a), ha);
        assert!(a.len() >= 40);
    }
}
