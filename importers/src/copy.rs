//! PostgreSQL's binary COPY format, written by hand: the fastest way to load rows, and exact
//! (no text round trip for numbers, dates or geometries).
//!
//! A [`CopyEncoder`] collects rows into a buffer; callers hand full chunks to
//! `COPY … FROM STDIN (FORMAT binary)` and start the next chunk, so memory stays bounded.

/// Seconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
const PG_EPOCH_UNIX_SECONDS: i64 = 946_684_800;

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// `integer`
    Int4(i32),
    /// `bigint`
    Int8(i64),
    /// `double precision`
    Float8(f64),
    /// `boolean`
    Bool(bool),
    /// `text`
    Text(String),
    /// `date`, as days since 2000-01-01.
    Date(i32),
    /// `timestamptz`, as microseconds since 2000-01-01 00:00 UTC.
    Timestamptz(i64),
    /// `jsonb`, as JSON text.
    Json(String),
    /// `geometry`, as (E)WKB.
    Geometry(Vec<u8>),
}

impl Cell {
    /// A `date` from a calendar date.
    #[must_use]
    pub fn date(date: chrono::NaiveDate) -> Self {
        let epoch = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
        i32::try_from((date - epoch).num_days()).map_or(Self::Null, Self::Date)
    }

    /// A `timestamptz` from Unix microseconds.
    #[must_use]
    pub fn timestamp_micros(unix_micros: i64) -> Self {
        Self::Timestamptz(unix_micros - PG_EPOCH_UNIX_SECONDS * 1_000_000)
    }
}

/// Encodes rows in PostgreSQL's binary COPY format.
#[derive(Debug)]
pub struct CopyEncoder {
    buffer: Vec<u8>,
}

impl Default for CopyEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl CopyEncoder {
    /// A buffer that starts with the COPY header.
    #[must_use]
    pub fn new() -> Self {
        let mut buffer = Vec::with_capacity(1 << 20);
        buffer.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buffer.extend_from_slice(&0i32.to_be_bytes()); // flags
        buffer.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        Self { buffer }
    }

    /// Appends one row.
    pub fn row(&mut self, cells: &[Cell]) {
        let count = i16::try_from(cells.len()).unwrap_or(i16::MAX);
        self.buffer.extend_from_slice(&count.to_be_bytes());
        for cell in cells {
            self.cell(cell);
        }
    }

    fn field(&mut self, bytes: &[u8]) {
        let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
        self.buffer.extend_from_slice(&len.to_be_bytes());
        self.buffer.extend_from_slice(bytes);
    }

    fn cell(&mut self, cell: &Cell) {
        match cell {
            Cell::Null => self.buffer.extend_from_slice(&(-1i32).to_be_bytes()),
            Cell::Int4(v) | Cell::Date(v) => self.field(&v.to_be_bytes()),
            Cell::Int8(v) | Cell::Timestamptz(v) => self.field(&v.to_be_bytes()),
            Cell::Float8(v) => self.field(&v.to_be_bytes()),
            Cell::Bool(v) => self.field(&[u8::from(*v)]),
            Cell::Text(v) => self.field(v.as_bytes()),
            Cell::Json(v) => {
                let len = i32::try_from(v.len() + 1).unwrap_or(i32::MAX);
                self.buffer.extend_from_slice(&len.to_be_bytes());
                self.buffer.push(1); // jsonb binary format version
                self.buffer.extend_from_slice(v.as_bytes());
            }
            Cell::Geometry(wkb) => self.field(wkb),
        }
    }

    /// Bytes collected so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    /// True when nothing (not even the header) is buffered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// Takes the buffered bytes, leaving an empty buffer (no header: it is written once).
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::replace(&mut self.buffer, Vec::with_capacity(1 << 20))
    }

    /// Appends the trailer and returns the rest.
    #[must_use]
    pub fn finish(mut self) -> Vec<u8> {
        self.buffer.extend_from_slice(&(-1i16).to_be_bytes());
        self.buffer
    }
}

/// Adds an SRID to little- or big-endian (ISO or extended) WKB, making it PostGIS EWKB.
#[must_use]
pub fn wkb_with_srid(wkb: &[u8], srid: i32) -> Option<Vec<u8>> {
    const SRID_FLAG: u32 = 0x2000_0000;
    let (&order, rest) = wkb.split_first()?;
    let type_bytes: [u8; 4] = rest.get(..4)?.try_into().ok()?;
    let little = order == 1;
    let kind = if little {
        u32::from_le_bytes(type_bytes)
    } else {
        u32::from_be_bytes(type_bytes)
    };
    let mut out = Vec::with_capacity(wkb.len() + 4);
    out.push(order);
    let (kind, srid) = (kind | SRID_FLAG, srid.cast_unsigned());
    if little {
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&srid.to_le_bytes());
    } else {
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&srid.to_be_bytes());
    }
    out.extend_from_slice(rest.get(4..)?);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_rows_and_trailer() {
        let mut e = CopyEncoder::new();
        e.row(&[Cell::Int4(7), Cell::Null, Cell::Text("Ä".to_owned())]);
        let bytes = e.finish();
        assert!(bytes.starts_with(b"PGCOPY\n\xff\r\n\0"));
        let row = &bytes[19..];
        assert_eq!(&row[..2], &3i16.to_be_bytes());
        assert_eq!(&row[2..6], &4i32.to_be_bytes());
        assert_eq!(&row[6..10], &7i32.to_be_bytes());
        assert_eq!(&row[10..14], &(-1i32).to_be_bytes());
        assert_eq!(&row[14..18], &2i32.to_be_bytes());
        assert_eq!(&row[18..20], "Ä".as_bytes());
        assert_eq!(&row[20..], &(-1i16).to_be_bytes());
    }

    #[test]
    fn dates_count_from_2000() {
        let d = chrono::NaiveDate::from_ymd_opt(2000, 1, 2).unwrap();
        assert_eq!(Cell::date(d), Cell::Date(1));
        assert_eq!(
            Cell::timestamp_micros(946_684_800_000_001),
            Cell::Timestamptz(1)
        );
    }

    #[test]
    fn srid_goes_after_the_type() {
        // POINT(1 2), little endian.
        let mut wkb = vec![1, 1, 0, 0, 0];
        wkb.extend_from_slice(&1f64.to_le_bytes());
        wkb.extend_from_slice(&2f64.to_le_bytes());
        let ewkb = wkb_with_srid(&wkb, 25832).unwrap();
        assert_eq!(&ewkb[1..5], &0x2000_0001u32.to_le_bytes());
        assert_eq!(&ewkb[5..9], &25832u32.to_le_bytes());
        assert_eq!(&ewkb[9..], &wkb[5..]);
    }
}
