//! Checks of request values whose type is known, made before any SQL exists, so that what
//! PostgreSQL would refuse is refused here with our own words: dates and timestamps in the
//! range PostgreSQL can store (years 1–9999 — there is no year 0 — and UTC offsets up to
//! ±15:59), and text without NUL characters (which `text` cannot hold).

use chrono::{DateTime, Datelike as _, FixedOffset, NaiveDate};

/// Largest UTC offset PostgreSQL accepts, in seconds (15:59).
const MAX_OFFSET_SECS: i32 = 15 * 3600 + 59 * 60;

/// A calendar date `YYYY-MM-DD` of the years 1–9999.
#[must_use]
pub fn date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| (1..=9999).contains(&d.year()))
}

/// An RFC 3339 timestamp of the years 1–9999 with an offset PostgreSQL accepts.
#[must_use]
pub fn timestamp(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok().filter(|t| {
        (1..=9999).contains(&t.year()) && t.offset().local_minus_utc().abs() <= MAX_OFFSET_SECS
    })
}

/// Text PostgreSQL can store (no NUL character).
#[must_use]
pub fn text_ok(text: &str) -> bool {
    !text.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_timestamps_postgresql_can_store() {
        assert!(date("2024-02-29").is_some());
        assert!(date("0000-01-01").is_none(), "there is no year 0");
        assert!(date("2023-02-29").is_none());
        assert!(date("+12345-01-01").is_none());
        assert!(timestamp("2024-05-01T12:00:00Z").is_some());
        assert!(timestamp("2024-05-01T12:00:00+15:59").is_some());
        assert!(timestamp("2024-05-01T12:00:00+23:59").is_none());
        assert!(timestamp("0000-05-01T12:00:00Z").is_none());
        assert!(text_ok("Müller") && !text_ok("a\0b"));
    }
}
