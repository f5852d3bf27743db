//! CSV files, read by the importer itself rather than by GDAL's CSV driver.
//!
//! GDAL's driver is lenient where a city's data editor needs strictness: a quote that is never
//! closed swallows the rest of the file into one value, a coordinate that does not parse becomes
//! a feature without geometry, `0012` becomes the integer 12, and an empty field cannot be told
//! from an empty string. So CSV is tokenised here (RFC 4180 quoting, `""` as an escaped quote),
//! in two streaming passes over the file:
//!
//! 1. [`inspect`] checks every row (field count, coordinates or WKT, declared types), notes the
//!    line of each bad row, finds the encoding (UTF-8, else Windows-1252) and infers each
//!    column's type from *all* its values: only unambiguous numbers become numbers (no leading
//!    zeros, no `+`, no thousands separators), `YYYY-MM-DD` dates become dates, `true`/`false`
//!    booleans; everything else stays text. A `.csvt` file beside the CSV (GDAL's convention)
//!    or `--type NAME=KIND` fixes a column's type instead.
//! 2. [`read`] streams the good rows as binary COPY rows.
//!
//! An unquoted empty field is NULL, a quoted empty field (`""`) is the empty string — the
//! convention of PostgreSQL's own CSV format.
//!
//! The `csv` crate is not used because it can neither tell `""` from an empty field nor report
//! a quote that is never closed; the tokenizer below is small and tested on its own.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use gdal::spatial_ref::SpatialRef;
use gdal::vector::Geometry;

use super::VectorImportError as Error;
use super::source::{Column, ColumnKind, LayerPlan, ReadStats, SourceSpec, Transformer};
use crate::copy::{Cell, CopyEncoder};
use crate::names;
use crate::progress::Counter;

/// Column names taken as longitude/latitude (then EPSG:4326 is assumed).
const LON_NAMES: &[&str] = &[
    "lon",
    "lng",
    "long",
    "longitude",
    "laenge",
    "länge",
    "x_wgs84",
];
const LAT_NAMES: &[&str] = &["lat", "latitude", "breite", "y_wgs84"];
const WKT_NAMES: &[&str] = &["wkt", "geom", "geometry", "the_geom", "geometrie"];

/// How many bad rows are listed in an error message before "and N more".
const LISTED_BAD_ROWS: usize = 5;

/// One field of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The bytes, unquoted and unescaped.
    pub bytes: Vec<u8>,
    /// Whether the field was written in quotes (so `""` is an empty string, not NULL).
    pub quoted: bool,
}

/// One record (row) and the line it starts on (1-based, the header is line 1).
#[derive(Debug, Clone)]
pub struct Record {
    /// First line of the record.
    pub line: u64,
    /// Its fields.
    pub fields: Vec<Field>,
}

/// A quote was opened and never closed: everything after it would be one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnclosedQuote {
    /// The line where the quoted field starts.
    pub line: u64,
}

/// Splits a byte stream into records: RFC 4180 quoting (a quote only opens a quoted field at
/// the start of the field; `""` inside is a quote; delimiters and line breaks inside quotes
/// belong to the value), `\n` or `\r\n` line ends, blank lines skipped.
#[derive(Debug)]
pub struct Tokenizer<R> {
    input: R,
    delimiter: u8,
    line: u64,
    buffer: Vec<u8>,
}

impl<R: BufRead> Tokenizer<R> {
    /// A tokenizer over `input`.
    pub fn new(input: R, delimiter: u8) -> Self {
        Self {
            input,
            delimiter,
            line: 0,
            buffer: Vec::new(),
        }
    }

    /// The next record, `Ok(None)` at the end.
    pub fn next_record(&mut self) -> std::io::Result<Result<Option<Record>, UnclosedQuote>> {
        loop {
            self.buffer.clear();
            if self.input.read_until(b'\n', &mut self.buffer)? == 0 {
                return Ok(Ok(None));
            }
            self.line += 1;
            let start = self.line;
            let mut fields = Vec::new();
            let mut field = Field {
                bytes: Vec::new(),
                quoted: false,
            };
            let mut in_quotes = false;
            let mut at_field_start = true;
            let mut i = 0;
            loop {
                if i >= self.buffer.len() {
                    if in_quotes {
                        // The line break belongs to the value; the record goes on.
                        let before = self.buffer.len();
                        if self.input.read_until(b'\n', &mut self.buffer)? == 0 {
                            return Ok(Err(UnclosedQuote { line: start }));
                        }
                        self.line += 1;
                        i = before;
                        continue;
                    }
                    break;
                }
                let b = self.buffer[i];
                if in_quotes {
                    if b == b'"' {
                        if self.buffer.get(i + 1) == Some(&b'"') {
                            field.bytes.push(b'"');
                            i += 2;
                            continue;
                        }
                        in_quotes = false;
                    } else {
                        field.bytes.push(b);
                    }
                } else if b == b'"' && at_field_start {
                    in_quotes = true;
                    field.quoted = true;
                    at_field_start = false;
                } else if b == self.delimiter {
                    fields.push(std::mem::replace(
                        &mut field,
                        Field {
                            bytes: Vec::new(),
                            quoted: false,
                        },
                    ));
                    at_field_start = true;
                } else if b == b'\n' || (b == b'\r' && self.buffer.get(i + 1) == Some(&b'\n')) {
                    break;
                } else {
                    field.bytes.push(b);
                    at_field_start = false;
                }
                i += 1;
            }
            fields.push(field);
            let blank = fields.len() == 1 && fields[0].bytes.is_empty() && !fields[0].quoted;
            if !blank {
                return Ok(Ok(Some(Record {
                    line: start,
                    fields,
                })));
            }
        }
    }
}

/// The text encoding of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (a byte-order mark is dropped).
    Utf8,
    /// Windows-1252 (what spreadsheet programs write on German Windows), when the file is not
    /// valid UTF-8.
    Windows1252,
}

impl Encoding {
    fn decode(self, bytes: &[u8]) -> String {
        match self {
            Self::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Self::Windows1252 => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
        }
    }
}

/// Where a row's geometry comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeometrySource {
    /// A WKT column (field index).
    Wkt(usize),
    /// Two coordinate columns (field indexes of x/longitude and y/latitude).
    Xy(usize, usize),
}

/// What [`inspect`] learnt about a CSV file, for [`read`].
#[derive(Debug, Clone)]
pub struct CsvLayout {
    delimiter: u8,
    encoding: Encoding,
    header_len: usize,
    geometry: GeometrySource,
    /// Lines of rows that are skipped (only with `--skip-bad-rows`).
    skip: BTreeSet<u64>,
}

/// A type named in a `.csvt` file or with `--type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declared {
    Kind(ColumnKind),
    Wkt,
    X,
    Y,
}

/// Parses a type name of GDAL's `.csvt` convention or of `--type` (case-insensitive; a width
/// in parentheses is ignored, `Integer(Boolean)` is a boolean).
fn parse_type(text: &str) -> Option<Declared> {
    let t = text.trim().trim_matches('"').to_ascii_lowercase();
    if t == "integer(boolean)" {
        return Some(Declared::Kind(ColumnKind::Boolean));
    }
    let base = t.split('(').next().unwrap_or_default().trim();
    Some(match base {
        "integer" | "int" => Declared::Kind(ColumnKind::Integer),
        "integer64" | "bigint" => Declared::Kind(ColumnKind::BigInt),
        "real" | "double" | "number" => Declared::Kind(ColumnKind::Double),
        "string" | "text" | "time" => Declared::Kind(ColumnKind::Text),
        "boolean" | "bool" => Declared::Kind(ColumnKind::Boolean),
        "date" => Declared::Kind(ColumnKind::Date),
        "datetime" | "timestamp" => Declared::Kind(ColumnKind::Timestamp),
        "wkt" => Declared::Wkt,
        "coordx" | "point(x)" => Declared::X,
        "coordy" | "point(y)" => Declared::Y,
        _ => return None,
    })
}

/// What values a column may hold, narrowed with every value seen (one flag per candidate type).
#[derive(Debug, Clone, Copy)]
#[allow(clippy::struct_excessive_bools)]
struct Inference {
    seen: bool,
    int4: bool,
    int8: bool,
    double: bool,
    boolean: bool,
    date: bool,
    timestamp: bool,
}

impl Default for Inference {
    fn default() -> Self {
        Self {
            seen: false,
            int4: true,
            int8: true,
            double: true,
            boolean: true,
            date: true,
            timestamp: true,
        }
    }
}

impl Inference {
    fn add(&mut self, value: &[u8]) {
        self.seen = true;
        let text = std::str::from_utf8(value).unwrap_or_default();
        let integer = is_plain_integer(value);
        self.int4 &= integer && text.parse::<i32>().is_ok();
        self.int8 &= integer && text.parse::<i64>().is_ok();
        self.double &= is_plain_number(value)
            && !looks_like_thousands(text)
            && text.parse::<f64>().is_ok_and(f64::is_finite);
        self.boolean &= text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false");
        self.date &= parse_date(text).is_some();
        self.timestamp &= parse_timestamp(text).is_some();
    }

    fn kind(self) -> ColumnKind {
        if !self.seen {
            ColumnKind::Text
        } else if self.int4 {
            ColumnKind::Integer
        } else if self.int8 {
            ColumnKind::BigInt
        } else if self.double {
            ColumnKind::Double
        } else if self.boolean {
            ColumnKind::Boolean
        } else if self.date {
            ColumnKind::Date
        } else if self.timestamp {
            ColumnKind::Timestamp
        } else {
            ColumnKind::Text
        }
    }
}

/// `-?(0|[1-9][0-9]*)`: no sign `+`, no leading zeros, no separators.
fn is_plain_integer(v: &[u8]) -> bool {
    let digits = v.strip_prefix(b"-").unwrap_or(v);
    !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits.len() == 1 || digits[0] != b'0')
}

/// `1.000` or `12.500`: one to three digits (not a lone 0), a point and exactly three digits —
/// in a German file that is a thousands separator, so the value is not an unambiguous number.
fn looks_like_thousands(text: &str) -> bool {
    let t = text.strip_prefix('-').unwrap_or(text);
    t.split_once('.').is_some_and(|(int, frac)| {
        (1..=3).contains(&int.len())
            && int != "0"
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.len() == 3
            && frac.bytes().all(|b| b.is_ascii_digit())
    })
}

/// A plain integer, optionally with `.digits` and an exponent: `-12.5`, `0.25`, `1e-3`.
fn is_plain_number(v: &[u8]) -> bool {
    let text = std::str::from_utf8(v).unwrap_or_default();
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let (int_part, fraction) = match mantissa.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (mantissa, None),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let d = e.strip_prefix(['-', '+']).unwrap_or(e);
        !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
    });
    let fraction_ok =
        fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    is_plain_integer(int_part.as_bytes()) && fraction_ok && exponent_ok
}

fn parse_date(text: &str) -> Option<chrono::NaiveDate> {
    (text.len() == 10)
        .then(|| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
}

/// An RFC 3339 timestamp with an explicit offset or `Z` (a local time without zone is not
/// unambiguous, so it stays text).
fn parse_timestamp(text: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .or_else(|| chrono::DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%:z").ok())
}

/// A coordinate: a plain number, or with a decimal comma when it has exactly one comma and no
/// point (`7,5937` from a German spreadsheet).
fn parse_coordinate(text: &str) -> Option<f64> {
    let t = text.trim();
    let value = if !t.contains('.') && t.matches(',').count() == 1 {
        t.replace(',', ".").parse::<f64>().ok()
    } else {
        t.parse::<f64>().ok()
    };
    value.filter(|v| v.is_finite())
}

fn open_input(path: &Path) -> Result<BufReader<File>, Error> {
    File::open(path)
        .map(|f| BufReader::with_capacity(1 << 16, f))
        .map_err(|e| Error::Unreadable {
            file: path.to_owned(),
            reason: e.to_string(),
        })
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Unreadable {
        file: path.to_owned(),
        reason: e.to_string(),
    }
}

/// The delimiter: the most frequent of `,` `;` tab `|` in the header line, outside quotes.
fn detect_delimiter(path: &Path) -> Result<u8, Error> {
    let mut header = Vec::new();
    open_input(path)?
        .read_until(b'\n', &mut header)
        .map_err(io_error(path))?;
    let mut counts = [0usize; 4];
    let candidates = [b',', b';', b'\t', b'|'];
    let mut in_quotes = false;
    for b in header {
        if b == b'"' {
            in_quotes = !in_quotes;
        } else if !in_quotes && let Some(i) = candidates.iter().position(|c| *c == b) {
            counts[i] += 1;
        }
    }
    let best = (0..4)
        .max_by_key(|i| (counts[*i], std::cmp::Reverse(*i)))
        .unwrap_or(0);
    Ok(if counts[best] == 0 {
        b','
    } else {
        candidates[best]
    })
}

/// The types of a `.csvt` file beside the CSV, one per column.
fn read_csvt(path: &Path) -> Result<Option<Vec<Declared>>, Error> {
    let csvt = path.with_extension("csvt");
    let Ok(text) = std::fs::read_to_string(&csvt) else {
        return Ok(None);
    };
    let line = text.lines().next().unwrap_or_default();
    line.split(',')
        .map(|t| {
            parse_type(t).ok_or_else(|| Error::Unreadable {
                file: csvt.clone(),
                reason: format!("unknown type {t:?} (Integer, Integer64, Real, String, Date, DateTime, WKT, CoordX, CoordY)"),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn unclosed(path: &Path, quote: UnclosedQuote) -> Error {
    Error::CsvBroken {
        file: path.to_owned(),
        line: quote.line,
        reason:
            "an opening quote (\") is never closed, so the rest of the file would become one value"
                .to_owned(),
    }
}

fn strip_bom(record: &mut Record) {
    if let Some(first) = record.fields.first_mut()
        && first.bytes.starts_with(b"\xEF\xBB\xBF")
    {
        first.bytes.drain(..3);
    }
}

/// Finds the geometry columns: named by the user, declared in the `.csvt`, or by their usual
/// names. Returns the source and whether the coordinates are known to be longitude/latitude.
fn find_geometry(
    header: &[String],
    declared: &[Option<Declared>],
    spec: &SourceSpec,
    layer: &str,
) -> Result<(GeometrySource, bool), Error> {
    let find = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .or_else(|| header.iter().position(|h| h.eq_ignore_ascii_case(name)))
    };
    let named = |option: &Option<String>, what: &str| -> Result<Option<usize>, Error> {
        option
            .as_deref()
            .map(|name| {
                find(name).ok_or_else(|| Error::CsvBroken {
                    file: spec.path.clone(),
                    line: 1,
                    reason: format!(
                        "no column {name:?} for {what}; columns: {}",
                        header.join(", ")
                    ),
                })
            })
            .transpose()
    };
    if let Some(i) = named(&spec.wkt_column, "--wkt-column")? {
        return Ok((GeometrySource::Wkt(i), false));
    }
    let x = named(&spec.x_column, "--x-column")?;
    let y = named(&spec.y_column, "--y-column")?;
    if let (Some(x), Some(y)) = (x, y) {
        return Ok((GeometrySource::Xy(x, y), false));
    }
    let declared_at = |d: Declared| declared.iter().position(|t| *t == Some(d));
    if let Some(i) = declared_at(Declared::Wkt) {
        return Ok((GeometrySource::Wkt(i), false));
    }
    let is_named =
        |i: usize, names: &[&str]| names.contains(&header[i].trim().to_lowercase().as_str());
    if let (Some(x), Some(y)) = (declared_at(Declared::X), declared_at(Declared::Y)) {
        let lonlat = is_named(x, LON_NAMES) && is_named(y, LAT_NAMES);
        return Ok((GeometrySource::Xy(x, y), lonlat));
    }
    let by_names = |names: &[&str]| (0..header.len()).find(|i| is_named(*i, names));
    if let (Some(x), Some(y)) = (by_names(LON_NAMES), by_names(LAT_NAMES)) {
        return Ok((GeometrySource::Xy(x, y), true));
    }
    if let Some(i) = by_names(WKT_NAMES) {
        return Ok((GeometrySource::Wkt(i), false));
    }
    Err(Error::NoGeometry(layer.to_owned()))
}

/// A row's geometry: `Ok(None)` when its geometry fields are empty, `Err(reason)` when they do
/// not parse.
fn row_geometry(
    geometry: &GeometrySource,
    fields: &[Field],
    encoding: Encoding,
) -> Result<Option<Geometry>, String> {
    let text = |i: usize| encoding.decode(&fields[i].bytes);
    match *geometry {
        GeometrySource::Wkt(i) => {
            let wkt = text(i);
            if wkt.trim().is_empty() {
                return Ok(None);
            }
            Geometry::from_wkt(wkt.trim())
                .map(Some)
                .map_err(|_| format!("the WKT {:?} does not parse", shorten(&wkt)))
        }
        GeometrySource::Xy(xi, yi) => {
            let (x, y) = (text(xi), text(yi));
            match (x.trim().is_empty(), y.trim().is_empty()) {
                (true, true) => return Ok(None),
                (true, false) | (false, true) => {
                    return Err("only one of the two coordinates is given".to_owned());
                }
                (false, false) => {}
            }
            let parse = |v: &str| {
                parse_coordinate(v)
                    .ok_or_else(|| format!("the coordinate {:?} is not a number", shorten(v)))
            };
            let (x, y) = (parse(&x)?, parse(&y)?);
            let mut point = Geometry::empty(gdal::vector::OGRwkbGeometryType::wkbPoint)
                .map_err(|e| e.to_string())?;
            point.add_point_2d((x, y));
            Ok(Some(point))
        }
    }
}

fn shorten(text: &str) -> String {
    let mut s: String = text.chars().take(40).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

/// Converts a field to a cell of `kind`; `Err` when the text is not such a value.
fn to_cell(field: &Field, kind: ColumnKind, encoding: Encoding) -> Result<Cell, String> {
    if field.bytes.is_empty() {
        return Ok(if field.quoted && kind == ColumnKind::Text {
            Cell::Text(String::new())
        } else {
            Cell::Null
        });
    }
    let text = encoding.decode(&field.bytes);
    let bad = || format!("{:?} is not a valid {}", shorten(&text), kind.label());
    let t = text.trim();
    Ok(match kind {
        ColumnKind::Text | ColumnKind::Json => Cell::Text(text.clone()),
        ColumnKind::Integer => Cell::Int4(t.parse().map_err(|_| bad())?),
        ColumnKind::BigInt => Cell::Int8(t.parse().map_err(|_| bad())?),
        ColumnKind::Double => Cell::Float8(
            t.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(bad)?,
        ),
        ColumnKind::Boolean => match t.to_ascii_lowercase().as_str() {
            "true" | "1" | "t" | "yes" | "ja" => Cell::Bool(true),
            "false" | "0" | "f" | "no" | "nein" => Cell::Bool(false),
            _ => return Err(bad()),
        },
        ColumnKind::Date => Cell::date(parse_date(t).ok_or_else(bad)?),
        ColumnKind::Timestamp => {
            Cell::timestamp_micros(parse_timestamp(t).ok_or_else(bad)?.timestamp_micros())
        }
    })
}

/// Pass 1: checks every row, infers the types, counts, and plans the load.
pub fn inspect(
    spec: &SourceSpec,
    types: &[(String, String)],
    skip_bad_rows: bool,
) -> Result<(LayerPlan, CsvLayout), Error> {
    let path = &spec.path;
    let layer = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let delimiter = detect_delimiter(path)?;
    let mut tokens = Tokenizer::new(open_input(path)?, delimiter);
    let mut header = match tokens.next_record().map_err(io_error(path))? {
        Ok(Some(h)) => h,
        Ok(None) => return Err(Error::EmptyLayer(layer)),
        Err(q) => return Err(unclosed(path, q)),
    };
    strip_bom(&mut header);
    let utf8_header = header
        .fields
        .iter()
        .all(|f| std::str::from_utf8(&f.bytes).is_ok());
    let header_encoding = if utf8_header {
        Encoding::Utf8
    } else {
        Encoding::Windows1252
    };
    let names_in_file: Vec<String> = header
        .fields
        .iter()
        .map(|f| header_encoding.decode(&f.bytes).trim().to_owned())
        .collect();

    let mut declared: Vec<Option<Declared>> = vec![None; names_in_file.len()];
    if let Some(csvt) = read_csvt(path)? {
        for (slot, d) in declared.iter_mut().zip(csvt) {
            *slot = Some(d);
        }
    }
    for (name, kind) in types {
        let Some(i) = names_in_file.iter().position(|n| n == name) else {
            return Err(Error::BadOption(format!(
                "--type {name}={kind}: the file has no column {name:?}; columns: {}",
                names_in_file.join(", ")
            )));
        };
        match parse_type(kind) {
            Some(Declared::Kind(k)) => declared[i] = Some(Declared::Kind(k)),
            _ => {
                return Err(Error::BadOption(format!(
                    "--type {name}={kind}: unknown type (text, integer, bigint, double, boolean, date, timestamp)"
                )));
            }
        }
    }
    let (geometry, lonlat) = find_geometry(&names_in_file, &declared, spec, &layer)?;
    let geometry_fields: Vec<usize> = match geometry {
        GeometrySource::Wkt(i) => vec![i],
        GeometrySource::Xy(x, y) => vec![x, y],
    };
    let attribute_fields: Vec<usize> = (0..names_in_file.len())
        .filter(|i| !geometry_fields.contains(i))
        .collect();

    let mut inference = vec![Inference::default(); names_in_file.len()];
    let mut bad: Vec<(u64, String)> = Vec::new();
    let mut rows = 0u64;
    let mut valid_utf8 = utf8_header;
    let mut has_z = false;
    loop {
        let record = match tokens.next_record().map_err(io_error(path))? {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(q) => return Err(unclosed(path, q)),
        };
        spec.checked.add(1);
        if record.fields.len() != names_in_file.len() {
            bad.push((
                record.line,
                format!(
                    "{} fields instead of {} (a quote that is not closed on its line, or a stray delimiter)",
                    record.fields.len(),
                    names_in_file.len()
                ),
            ));
            continue;
        }
        valid_utf8 &= record
            .fields
            .iter()
            .all(|f| std::str::from_utf8(&f.bytes).is_ok());
        // The geometry is checked with the encoding that the text seems to have so far; only
        // ASCII matters for numbers and WKT.
        match row_geometry(&geometry, &record.fields, Encoding::Utf8) {
            Err(reason) => {
                bad.push((record.line, reason));
                continue;
            }
            Ok(Some(g)) => has_z |= gdal::vector::geometry_type_has_z(g.geometry_type()),
            Ok(None) => {}
        }
        let mut type_error = None;
        for &i in &attribute_fields {
            let field = &record.fields[i];
            if let Some(Declared::Kind(kind)) = declared[i] {
                if let Err(reason) = to_cell(field, kind, Encoding::Utf8) {
                    type_error = Some(format!("column {:?}: {reason}", names_in_file[i]));
                    break;
                }
            } else if !field.bytes.is_empty() {
                inference[i].add(&field.bytes);
            }
        }
        if let Some(reason) = type_error {
            bad.push((record.line, reason));
            continue;
        }
        rows += 1;
    }
    if !bad.is_empty() && !skip_bad_rows {
        let (line, reason) = bad[0].clone();
        let more = if bad.len() > 1 {
            let listed: Vec<String> = bad
                .iter()
                .skip(1)
                .take(LISTED_BAD_ROWS)
                .map(|(l, _)| l.to_string())
                .collect();
            format!(
                "; {} more bad {} (lines {}{}); correct them, or skip bad rows with --skip-bad-rows",
                bad.len() - 1,
                if bad.len() == 2 { "row" } else { "rows" },
                listed.join(", "),
                if bad.len() - 1 > LISTED_BAD_ROWS {
                    ", …"
                } else {
                    ""
                }
            )
        } else {
            "; correct the row, or skip bad rows with --skip-bad-rows".to_owned()
        };
        return Err(Error::CsvBroken {
            file: path.clone(),
            line,
            reason: reason + &more,
        });
    }
    if rows == 0 {
        return Err(Error::EmptyLayer(layer));
    }
    let encoding = if valid_utf8 {
        Encoding::Utf8
    } else {
        Encoding::Windows1252
    };
    let names_in_file: Vec<String> = if encoding == header_encoding {
        names_in_file
    } else {
        header
            .fields
            .iter()
            .map(|f| encoding.decode(&f.bytes).trim().to_owned())
            .collect()
    };

    let sanitized =
        names::column_names(attribute_fields.iter().map(|i| names_in_file[*i].as_str()));
    let columns: Vec<Column> = attribute_fields
        .iter()
        .zip(sanitized)
        .map(|(&i, name)| Column {
            name,
            original: names_in_file[i].clone(),
            kind: match declared[i] {
                Some(Declared::Kind(k)) => k,
                _ => inference[i].kind(),
            },
            index: i,
        })
        .collect();

    let (srs, srs_note) = if let Some(code) = spec.source_srs {
        (
            SpatialRef::from_epsg(code).map_err(|_| Error::UnknownCrs(format!("EPSG:{code}")))?,
            format!("EPSG:{code} (--source-srs)"),
        )
    } else if lonlat {
        (
            SpatialRef::from_epsg(4326).map_err(|_| Error::UnknownCrs("EPSG:4326".to_owned()))?,
            "EPSG:4326 (Längen-/Breitengrad-Spalten)".to_owned(),
        )
    } else {
        return Err(Error::MissingCrs(path.clone()));
    };
    let plan = LayerPlan {
        layer,
        columns,
        dropped_fields: Vec::new(),
        feature_count: Some(rows),
        source_srs_wkt: srs.to_wkt().map_err(|e| Error::UnknownCrs(e.to_string()))?,
        srs_note,
        has_z,
        dimension: match geometry {
            GeometrySource::Xy(..) => Some(0),
            GeometrySource::Wkt(_) => None,
        },
        bad_rows: if skip_bad_rows {
            bad.clone()
        } else {
            Vec::new()
        },
        csv: None,
    };
    let layout = CsvLayout {
        delimiter,
        encoding,
        header_len: names_in_file.len(),
        geometry,
        skip: bad.iter().map(|(line, _)| *line).collect(),
    };
    Ok((plan, layout))
}

/// Pass 2: streams the good rows as binary COPY chunks.
pub fn read(
    path: &Path,
    plan: &LayerPlan,
    layout: &CsvLayout,
    transformer: &Transformer,
    chunks: &tokio::sync::mpsc::Sender<Vec<u8>>,
    progress: &Counter,
) -> Result<ReadStats, Error> {
    let mut tokens = Tokenizer::new(open_input(path)?, layout.delimiter);
    let broken = |line: u64, reason: String| Error::CsvBroken {
        file: path.to_owned(),
        line,
        reason,
    };
    // The header.
    if let Err(q) = tokens.next_record().map_err(io_error(path))? {
        return Err(unclosed(path, q));
    }
    let mut stats = ReadStats::default();
    let mut encoder = CopyEncoder::new();
    let mut cells: Vec<Cell> = Vec::with_capacity(plan.columns.len() + 2);
    let send = |bytes: Vec<u8>| chunks.blocking_send(bytes).map_err(|_| Error::Aborted);
    let mut id = 0i64;
    loop {
        let record = match tokens.next_record().map_err(io_error(path))? {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(q) => return Err(unclosed(path, q)),
        };
        if layout.skip.contains(&record.line) {
            *stats
                .skipped
                .entry("fehlerhafte CSV-Zeile / bad CSV row (--skip-bad-rows)".to_owned())
                .or_default() += 1;
            stats.read += 1;
            continue;
        }
        if record.fields.len() != layout.header_len {
            // The file changed between the two passes.
            return Err(broken(
                record.line,
                "the file changed during the import".to_owned(),
            ));
        }
        stats.read += 1;
        id += 1;
        cells.clear();
        cells.push(Cell::Int8(id));
        for column in &plan.columns {
            let cell = to_cell(&record.fields[column.index], column.kind, layout.encoding)
                .map_err(|reason| {
                    broken(
                        record.line,
                        format!("column {:?}: {reason}", column.original),
                    )
                })?;
            cells.push(cell);
        }
        let geometry = row_geometry(&layout.geometry, &record.fields, layout.encoding)
            .map_err(|reason| broken(record.line, reason))?;
        match geometry {
            None => cells.push(Cell::Null),
            Some(g) => match transformer.ewkb(g, plan.has_z) {
                Some(ewkb) => cells.push(Cell::Geometry(ewkb)),
                None => {
                    return Err(broken(
                        record.line,
                        "the coordinates cannot be transformed into the storage CRS (outside its area?)"
                            .to_owned(),
                    ));
                }
            },
        }
        encoder.row(&cells);
        stats.written += 1;
        if stats.read % 1024 == 0 {
            progress.add(1024);
        }
        if encoder.len() >= 1 << 20 {
            send(encoder.take())?;
        }
    }
    progress.add(stats.read % 1024);
    send(encoder.finish())?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records as (line, [(text, quoted)]).
    type Parsed = Vec<(u64, Vec<(String, bool)>)>;

    fn records(text: &str, delimiter: u8) -> Result<Parsed, UnclosedQuote> {
        let mut t = Tokenizer::new(text.as_bytes(), delimiter);
        let mut out = Vec::new();
        while let Some(r) = t.next_record().unwrap()? {
            out.push((
                r.line,
                r.fields
                    .into_iter()
                    .map(|f| (String::from_utf8(f.bytes).unwrap(), f.quoted))
                    .collect(),
            ));
        }
        Ok(out)
    }

    #[test]
    fn quoting_escapes_and_line_breaks_inside_values() {
        let r = records(
            "a,b\n\"x, \"\"y\"\"\",2\r\n\"zwei\nZeilen\",\n\n\"\",3\n",
            b',',
        )
        .unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!(r[1].0, 2);
        assert_eq!(
            r[1].1,
            [("x, \"y\"".to_owned(), true), ("2".to_owned(), false)]
        );
        assert_eq!(r[2].0, 3);
        assert_eq!(
            r[2].1,
            [("zwei\nZeilen".to_owned(), true), (String::new(), false)]
        );
        // Line 6 after the blank line 5: the quoted empty string is not NULL.
        assert_eq!(r[3].0, 6);
        assert_eq!(r[3].1, [(String::new(), true), ("3".to_owned(), false)]);
    }

    #[test]
    fn a_quote_that_never_closes_is_found_with_its_line() {
        let err = records(
            "name,lat,lon\nA,1,2\n\"offen,50.35,7.59\nB,50.36,7.60\n",
            b',',
        )
        .unwrap_err();
        assert_eq!(err, UnclosedQuote { line: 3 });
        // A quote inside an unquoted value is an ordinary character.
        let r = records("rohr\n12\" Stahl\n", b',').unwrap();
        assert_eq!(r[1].1[0].0, "12\" Stahl");
    }

    #[test]
    fn only_unambiguous_values_become_numbers() {
        let kind = |values: &[&str]| {
            let mut i = Inference::default();
            for v in values {
                i.add(v.as_bytes());
            }
            i.kind()
        };
        assert_eq!(kind(&["1", "12", "-3"]), ColumnKind::Integer);
        assert_eq!(kind(&["0001", "0012"]), ColumnKind::Text);
        assert_eq!(kind(&["1", "0012"]), ColumnKind::Text);
        assert_eq!(kind(&["+49", "12"]), ColumnKind::Text);
        assert_eq!(kind(&["1.000", "2.500,5"]), ColumnKind::Text);
        assert_eq!(kind(&["1.000", "12.500"]), ColumnKind::Text);
        assert_eq!(kind(&["0.125", "1.5"]), ColumnKind::Double);
        assert_eq!(kind(&["12,5"]), ColumnKind::Text);
        assert_eq!(kind(&["1", "2.5", "1e3"]), ColumnKind::Double);
        assert_eq!(kind(&["0.5", "0"]), ColumnKind::Double);
        assert_eq!(kind(&["00.5"]), ColumnKind::Text);
        assert_eq!(kind(&["3000000000"]), ColumnKind::BigInt);
        assert_eq!(kind(&["true", "FALSE"]), ColumnKind::Boolean);
        assert_eq!(kind(&["2024-02-29", "1999-12-31"]), ColumnKind::Date);
        assert_eq!(kind(&["2023-02-29"]), ColumnKind::Text);
        assert_eq!(
            kind(&["2024-05-01T10:00:00+02:00", "2024-05-01T08:00:00Z"]),
            ColumnKind::Timestamp
        );
        assert_eq!(kind(&["2024-05-01 10:00"]), ColumnKind::Text);
        assert_eq!(kind(&["12", "zwölf"]), ColumnKind::Text);
        assert_eq!(kind(&[]), ColumnKind::Text);
    }

    #[test]
    fn coordinates_may_use_a_decimal_comma() {
        assert_eq!(parse_coordinate("7,5937"), Some(7.5937));
        assert_eq!(parse_coordinate(" 50.35 "), Some(50.35));
        assert_eq!(parse_coordinate("400,100.5"), None);
        assert_eq!(parse_coordinate("abc"), None);
        assert_eq!(parse_coordinate("NaN"), None);
    }

    #[test]
    fn csvt_and_type_names() {
        assert_eq!(
            parse_type("\"Integer(5)\""),
            Some(Declared::Kind(ColumnKind::Integer))
        );
        assert_eq!(
            parse_type("Integer(Boolean)"),
            Some(Declared::Kind(ColumnKind::Boolean))
        );
        assert_eq!(
            parse_type("String(20)"),
            Some(Declared::Kind(ColumnKind::Text))
        );
        assert_eq!(parse_type("WKT"), Some(Declared::Wkt));
        assert_eq!(parse_type("CoordX"), Some(Declared::X));
        assert_eq!(parse_type("Blob"), None);
    }
}
