//! Open311 GeoReport v2: the city's categories as services, new reports from other apps, and
//! the public state of reports — in XML (which the spec requires and FixMyStreet speaks) and in
//! JSON, with the format chosen by the suffix of the last path segment.
//!
//! | path | what |
//! |---|---|
//! | `/open311/discovery.{fmt}` (also under `/open311/v2/`) | service discovery |
//! | `GET /open311/v2/services.{fmt}` | the active categories (`lang=en` for English names) |
//! | `GET /open311/v2/services/{code}.{fmt}` | a category's questions (service definition) |
//! | `POST /open311/v2/requests.{fmt}` | a new report (form-encoded, or multipart with `media` files) |
//! | `GET /open311/v2/requests.{fmt}` | reports, newest first (filters below) |
//! | `GET /open311/v2/requests/{id}.{fmt}` | one report, still a list |
//! | `GET /open311/v2/tokens/{token}.{fmt}` | the report of a token |
//! | `GET /open311/v2/servicerequestupdates.{fmt}` | public status changes and notes (FixMyStreet's feed) |
//!
//! The JSON mirrors the XML element by element (every top-level answer is an array, except
//! discovery and the service definition, which the spec shows as objects). Errors come in the
//! spec's form, `errors/error` with `code` and `description`, one per problem.
//!
//! Documented extensions of `GET requests`: `page` (1-based) and `page_size` (at most 1000),
//! `updated_after`/`updated_before`, `bbox=minLng,minLat,maxLng,maxLat`, `lat`/`long`/`radius`
//! (metres, default 500, at most 5000), and `extensions=true`, which adds `extended_attributes`
//! (detailed status, our own status code, supporters, district, `duplicate_of`, photo links) and
//! `notes` (the public history). Public report fields come only from the view
//! `maengel.public_reports`, which has no personal data; photos only once released.
//!
//! API keys of other apps are stored as their SHA-256 only ([`add_key`], [`revoke_key`],
//! [`list_keys`]).

use std::borrow::Cow;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest as _, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{any, get};
use futures_util::StreamExt as _;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use serde::ser::{Serialize, SerializeMap as _, SerializeSeq as _, Serializer};
use sha2::{Digest as _, Sha256};
use stadtkarte_core::Problem;
use stadtkarte_core::db::{Conn, DbError};
use stadtkarte_core::i18n::Lang;
use stadtkarte_core::query::{Sql, Value as SqlValue};
use stadtkarte_core::tokio_postgres::{GenericClient, Row};

use crate::Mm;
use crate::area::Location;
use crate::model::{self, Category, Channel, Invalid, MAX_PHOTOS, NewReport, Status, SubmitError};
use crate::photo::Processed;

/// The specification named in discovery.
const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
/// Discovery's changeset when the categories cannot be read.
const FALLBACK_CHANGESET: &str = "2026-01-01T00:00:00Z";
/// Most requests per page, and the default page size.
pub const MAX_PAGE_SIZE: i64 = 1000;
/// Longest span of `start_date`..`end_date`, in days.
pub const MAX_SPAN_DAYS: i64 = 90;
/// Default window of the update feed, in days.
const UPDATES_DEFAULT_DAYS: i64 = 7;
/// Most updates in one answer of the update feed.
const MAX_UPDATES: i64 = 10_000;
/// Largest `radius` in metres.
const MAX_RADIUS: f64 = 5000.0;
/// `radius` when only `lat` and `long` are given.
const DEFAULT_RADIUS: f64 = 500.0;
/// Most ids in `service_request_id`.
const MAX_IDS: usize = 1000;
const DAY_MS: i64 = 86_400_000;

/// A PostgreSQL expression for a `timestamptz` as UTC with seconds, e.g. `2026-05-01T08:30:00Z`.
fn utc(expr: &str) -> String {
    format!("to_char(({expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
}

/// A `timestamptz` from milliseconds since the epoch bound as a parameter.
fn at_millis(sql: &mut Sql, millis: i64) -> String {
    let p = sql.param(SqlValue::Int(millis));
    format!("('epoch'::timestamptz + {p} * interval '1 millisecond')")
}

// ---------------------------------------------------------------------------------------------
// Formats and documents

/// The two formats of every answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

impl Format {
    const BOTH: [Self; 2] = [Self::Json, Self::Xml];

    fn ext(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Xml => "xml",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json; charset=utf-8",
            Self::Xml => "text/xml; charset=utf-8",
        }
    }

    /// `033.xml` → (`033`, XML); `None` without a known suffix.
    fn split(file: &str) -> Option<(&str, Self)> {
        let (name, ext) = file.rsplit_once('.')?;
        let format = if ext.eq_ignore_ascii_case("json") {
            Self::Json
        } else if ext.eq_ignore_ascii_case("xml") {
            Self::Xml
        } else {
            return None;
        };
        (!name.is_empty()).then_some((name, format))
    }
}

/// A value of an answer, written as JSON or as XML from the same tree, so both carry the same.
#[derive(Debug, Clone, PartialEq)]
enum Node<'a> {
    Text(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Fields in order; XML elements of these names.
    Object(Vec<(&'static str, Node<'a>)>),
    /// A JSON array; in XML a wrapper element with one element of this name per item.
    List(&'static str, Vec<Node<'a>>),
}

impl<'a> Node<'a> {
    fn text(s: impl Into<Cow<'a, str>>) -> Self {
        Self::Text(s.into())
    }
}

impl Serialize for Node<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(t) => s.serialize_str(t),
            Self::Int(i) => s.serialize_i64(*i),
            Self::Float(f) => s.serialize_f64(*f),
            Self::Bool(b) => s.serialize_bool(*b),
            Self::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Self::List(_, items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
        }
    }
}

/// Text without the characters XML 1.0 cannot carry (other control characters).
fn xml_safe(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
    };
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|&c| allowed(c)).collect())
    }
}

fn write_xml(w: &mut Writer<Vec<u8>>, name: &str, node: &Node<'_>) -> std::io::Result<()> {
    let scalar = match node {
        Node::Text(t) => Some(xml_safe(t)),
        Node::Int(i) => Some(Cow::Owned(i.to_string())),
        Node::Float(f) => Some(Cow::Owned(f.to_string())),
        Node::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Node::Object(_) | Node::List(..) => None,
    };
    if let Some(text) = scalar {
        w.create_element(name)
            .write_text_content(BytesText::new(&text))?;
        return Ok(());
    }
    w.create_element(name).write_inner_content(|w| {
        match node {
            Node::Object(fields) => {
                for (k, v) in fields {
                    write_xml(w, k, v)?;
                }
            }
            Node::List(item, items) => {
                for v in items {
                    write_xml(w, item, v)?;
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(())
}

/// The bytes of a document with root element `root` (XML) or just `body` (JSON).
fn document(format: Format, root: &str, body: &Node<'_>) -> Result<Vec<u8>, String> {
    match format {
        Format::Json => serde_json::to_vec(body).map_err(|e| e.to_string()),
        Format::Xml => {
            let mut w = Writer::new(Vec::with_capacity(8 * 1024));
            w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))
                .map_err(|e| e.to_string())?;
            w.get_mut().push(b'\n');
            write_xml(&mut w, root, body).map_err(|e| e.to_string())?;
            w.get_mut().push(b'\n');
            Ok(w.into_inner())
        }
    }
}

fn respond(format: Format, status: StatusCode, root: &str, body: &Node<'_>) -> Response {
    match document(format, root, body) {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            );
            response
        }
        Err(e) => Failure::from(Problem::internal(e)).render(format),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// An answer in the spec's error form: one `error` per problem.
#[derive(Debug, Clone, PartialEq)]
struct Failure {
    status: StatusCode,
    errors: Vec<(u16, String)>,
    retry_after: Option<u32>,
}

impl Failure {
    fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            errors: vec![(status.as_u16(), description.into())],
            retry_after: None,
        }
    }

    fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, description)
    }

    fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, description)
    }

    fn forbidden(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, description)
    }

    /// 400 with several problems.
    fn many(errors: Vec<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            errors: errors.into_iter().map(|e| (400, e)).collect(),
            retry_after: None,
        }
    }

    fn render(self, format: Format) -> Response {
        let items = self
            .errors
            .iter()
            .map(|(code, description)| {
                Node::Object(vec![
                    ("code", Node::Int(i64::from(*code))),
                    ("description", Node::text(description.as_str())),
                ])
            })
            .collect();
        let mut response = respond(format, self.status, "errors", &Node::List("error", items));
        let retry = self.retry_after.or(matches!(
            self.status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        )
        .then_some(stadtkarte_core::problem::DEFAULT_RETRY_AFTER_SECS));
        if let Some(secs) = retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<Problem> for Failure {
    fn from(p: Problem) -> Self {
        let description = if p.detail.is_empty() {
            p.title.clone()
        } else {
            p.detail.clone()
        };
        let mut f = Self::new(p.status, description);
        f.retry_after = p.retry_after_secs;
        f
    }
}

impl From<DbError> for Failure {
    fn from(e: DbError) -> Self {
        Problem::from(e).into()
    }
}

/// The Open311 parameter an invalid value belongs to.
fn parameter_of(invalid: &Invalid) -> Cow<'static, str> {
    Cow::Borrowed(match invalid {
        Invalid::UnknownCategory(_) | Invalid::NoCategory => "service_code",
        Invalid::EmptyDescription | Invalid::LongDescription(_) => "description",
        Invalid::MissingAttribute { code, .. }
        | Invalid::BadAttribute { code, .. }
        | Invalid::UnknownAttribute(code) => return Cow::Owned(format!("attribute[{code}]")),
        Invalid::NoLocation => "lat/long or address_string",
        Invalid::BadCoordinates | Invalid::OutsideCity => "lat/long",
        Invalid::UnknownAddress { .. } | Invalid::UnknownDistrict(_) => "address_string",
        Invalid::BadEmail => "email",
        Invalid::LongContact => "first_name/last_name/phone",
        Invalid::TooManyPhotos(_) | Invalid::Photo { .. } => "media",
        Invalid::PrivacyNotAccepted => "privacy",
        Invalid::BadMediaUrl => "media_url",
    })
}

/// One error per invalid value, named by its parameter, in English; 404 when the service is
/// unknown; body code 102 for a place outside the city (as Mark-a-Spot).
fn invalid_failure(problems: &[Invalid]) -> Failure {
    let errors = problems
        .iter()
        .map(|i| {
            let code = match i {
                Invalid::OutsideCity => 102,
                Invalid::UnknownCategory(_) => 404,
                _ => 400,
            };
            (
                code,
                format!("{}: {}", parameter_of(i), i.message(Lang::En)),
            )
        })
        .collect();
    let status = if problems
        .iter()
        .any(|i| matches!(i, Invalid::UnknownCategory(_)))
    {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::BAD_REQUEST
    };
    Failure {
        status,
        errors,
        retry_after: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters

/// Decodes `application/x-www-form-urlencoded` text (also a query string): `+` is a space,
/// `%XX` a byte; a `%` without two hex digits stays as it is.
fn parse_form(raw: &[u8]) -> Result<Vec<(String, String)>, Failure> {
    fn decode(part: &[u8]) -> Result<String, Failure> {
        let hex = |b: u8| {
            char::from(b)
                .to_digit(16)
                .and_then(|d| u8::try_from(d).ok())
        };
        let mut out = Vec::with_capacity(part.len());
        let mut i = 0;
        while i < part.len() {
            match part[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let pair = part
                        .get(i + 1)
                        .copied()
                        .and_then(hex)
                        .zip(part.get(i + 2).copied().and_then(hex));
                    if let Some((hi, lo)) = pair {
                        out.push(hi * 16 + lo);
                        i += 2;
                    } else {
                        out.push(b'%');
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out)
            .map_err(|_| Failure::bad_request("the parameters are not valid UTF-8"))
    }
    raw.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// Parameters of a request, query or form; empty values count as not sent.
#[derive(Debug, Clone, Default)]
struct Params(Vec<(String, String)>);

impl Params {
    fn from_uri(uri: &Uri) -> Result<Self, Failure> {
        Ok(Self(parse_form(
            uri.query().unwrap_or_default().as_bytes(),
        )?))
    }

    /// The first non-empty value (trimmed).
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty())
    }

    /// Every non-empty value (trimmed).
    fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// The comma-separated items of every value.
    fn list(&self, name: &str) -> Vec<&str> {
        self.all(name)
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    fn lang(&self) -> Lang {
        self.get("lang")
            .and_then(Lang::from_code)
            .unwrap_or_default()
    }
}

/// 404 for a `jurisdiction_id` that is not ours (without one configured, any given one).
fn check_jurisdiction(mm: &Mm, params: &Params) -> Result<(), Failure> {
    let ours = mm.app.config.maengel.jurisdiction_id.trim();
    match params.get("jurisdiction_id") {
        Some(given) if !given.eq_ignore_ascii_case(ours) => Err(Failure::not_found(format!(
            "jurisdiction_id: unknown jurisdiction {given:?}{}",
            if ours.is_empty() {
                " (this server serves a single jurisdiction; leave jurisdiction_id out)".to_owned()
            } else {
                format!(" (this server serves {ours:?})")
            }
        ))),
        _ => Ok(()),
    }
}

/// A point in time: RFC 3339 with offset, or a date (UTC; `end` takes its last millisecond).
fn parse_time(name: &str, value: &str, end: bool) -> Result<i64, String> {
    let mut text = Cow::Borrowed(value);
    // An unencoded `+` of the offset arrives as a space.
    if value.len() > 19 && value.as_bytes()[19] == b' ' {
        let mut fixed = value.to_owned();
        fixed.replace_range(19..20, "+");
        text = Cow::Owned(fixed);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&text) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        && let Some(start) = d.and_hms_opt(0, 0, 0)
    {
        let ms = start.and_utc().timestamp_millis();
        return Ok(if end { ms + DAY_MS - 1 } else { ms });
    }
    Err(format!(
        "{name}: {value:?} is not a date and time with offset (RFC 3339, e.g. 2026-05-01T08:00:00Z or 2026-05-01T10:00:00+02:00) or a date (2026-05-01)"
    ))
}

/// A window of `created_at` (or of an event's time), in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    /// The last so many days up to now.
    LastDays(i64),
    /// From … to (inclusive).
    Between(i64, i64),
}

/// `start_date`/`end_date`: at most [`MAX_SPAN_DAYS`] apart; without them the last
/// `default_days`; with one of them the span reaches from it.
fn window(params: &Params, default_days: i64, errors: &mut Vec<String>) -> Window {
    let mut bad = false;
    let mut parsed =
        |name: &str, end: bool| match params.get(name).map(|v| parse_time(name, v, end)) {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                errors.push(e);
                bad = true;
                None
            }
            None => None,
        };
    let start = parsed("start_date", false);
    let end = parsed("end_date", true);
    let span = MAX_SPAN_DAYS * DAY_MS;
    if bad {
        return Window::LastDays(default_days);
    }
    match (start, end) {
        (None, None) => Window::LastDays(default_days),
        (Some(s), None) => Window::Between(s, s.saturating_add(span)),
        (None, Some(e)) => Window::Between(e.saturating_sub(span), e),
        (Some(s), Some(e)) => {
            if e < s {
                errors.push("end_date: lies before start_date".to_owned());
            } else if e - s > span {
                errors.push(format!(
                    "start_date, end_date: the span may be at most {MAX_SPAN_DAYS} days"
                ));
            }
            Window::Between(s, e)
        }
    }
}

fn parse_number(name: &str, value: &str) -> Result<f64, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{name}: {value:?} is not a number"))
}

/// What `GET requests` asks for.
#[derive(Debug, Clone, PartialEq)]
struct Filter {
    /// `service_request_id`: overrides every other filter.
    ids: Vec<i64>,
    codes: Vec<String>,
    window: Window,
    /// `open` or `closed`; empty: both.
    status: Option<&'static str>,
    updated_after: Option<i64>,
    updated_before: Option<i64>,
    /// min lon, min lat, max lon, max lat.
    bbox: Option<[f64; 4]>,
    /// lon, lat, metres.
    near: Option<(f64, f64, f64)>,
    page: i64,
    page_size: i64,
    extensions: bool,
}

fn parse_bool(name: &str, value: Option<&str>, errors: &mut Vec<String>) -> bool {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no") => false,
        Some("true" | "1" | "yes") => true,
        Some(other) => {
            errors.push(format!("{name}: {other:?} is neither true nor false"));
            false
        }
    }
}

fn parse_positive(
    name: &str,
    value: Option<&str>,
    default: i64,
    max: i64,
    errors: &mut Vec<String>,
) -> i64 {
    match value.map(str::parse::<i64>) {
        None => default,
        Some(Ok(n)) if n >= 1 => n.min(max),
        Some(_) => {
            errors.push(format!(
                "{name}: {:?} is not a positive whole number",
                value.unwrap_or_default()
            ));
            default
        }
    }
}

impl Filter {
    fn from_params(params: &Params) -> Result<Self, Failure> {
        let mut errors = Vec::new();
        let mut ids = Vec::new();
        for id in params.list("service_request_id") {
            match id.parse::<i64>() {
                Ok(n) if n > 0 => ids.push(n),
                _ => errors.push(format!(
                    "service_request_id: {id:?} is not the number of a request"
                )),
            }
        }
        if ids.len() > MAX_IDS {
            errors.push(format!(
                "service_request_id: at most {MAX_IDS} requests at once"
            ));
        }
        let codes = params
            .list("service_code")
            .into_iter()
            .map(str::to_owned)
            .collect();
        let window = window(params, MAX_SPAN_DAYS, &mut errors);
        let mut open = false;
        let mut closed = false;
        for s in params.list("status") {
            if s.eq_ignore_ascii_case("open") {
                open = true;
            } else if s.eq_ignore_ascii_case("closed") {
                closed = true;
            } else {
                errors.push(format!("status: {s:?} is neither open nor closed"));
            }
        }
        let status = match (open, closed) {
            (true, false) => Some("open"),
            (false, true) => Some("closed"),
            _ => None,
        };
        let mut time = |name: &str| {
            params
                .get(name)
                .and_then(|v| parse_time(name, v, false).map_err(|e| errors.push(e)).ok())
        };
        let updated_after = time("updated_after");
        let updated_before = time("updated_before");
        let bbox = params.get("bbox").and_then(|v| {
            let parts: Vec<Result<f64, String>> =
                v.split(',').map(|p| parse_number("bbox", p.trim())).collect();
            let numbers: Option<Vec<f64>> = parts.iter().map(|p| p.as_ref().ok().copied()).collect();
            match numbers.as_deref() {
                Some(&[x0, y0, x1, y1])
                    if x0 <= x1
                        && y0 <= y1
                        && (-180.0..=180.0).contains(&x0)
                        && (-180.0..=180.0).contains(&x1)
                        && (-90.0..=90.0).contains(&y0)
                        && (-90.0..=90.0).contains(&y1) =>
                {
                    Some([x0, y0, x1, y1])
                }
                _ => {
                    errors.push(format!(
                        "bbox: {v:?} is not minLng,minLat,maxLng,maxLat in WGS84 degrees with min ≤ max"
                    ));
                    None
                }
            }
        });
        let near = match (params.get("lat"), params.get("long")) {
            (None, None) => {
                if params.get("radius").is_some() {
                    errors.push("radius: needs lat and long".to_owned());
                }
                None
            }
            (Some(lat), Some(lon)) => {
                let lat = parse_number("lat", lat)
                    .and_then(|l| {
                        if (-90.0..=90.0).contains(&l) {
                            Ok(l)
                        } else {
                            Err(format!("lat: {l} lies outside -90..90"))
                        }
                    })
                    .map_err(|e| errors.push(e))
                    .ok();
                let lon = parse_number("long", lon)
                    .and_then(|l| {
                        if (-180.0..=180.0).contains(&l) {
                            Ok(l)
                        } else {
                            Err(format!("long: {l} lies outside -180..180"))
                        }
                    })
                    .map_err(|e| errors.push(e))
                    .ok();
                let radius = match params.get("radius").map(|r| parse_number("radius", r)) {
                    None => Some(DEFAULT_RADIUS),
                    Some(Ok(r)) if r > 0.0 && r <= MAX_RADIUS => Some(r),
                    Some(Ok(r)) => {
                        errors.push(format!(
                            "radius: {r} must be more than 0 and at most {MAX_RADIUS} metres"
                        ));
                        None
                    }
                    Some(Err(e)) => {
                        errors.push(e);
                        None
                    }
                };
                match (lon, lat, radius) {
                    (Some(lon), Some(lat), Some(r)) => Some((lon, lat, r)),
                    _ => None,
                }
            }
            _ => {
                errors.push("lat, long: give both or neither".to_owned());
                None
            }
        };
        let page = parse_positive("page", params.get("page"), 1, 1_000_000, &mut errors);
        let page_size = parse_positive(
            "page_size",
            params.get("page_size"),
            MAX_PAGE_SIZE,
            MAX_PAGE_SIZE,
            &mut errors,
        );
        let extensions = parse_bool("extensions", params.get("extensions"), &mut errors);
        if !errors.is_empty() {
            return Err(Failure::many(errors));
        }
        Ok(Self {
            ids,
            codes,
            window,
            status,
            updated_after,
            updated_before,
            bbox,
            near,
            page,
            page_size,
            extensions,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Routes

/// The Open311 routes.
pub fn router() -> Router<Mm> {
    let mut router = Router::new();
    for f in Format::BOTH {
        let ext = f.ext();
        router = router
            .route(
                &format!("/open311/discovery.{ext}"),
                get(move |s: State<Mm>| discovery(s, f)),
            )
            .route(
                &format!("/open311/v2/discovery.{ext}"),
                get(move |s: State<Mm>| discovery(s, f)),
            )
            .route(
                &format!("/open311/v2/services.{ext}"),
                get(move |s: State<Mm>, u: Uri| services(s, u, f)),
            )
            .route(
                &format!("/open311/v2/requests.{ext}"),
                get(move |s: State<Mm>, u: Uri| requests(s, u, f))
                    .post(move |s: State<Mm>, r: Request| create(s, r, f))
                    // The handler reads the body itself, with the limit of the configuration.
                    .layer(DefaultBodyLimit::disable()),
            )
            .route(
                &format!("/open311/v2/servicerequestupdates.{ext}"),
                get(move |s: State<Mm>, u: Uri| updates(s, u, f)),
            );
    }
    router
        .route("/open311/v2/services/{file}", get(definition))
        .route("/open311/v2/requests/{file}", get(request))
        .route("/open311/v2/tokens/{file}", get(token))
        .route("/open311/{*rest}", any(unknown))
}

async fn unknown(uri: Uri) -> Response {
    Failure::not_found(format!(
        "there is no Open311 resource at {}; paths end in .xml or .json",
        uri.path()
    ))
    .render(Format::Json)
}

/// The last change of the categories (discovery's changeset).
async fn changeset(mm: &Mm) -> String {
    let read = async {
        let client = mm.app.pool.get().await.ok()?;
        let row = client
            .query_one(
                &format!("SELECT {} FROM maengel.categories", utc("max(updated_at)")),
                &[],
            )
            .await
            .ok()?;
        row.get::<_, Option<String>>(0)
    };
    read.await.unwrap_or_else(|| FALLBACK_CHANGESET.to_owned())
}

async fn discovery(State(mm): State<Mm>, format: Format) -> Response {
    let changeset = changeset(&mm).await;
    let c = &mm.app.config.maengel;
    let endpoint = Node::Object(vec![
        ("specification", Node::text(SPECIFICATION)),
        (
            "url",
            Node::text(format!("{}/open311/v2", mm.app.config.base_url())),
        ),
        ("changeset", Node::text(changeset.as_str())),
        ("type", Node::text("production")),
        (
            "formats",
            Node::List(
                "format",
                vec![Node::text("text/xml"), Node::text("application/json")],
            ),
        ),
    ]);
    let body = Node::Object(vec![
        ("changeset", Node::text(changeset.as_str())),
        ("contact", Node::text(c.open311_contact.as_str())),
        ("key_service", Node::text(c.open311_key_service.as_str())),
        ("endpoints", Node::List("endpoint", vec![endpoint])),
    ]);
    respond(format, StatusCode::OK, "discovery", &body)
}

fn service_node(c: &Category, lang: Lang) -> Node<'_> {
    let mut fields = vec![
        ("service_code", Node::text(c.code.as_str())),
        ("service_name", Node::text(c.name(lang))),
    ];
    if !c.description(lang).is_empty() {
        fields.push(("description", Node::text(c.description(lang))));
    }
    fields.push(("metadata", Node::Bool(!c.attributes.is_empty())));
    fields.push(("type", Node::text("realtime")));
    if !c.keywords.is_empty() {
        fields.push(("keywords", Node::text(c.keywords.join(","))));
    }
    if !c.group.is_empty() {
        fields.push(("group", Node::text(c.group.as_str())));
    }
    Node::Object(fields)
}

async fn services(State(mm): State<Mm>, uri: Uri, format: Format) -> Response {
    let run = async {
        let params = Params::from_uri(&uri)?;
        check_jurisdiction(&mm, &params)?;
        let categories = mm.categories().await?;
        Ok::<_, Failure>((categories, params.lang()))
    };
    match run.await {
        Ok((categories, lang)) => {
            let items = categories.iter().map(|c| service_node(c, lang)).collect();
            respond(
                format,
                StatusCode::OK,
                "services",
                &Node::List("service", items),
            )
        }
        Err(f) => f.render(format),
    }
}

fn definition_node(c: &Category, lang: Lang) -> Node<'_> {
    let attributes = c
        .attributes
        .iter()
        .map(|a| {
            let mut fields = vec![
                ("variable", Node::Bool(a.variable)),
                ("code", Node::text(a.code.as_str())),
                ("datatype", Node::text(a.datatype.as_str())),
                ("required", Node::Bool(a.required)),
            ];
            if !a.datatype_description.is_empty() {
                fields.push((
                    "datatype_description",
                    Node::text(a.datatype_description.as_str()),
                ));
            }
            fields.push(("order", Node::Int(i64::from(a.position))));
            fields.push(("description", Node::text(a.question(lang))));
            if a.is_list() {
                let values = a
                    .choices
                    .iter()
                    .map(|v| {
                        Node::Object(vec![
                            ("key", Node::text(v.key.as_str())),
                            ("name", Node::text(v.name(lang))),
                        ])
                    })
                    .collect();
                fields.push(("values", Node::List("value", values)));
            }
            Node::Object(fields)
        })
        .collect();
    Node::Object(vec![
        ("service_code", Node::text(c.code.as_str())),
        ("attributes", Node::List("attribute", attributes)),
    ])
}

async fn definition(State(mm): State<Mm>, Path(file): Path<String>, uri: Uri) -> Response {
    let Some((code, format)) = Format::split(&file) else {
        return unknown(uri).await;
    };
    let run = async {
        let params = Params::from_uri(&uri)?;
        check_jurisdiction(&mm, &params)?;
        let categories = mm.categories().await?;
        Ok::<_, Failure>((categories, params.lang()))
    };
    match run.await {
        Ok((categories, lang)) => match categories.iter().find(|c| c.code == code) {
            Some(c) => respond(
                format,
                StatusCode::OK,
                "service_definition",
                &definition_node(c, lang),
            ),
            None => Failure::not_found(format!("service_code: there is no service {code:?}"))
                .render(format),
        },
        Err(f) => f.render(format),
    }
}

async fn token(State(mm): State<Mm>, Path(file): Path<String>, uri: Uri) -> Response {
    let Some((token, format)) = Format::split(&file) else {
        return unknown(uri).await;
    };
    let run = async {
        let params = Params::from_uri(&uri)?;
        check_jurisdiction(&mm, &params)?;
        if token.len() > 100 {
            return Ok(None);
        }
        let client = mm.app.pool.get().await.map_err(DbError::from)?;
        let row = client
            .query_opt(
                "SELECT p.id FROM maengel.reports r JOIN maengel.public_reports p ON p.id = r.id
                 WHERE r.token = $1",
                &[&token],
            )
            .await
            .map_err(DbError::query("resolving an Open311 token"))?;
        Ok::<_, Failure>(row.map(|r| r.get::<_, i64>(0)))
    };
    match run.await {
        Ok(Some(id)) => {
            let item = Node::Object(vec![
                ("service_request_id", Node::text(id.to_string())),
                ("token", Node::text(token)),
            ]);
            respond(
                format,
                StatusCode::OK,
                "service_requests",
                &Node::List("request", vec![item]),
            )
        }
        Ok(None) => Failure::not_found("token: unknown token").render(format),
        Err(f) => f.render(format),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading requests

/// The columns of a request, from the public view (and the first released photo).
fn request_select(extensions: bool) -> String {
    let photo = "FROM maengel.photos ph WHERE ph.report_id = p.id AND NOT ph.hidden \
                 AND r.released_at <= now()";
    let extended = if extensions {
        format!(
            ", p.supporters, p.duplicate_of,
               ARRAY(SELECT ph.id::text || '/bild-' || ph.version::text || '.jpg' {photo}
                     ORDER BY ph.position),
               (SELECT json_agg(json_build_object('datetime', {at}, 'description',
                           coalesce(e.text, ''), 'type', e.kind) ORDER BY e.at, e.id)
                FROM maengel.events e
                WHERE e.report_id = p.id AND e.public
                  AND e.kind IN ('status', 'note', 'merged', 'reopened'))",
            at = utc("e.at"),
        )
    } else {
        String::new()
    };
    format!(
        "SELECT p.id, p.status, p.status_note, p.category, c.name_de, c.name_en, p.description,
                d.name, {requested}, {updated}, p.address, p.district, ST_Y(w.g), ST_X(w.g),
                (SELECT ph.id::text || '/bild-' || ph.version::text || '.jpg' {photo}
                 ORDER BY ph.position LIMIT 1) {extended}
         FROM maengel.public_reports p
         JOIN maengel.reports r ON r.id = p.id
         JOIN maengel.categories c ON c.code = p.category
         LEFT JOIN auth.departments d ON d.id = c.department
         CROSS JOIN LATERAL (SELECT ST_Transform(p.geom, 4326) AS g) w
         WHERE true",
        requested = utc("p.created_at"),
        updated = utc(
            "CASE WHEN p.open311_status = 'closed' THEN coalesce(p.closed_at, p.updated_at) ELSE p.updated_at END"
        ),
    )
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// One request as the spec lists it (and the extensions when asked for).
fn request_node<'r>(row: &'r Row, lang: Lang, base: &str, extensions: bool) -> Node<'r> {
    let id: i64 = row.get(0);
    let status: &str = row.get(1);
    let parsed = Status::parse(status);
    let photo = |path: &str| format!("{base}/maengel/{id}/fotos/{path}");
    let mut f = vec![
        ("service_request_id", Node::text(id.to_string())),
        ("status", Node::text(parsed.map_or("open", Status::open311))),
    ];
    if let Some(note) = row
        .get::<_, Option<&str>>(2)
        .filter(|n| !n.trim().is_empty())
    {
        f.push(("status_notes", Node::text(note)));
    }
    let name: &str = row.get(lang.pick(4, 5));
    f.push(("service_name", Node::text(name)));
    f.push(("service_code", Node::text(row.get::<_, &str>(3))));
    if let Some(d) = row.get::<_, Option<&str>>(6) {
        f.push(("description", Node::text(d)));
    }
    if let Some(agency) = row.get::<_, Option<&str>>(7) {
        f.push(("agency_responsible", Node::text(agency)));
    }
    f.push(("requested_datetime", Node::text(row.get::<_, &str>(8))));
    f.push(("updated_datetime", Node::text(row.get::<_, &str>(9))));
    let address: Vec<&str> = [row.get::<_, Option<&str>>(10), row.get(11)]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect();
    if !address.is_empty() {
        f.push(("address", Node::text(address.join(", "))));
    }
    f.push(("lat", Node::Float(round6(row.get(12)))));
    f.push(("long", Node::Float(round6(row.get(13)))));
    if let Some(path) = row.get::<_, Option<&str>>(14) {
        f.push(("media_url", Node::text(photo(path))));
    }
    if extensions {
        let mut ext = Vec::new();
        if let Some(s) = parsed {
            ext.push(("detailed_status", Node::text(s.detailed())));
        }
        ext.push(("status", Node::text(status)));
        ext.push(("supporters", Node::Int(i64::from(row.get::<_, i32>(15)))));
        if let Some(district) = row.get::<_, Option<&str>>(11) {
            ext.push(("district", Node::text(district)));
        }
        if let Some(dup) = row.get::<_, Option<i64>>(16) {
            ext.push(("duplicate_of", Node::text(dup.to_string())));
        }
        let photos: Vec<String> = row.get(17);
        ext.push((
            "photos",
            Node::List(
                "photo",
                photos.iter().map(|p| Node::text(photo(p))).collect(),
            ),
        ));
        f.push(("extended_attributes", Node::Object(ext)));
        let notes: Option<serde_json::Value> = row.get(18);
        let notes = notes
            .as_ref()
            .and_then(serde_json::Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|n| {
                        let field = |k: &str| {
                            Node::text(
                                n.get(k)
                                    .and_then(|v| v.as_str())
                                    .unwrap_or_default()
                                    .to_owned(),
                            )
                        };
                        Node::Object(vec![
                            ("datetime", field("datetime")),
                            ("description", field("description")),
                            ("type", field("type")),
                        ])
                    })
                    .collect()
            })
            .unwrap_or_default();
        f.push(("notes", Node::List("note", notes)));
    }
    Node::Object(f)
}

/// The query of `GET requests`.
fn requests_sql(filter: &Filter) -> Sql {
    let mut sql = Sql::default();
    sql.push(&request_select(filter.extensions));
    if filter.ids.is_empty() {
        if !filter.codes.is_empty() {
            let p = sql.param(SqlValue::Text(filter.codes.join(",")));
            sql.push(&format!(" AND p.category = ANY(string_to_array({p}, ','))"));
        }
        match filter.window {
            Window::LastDays(days) => {
                let p = sql.param(SqlValue::Int(days));
                sql.push(&format!(
                    " AND p.created_at >= now() - {p} * interval '1 day'"
                ));
            }
            Window::Between(s, e) => {
                let s = at_millis(&mut sql, s);
                let e = at_millis(&mut sql, e);
                sql.push(&format!(" AND p.created_at BETWEEN {s} AND {e}"));
            }
        }
        if let Some(status) = filter.status {
            let p = sql.param(SqlValue::Text(status.to_owned()));
            sql.push(&format!(" AND p.open311_status = {p}"));
        }
        if let Some(t) = filter.updated_after {
            let t = at_millis(&mut sql, t);
            sql.push(&format!(" AND p.updated_at > {t}"));
        }
        if let Some(t) = filter.updated_before {
            let t = at_millis(&mut sql, t);
            sql.push(&format!(" AND p.updated_at < {t}"));
        }
        if let Some([x0, y0, x1, y1]) = filter.bbox {
            let [x0, y0, x1, y1] = [x0, y0, x1, y1].map(|v| sql.param(SqlValue::Float(v)));
            sql.push(&format!(
                " AND w.g && ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 4326)"
            ));
        }
        if let Some((lon, lat, radius)) = filter.near {
            let [lon, lat, radius] = [lon, lat, radius].map(|v| sql.param(SqlValue::Float(v)));
            sql.push(&format!(
                " AND ST_DWithin(w.g::geography, ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)::geography, {radius})"
            ));
        }
    } else {
        let ids: Vec<String> = filter.ids.iter().map(i64::to_string).collect();
        let p = sql.param(SqlValue::Text(ids.join(",")));
        sql.push(&format!(
            " AND p.id = ANY(string_to_array({p}, ',')::bigint[])"
        ));
    }
    let limit = sql.param(SqlValue::Int(filter.page_size));
    let offset = sql.param(SqlValue::Int((filter.page - 1) * filter.page_size));
    sql.push(&format!(
        " ORDER BY p.created_at DESC, p.id DESC LIMIT {limit} OFFSET {offset}"
    ));
    sql
}

async fn list_answer(
    mm: &Mm,
    format: Format,
    sql: &Sql,
    lang: Lang,
    extensions: bool,
    single: bool,
) -> Result<Response, Failure> {
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let rows = client
        .query(&sql.text, &sql.refs())
        .await
        .map_err(DbError::query("reading Open311 requests"))?;
    if single && rows.is_empty() {
        return Err(Failure::not_found(
            "service_request_id: there is no such request",
        ));
    }
    let base = mm.app.config.base_url();
    let items = rows
        .iter()
        .map(|r| request_node(r, lang, &base, extensions))
        .collect();
    Ok(respond(
        format,
        StatusCode::OK,
        "service_requests",
        &Node::List("request", items),
    ))
}

async fn requests(State(mm): State<Mm>, uri: Uri, format: Format) -> Response {
    let run = async {
        let params = Params::from_uri(&uri)?;
        check_jurisdiction(&mm, &params)?;
        let filter = Filter::from_params(&params)?;
        let sql = requests_sql(&filter);
        list_answer(&mm, format, &sql, params.lang(), filter.extensions, false).await
    };
    run.await.unwrap_or_else(|f| f.render(format))
}

async fn request(State(mm): State<Mm>, Path(file): Path<String>, uri: Uri) -> Response {
    let Some((id, format)) = Format::split(&file) else {
        return unknown(uri).await;
    };
    let run = async {
        let params = Params::from_uri(&uri)?;
        check_jurisdiction(&mm, &params)?;
        let mut errors = Vec::new();
        let extensions = parse_bool("extensions", params.get("extensions"), &mut errors);
        if !errors.is_empty() {
            return Err(Failure::many(errors));
        }
        let Some(id) = id.parse::<i64>().ok().filter(|n| *n > 0) else {
            return Err(Failure::not_found(format!(
                "service_request_id: there is no request {id:?}"
            )));
        };
        let mut sql = Sql::default();
        sql.push(&request_select(extensions));
        let p = sql.param(SqlValue::Int(id));
        sql.push(&format!(" AND p.id = {p}"));
        list_answer(&mm, format, &sql, params.lang(), extensions, true).await
    };
    run.await.unwrap_or_else(|f| f.render(format))
}

/// FixMyStreet's update feed: the public status changes and notes in a window (default the
/// last 7 days, at most 90).
async fn updates(State(mm): State<Mm>, uri: Uri, format: Format) -> Response {
    let run = async {
        let params = Params::from_uri(&uri)?;
        check_jurisdiction(&mm, &params)?;
        let mut errors = Vec::new();
        let window = window(&params, UPDATES_DEFAULT_DAYS, &mut errors);
        if !errors.is_empty() {
            return Err(Failure::many(errors));
        }
        let mut sql = Sql::default();
        sql.push(&format!(
            "SELECT e.id, e.report_id,
                    coalesce(e.status,
                             (SELECT e2.status FROM maengel.events e2
                              WHERE e2.report_id = e.report_id AND e2.status IS NOT NULL
                                AND (e2.at, e2.id) < (e.at, e.id)
                              ORDER BY e2.at DESC, e2.id DESC LIMIT 1),
                             'eingegangen'),
                    {at}, coalesce(e.text, '')
             FROM maengel.events e JOIN maengel.public_reports p ON p.id = e.report_id
             WHERE e.public AND e.kind IN ('status', 'note', 'merged', 'reopened')",
            at = utc("e.at")
        ));
        match window {
            Window::LastDays(days) => {
                let p = sql.param(SqlValue::Int(days));
                sql.push(&format!(" AND e.at >= now() - {p} * interval '1 day'"));
            }
            Window::Between(s, e) => {
                let s = at_millis(&mut sql, s);
                let e = at_millis(&mut sql, e);
                sql.push(&format!(" AND e.at BETWEEN {s} AND {e}"));
            }
        }
        let limit = sql.param(SqlValue::Int(MAX_UPDATES));
        sql.push(&format!(" ORDER BY e.at, e.id LIMIT {limit}"));
        let client = mm.app.pool.get().await.map_err(DbError::from)?;
        let rows = client
            .query(&sql.text, &sql.refs())
            .await
            .map_err(DbError::query("reading Open311 updates"))?;
        let items = rows
            .iter()
            .map(|r| {
                let status = Status::parse(r.get(2));
                let mut f = vec![
                    ("update_id", Node::text(r.get::<_, i64>(0).to_string())),
                    (
                        "service_request_id",
                        Node::text(r.get::<_, i64>(1).to_string()),
                    ),
                    ("status", Node::text(status.map_or("open", Status::open311))),
                    ("updated_datetime", Node::text(r.get::<_, &str>(3))),
                    ("description", Node::text(r.get::<_, &str>(4))),
                ];
                if let Some(s) = status {
                    f.push(("external_status_code", Node::text(s.detailed())));
                }
                Node::Object(f)
            })
            .collect();
        Ok::<_, Failure>(respond(
            format,
            StatusCode::OK,
            "service_request_updates",
            &Node::List("request_update", items),
        ))
    };
    run.await.unwrap_or_else(|f| f.render(format))
}

// ---------------------------------------------------------------------------------------------
// New requests

/// The largest POST body: three photos and the text.
fn body_limit(mm: &Mm) -> usize {
    mm.app
        .config
        .maengel
        .photo_max_bytes
        .saturating_mul(MAX_PHOTOS)
        .saturating_add(256 * 1024)
}

fn too_large(limit: usize) -> Failure {
    Failure::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than {limit} bytes"),
    )
}

/// Reads the whole body, refusing more than `limit` bytes.
async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, Failure> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    // What a client declares is not yet sent: reserve at most 1 MiB ahead.
    let mut buffer = Vec::with_capacity(declared.unwrap_or(0).min(limit).min(1 << 20));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| Failure::bad_request("the request body could not be read"))?;
        if buffer.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buffer))
}

/// An uploaded file.
#[derive(Debug)]
struct Upload {
    name: String,
    bytes: Bytes,
}

/// Whether a multipart field is a photo: `media`, `media[]` (v2.1 draft) or FixMyStreet's
/// `photo1`…
fn is_media_field(name: &str) -> bool {
    name == "media"
        || name == "media[]"
        || name
            .strip_prefix("photo")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The fields and files of a POST body.
async fn read_form(request: Request, limit: usize) -> Result<(Params, Vec<Upload>), Failure> {
    let (parts, body) = request.into_parts();
    let bytes = read_body(body, &parts.headers, limit).await?;
    let multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if !multipart {
        return Ok((Params(parse_form(&bytes)?), Vec::new()));
    }
    let malformed =
        |e: String| Failure::bad_request(format!("the multipart body is malformed: {e}"));
    let mut form = Multipart::from_request(Request::from_parts(parts, Body::from(bytes)), &())
        .await
        .map_err(|e| malformed(e.body_text()))?;
    let mut fields = Vec::new();
    let mut uploads = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| malformed(e.body_text()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if is_media_field(&name) {
            let file = field.file_name().unwrap_or("media").to_owned();
            let bytes = field.bytes().await.map_err(|e| malformed(e.body_text()))?;
            if !bytes.is_empty() {
                uploads.push(Upload { name: file, bytes });
            }
        } else {
            let text = field.text().await.map_err(|e| malformed(e.body_text()))?;
            fields.push((name, text));
        }
    }
    Ok((Params(fields), uploads))
}

/// The API client of a key (SHA-256 looked up), if the key is valid and not revoked.
async fn client_of(client: &impl Conn, key: &str) -> Result<Option<String>, DbError> {
    if key.len() > 200 {
        return Ok(None);
    }
    let hash = Sha256::digest(key.as_bytes());
    let row = client
        .query_opt(
            "SELECT name FROM maengel.api_keys WHERE key_hash = $1 AND NOT revoked",
            &[&hash.as_slice()],
        )
        .await
        .map_err(DbError::query("checking an Open311 API key"))?;
    Ok(row.map(|r| r.get(0)))
}

/// `attribute[code]=v` and `attribute[code][]=v` → (code, v), only for the category's own
/// questions: what else a client adds (FixMyStreet's `attribute[fixmystreet_id]`, …) is ignored.
fn answers(params: &Params, category: &Category) -> Vec<(String, String)> {
    params
        .0
        .iter()
        .filter_map(|(name, value)| {
            let inner = name.strip_prefix("attribute[")?;
            let code = inner
                .strip_suffix("][]")
                .or_else(|| inner.strip_suffix(']'))?;
            category
                .attributes
                .iter()
                .any(|a| a.code == code)
                .then(|| (code.to_owned(), value.clone()))
        })
        .collect()
}

fn service_notice(lang: Lang, released: bool) -> &'static str {
    match (lang, released) {
        (Lang::En, true) => "Your report has been received and is public.",
        (Lang::En, false) => {
            "Your report has been received; its description and photos are published after review."
        }
        (Lang::De, true) => "Ihre Meldung ist eingegangen und öffentlich.",
        (Lang::De, false) => {
            "Ihre Meldung ist eingegangen; Beschreibung und Fotos werden nach Prüfung veröffentlicht."
        }
    }
}

async fn create(State(mm): State<Mm>, request: Request, format: Format) -> Response {
    match create_report(&mm, request).await {
        Ok((id, token, notice)) => {
            let item = Node::Object(vec![
                ("service_request_id", Node::text(id.to_string())),
                ("token", Node::text(token)),
                ("service_notice", Node::text(notice)),
            ]);
            respond(
                format,
                StatusCode::CREATED,
                "service_requests",
                &Node::List("request", vec![item]),
            )
        }
        Err(f) => f.render(format),
    }
}

async fn create_report(mm: &Mm, request: Request) -> Result<(i64, String, &'static str), Failure> {
    let header_key = request
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    // Parameters in the address count too (after those of the body).
    let query = Params::from_uri(request.uri())?;
    let (mut params, uploads) = read_form(request, body_limit(mm)).await?;
    params.0.extend(query.0);
    let key = params
        .get("api_key")
        .map(str::to_owned)
        .or(header_key)
        .ok_or_else(|| Failure::forbidden("api_key: an API key is required to submit requests"))?;
    let api_client = {
        let client = mm.app.pool.get().await.map_err(DbError::from)?;
        let name = client_of(&*client, &key)
            .await?
            .ok_or_else(|| Failure::forbidden("api_key: the API key is not valid"))?;
        check_jurisdiction(mm, &params)?;
        // The key's rate limit is counted in the report's transaction (model::submit).
        name
    };
    let code = params
        .get("service_code")
        .ok_or_else(|| Failure::bad_request("service_code: a service code is required"))?;
    let categories = mm.categories().await?;
    let category = categories
        .iter()
        .find(|c| c.code == code)
        .ok_or_else(|| Failure::not_found(format!("service_code: there is no service {code:?}")))?;
    let lang = params.lang();
    let photos = photos(mm, uploads).await?;
    let email = params.get("email").map(str::to_owned);
    let name = [params.get("first_name"), params.get("last_name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let address = params
        .get("address_string")
        .or_else(|| params.get("address_id"))
        .unwrap_or_default();
    let report = NewReport {
        category: category.code.clone(),
        description: params
            .0
            .iter()
            .find(|(n, _)| n == "description")
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
        location: Location::from_fields(
            params.get("lat").unwrap_or_default(),
            params.get("long").unwrap_or_default(),
            address,
            "",
        ),
        wants_updates: email.is_some(),
        email,
        name: (!name.is_empty()).then_some(name),
        phone: params.get("phone").map(str::to_owned),
        attributes: answers(&params, category),
        media_urls: params
            .all("media_url")
            .into_iter()
            .chain(params.all("media_url[]"))
            .map(str::to_owned)
            .collect(),
        channel: Channel::Open311(api_client),
        lang,
        photos,
        category_as_read: Some(category.clone()),
    };
    match model::submit(&mm.app, report).await {
        Ok(created) => Ok((
            created.id,
            created.token,
            service_notice(lang, created.released),
        )),
        Err(SubmitError::Invalid(problems)) => Err(invalid_failure(&problems)),
        Err(SubmitError::Server(problem)) => Err(problem.into()),
    }
}

/// Processes the uploaded photos (at most [`MAX_PHOTOS`]); every refusal at once.
async fn photos(mm: &Mm, uploads: Vec<Upload>) -> Result<Vec<Processed>, Failure> {
    if uploads.len() > MAX_PHOTOS {
        return Err(invalid_failure(&[Invalid::TooManyPhotos(uploads.len())]));
    }
    // In parallel, as far as the photo workers allow.
    let results = futures_util::future::join_all(uploads.into_iter().map(|upload| async move {
        let result = mm.workers.process(upload.bytes, mm.limits()).await;
        (upload.name, result)
    }))
    .await;
    let mut done = Vec::with_capacity(results.len());
    let mut problems = Vec::new();
    for (file, result) in results {
        match result {
            Ok(p) => done.push(p),
            Err(error) => problems.push(Invalid::Photo { file, error }),
        }
    }
    if problems.is_empty() {
        Ok(done)
    } else {
        Err(invalid_failure(&problems))
    }
}

// ---------------------------------------------------------------------------------------------
// API keys

fn key_hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Creates an API key for the client `name` (lower case letters, digits, `_.-`): returns the
/// key, which is shown once; only its SHA-256 is stored.
pub async fn add_key(client: &impl GenericClient, name: &str) -> Result<String, DbError> {
    let key = model::random_token(32);
    client
        .execute(
            "INSERT INTO maengel.api_keys (name, key_hash) VALUES ($1, $2)",
            &[&name, &key_hash(&key)],
        )
        .await
        .map_err(DbError::query("adding an Open311 API key"))?;
    Ok(key)
}

/// Revokes the key of client `name`; `false` when there is no such client.
pub async fn revoke_key(client: &impl GenericClient, name: &str) -> Result<bool, DbError> {
    let n = client
        .execute(
            "UPDATE maengel.api_keys SET revoked = true WHERE name = $1",
            &[&name],
        )
        .await
        .map_err(DbError::query("revoking an Open311 API key"))?;
    Ok(n > 0)
}

/// Every API client: name, whether its key is revoked, and when it was created (UTC,
/// RFC 3339), by name.
pub async fn list_keys(
    client: &impl GenericClient,
) -> Result<Vec<(String, bool, String)>, DbError> {
    let rows = client
        .query(
            &format!(
                "SELECT name, revoked, {} FROM maengel.api_keys ORDER BY name",
                utc("created_at")
            ),
            &[],
        )
        .await
        .map_err(DbError::query("listing the Open311 API keys"))?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Params {
        Params(parse_form(q.as_bytes()).expect("form"))
    }

    #[test]
    fn the_suffix_names_the_format() {
        assert_eq!(Format::split("033.xml"), Some(("033", Format::Xml)));
        assert_eq!(
            Format::split("strassenschaden.json"),
            Some(("strassenschaden", Format::Json))
        );
        assert_eq!(Format::split("a.b.JSON"), Some(("a.b", Format::Json)));
        assert_eq!(Format::split("033"), None);
        assert_eq!(Format::split("033.html"), None);
        assert_eq!(Format::split(".json"), None);
    }

    #[test]
    fn forms_decode_like_browsers_send_them() {
        let p = params("a=1+2&b=%C3%A4%26&attribute%5Bart%5D=riss&&empty=&c=%zz&d");
        assert_eq!(p.get("a"), Some("1 2"));
        assert_eq!(p.get("b"), Some("ä&"));
        assert_eq!(p.get("attribute[art]"), Some("riss"));
        assert_eq!(p.get("empty"), None);
        assert_eq!(p.get("c"), Some("%zz"));
        assert_eq!(p.get("d"), None);
        assert!(parse_form(b"x=%FF").is_err());
        let p = params("status=open&status=closed,open&service_code=a,,b");
        assert_eq!(p.list("status"), ["open", "closed", "open"]);
        assert_eq!(p.list("service_code"), ["a", "b"]);
    }

    #[test]
    fn dates_need_an_offset_and_spans_are_limited() {
        assert_eq!(parse_time("x", "1970-01-01T00:00:01Z", false), Ok(1000));
        assert_eq!(
            parse_time("x", "1970-01-01T01:00:01 01:00", false),
            Ok(1000),
            "an unencoded + arrives as a space"
        );
        assert_eq!(parse_time("x", "1970-01-02", false), Ok(DAY_MS));
        assert_eq!(parse_time("x", "1970-01-01", true), Ok(DAY_MS - 1));
        assert!(parse_time("x", "2026-01-01T00:00:00", false).is_err());
        assert!(parse_time("x", "gestern", false).is_err());

        let mut e = Vec::new();
        assert_eq!(window(&params(""), 90, &mut e), Window::LastDays(90));
        assert_eq!(
            window(&params("start_date=1970-01-01T00:00:00Z"), 90, &mut e),
            Window::Between(0, 90 * DAY_MS)
        );
        assert!(e.is_empty());
        window(
            &params("start_date=2026-01-01T00:00:00Z&end_date=2026-04-02T00:00:00Z"),
            90,
            &mut e,
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("90 days"));
        let mut e = Vec::new();
        window(
            &params("start_date=2026-01-01T00:00:00Z&end_date=2026-03-31T00:00:00Z"),
            90,
            &mut e,
        );
        assert!(e.is_empty(), "{e:?}");
        window(&params("start_date=x&end_date=y"), 90, &mut e);
        assert_eq!(e.len(), 2, "{e:?}");
    }

    #[test]
    fn filters_are_parsed_and_bad_values_named() {
        let f = Filter::from_params(&params(
            "service_code=a,b&status=open&page=2&page_size=5000&bbox=7.5,50.3,7.7,50.4&extensions=true",
        ))
        .expect("filter");
        assert_eq!(f.codes, ["a", "b"]);
        assert_eq!(f.status, Some("open"));
        assert_eq!((f.page, f.page_size), (2, MAX_PAGE_SIZE));
        assert_eq!(f.bbox, Some([7.5, 50.3, 7.7, 50.4]));
        assert!(f.extensions);
        let f = Filter::from_params(&params("status=open,closed&lat=50.3&long=7.6")).expect("f");
        assert_eq!(f.status, None);
        assert_eq!(f.near, Some((7.6, 50.3, DEFAULT_RADIUS)));
        assert_eq!(f.page_size, MAX_PAGE_SIZE);

        let bad = Filter::from_params(&params(
            "bbox=7,50,6,51&status=fixed&page=0&lat=x&long=7&radius=9000&service_request_id=1,x",
        ))
        .expect_err("bad");
        let text: Vec<&str> = bad.errors.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        for name in [
            "bbox:",
            "status:",
            "page:",
            "lat:",
            "radius:",
            "service_request_id:",
        ] {
            assert!(text.iter().any(|t| t.starts_with(name)), "{name} {text:?}");
        }
        assert!(Filter::from_params(&params("bbox=1,2,3")).is_err());
        assert!(Filter::from_params(&params("lat=50")).is_err());
    }

    #[test]
    fn json_and_xml_carry_the_same_tree() {
        let body = Node::List(
            "request",
            vec![Node::Object(vec![
                ("service_request_id", Node::text("42")),
                ("description", Node::text("a < b & \"c\"\u{1}")),
                ("lat", Node::Float(50.3569)),
                ("ok", Node::Bool(true)),
                ("notes", Node::List("note", vec![])),
            ])],
        );
        let json =
            String::from_utf8(document(Format::Json, "service_requests", &body).expect("json"))
                .expect("utf-8");
        assert_eq!(
            json,
            r#"[{"service_request_id":"42","description":"a < b & \"c\"\u0001","lat":50.3569,"ok":true,"notes":[]}]"#
        );
        let xml = String::from_utf8(document(Format::Xml, "service_requests", &body).expect("xml"))
            .expect("utf-8");
        assert!(
            xml.starts_with(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_requests><request>"
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<description>a &lt; b &amp; &quot;c&quot;</description>"),
            "{xml}"
        );
        assert!(
            xml.contains("<lat>50.3569</lat><ok>true</ok><notes></notes>"),
            "{xml}"
        );
    }

    #[test]
    fn errors_name_the_parameter() {
        let f = invalid_failure(&[
            Invalid::EmptyDescription,
            Invalid::OutsideCity,
            Invalid::MissingAttribute {
                code: "art".into(),
                question: "Art".into(),
            },
        ]);
        assert_eq!(f.status, StatusCode::BAD_REQUEST);
        assert_eq!(f.errors.len(), 3);
        assert!(f.errors[0].1.starts_with("description: "));
        assert_eq!(f.errors[1].0, 102);
        assert!(f.errors[2].1.starts_with("attribute[art]: "));
        let f = invalid_failure(&[Invalid::UnknownCategory("x".into())]);
        assert_eq!(f.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn media_fields() {
        for ok in ["media", "media[]", "photo1", "photo12"] {
            assert!(is_media_field(ok), "{ok}");
        }
        for no in ["photo", "photox", "media_url", "mediax"] {
            assert!(!is_media_field(no), "{no}");
        }
    }

    #[test]
    fn the_routes_do_not_conflict() {
        let _ = router();
    }
}
