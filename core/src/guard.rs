//! Requests refused before any handler sees them, decided here once: a path or query that holds
//! a control character or bytes that are not UTF-8 once percent-decoded. So no handler, no
//! extractor and no SQL statement ever receives such text, and the answer is always the same
//! 400 problem — never a 500 from somewhere deeper.
//!
//! In the query, tab and line breaks are allowed (a CQL2 filter may span lines); in the path
//! nothing below U+0020 and no DEL.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use percent_encoding::percent_decode_str;

use crate::problem::Problem;

/// Middleware: 400 for a malformed path or query.
pub async fn refuse_malformed(request: Request, next: Next) -> Response {
    if let Some(reason) = malformed(request.uri()) {
        return Problem::bad_request(reason).into_response();
    }
    next.run(request).await
}

/// Why the address is refused, if it is.
#[must_use]
pub fn malformed(uri: &axum::http::Uri) -> Option<String> {
    check(uri.path(), "path", false).or_else(|| {
        uri.query()
            .and_then(|q| check(&q.replace('+', " "), "query", true))
    })
}

fn check(raw: &str, part: &str, whitespace_allowed: bool) -> Option<String> {
    let bytes: Vec<u8> = percent_decode_str(raw).collect();
    let control = bytes.iter().find(|&&b| {
        (b < 0x20 || b == 0x7f) && !(whitespace_allowed && matches!(b, b'\t' | b'\n' | b'\r'))
    });
    if let Some(b) = control {
        return Some(format!(
            "the {part} of the address contains the control character U+{b:04X}, which no resource or parameter of this server accepts"
        ));
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Some(format!(
            "the {part} of the address is not valid UTF-8 once percent-decoded"
        ));
    };
    // Also C1 controls (U+0080–U+009F), which are valid UTF-8.
    if let Some(c) = text.chars().find(|c| ('\u{80}'..='\u{9f}').contains(c)) {
        return Some(format!(
            "the {part} of the address contains the control character U+{:04X}",
            u32::from(c)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::malformed;

    fn m(uri: &str) -> Option<String> {
        malformed(&uri.parse().unwrap())
    }

    #[test]
    fn control_characters_and_invalid_utf8_are_refused() {
        assert!(m("/plans/%00/dokumente/%00").unwrap().contains("U+0000"));
        assert!(m("/collections/a%1Fb").unwrap().contains("U+001F"));
        assert!(m("/collections/x?f=%00").unwrap().contains("query"));
        assert!(m("/collections/x?f=%7F").is_some());
        assert!(m("/collections/%C2%85").unwrap().contains("U+0085"));
        assert!(m("/collections/%FF%FE").unwrap().contains("UTF-8"));
        assert!(m("/collections/x?q=%C3").unwrap().contains("UTF-8"));
    }

    #[test]
    fn ordinary_addresses_pass() {
        assert!(
            m("/collections/gebaeude/items?filter=name%20LIKE%20%27M%C3%BC%25%27&limit=5")
                .is_none()
        );
        assert!(m("/opendata/stra%C3%9Fen").is_none());
        assert!(
            m("/x?filter=a%3D1%0AAND%09b%3D2").is_none(),
            "line breaks in a CQL2 filter"
        );
    }
}
