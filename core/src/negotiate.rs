//! Content negotiation shared by every endpoint.
//!
//! `f=` beats `Accept`; a missing `Accept` or one that only says `*/*` gets the first (machine)
//! format an endpoint offers, never HTML. A browser, which names `text/html` explicitly, gets HTML
//! where it is offered.

use axum::http::{HeaderMap, header};

use crate::problem::Problem;

/// One representation an endpoint can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    /// The value of `f=` that selects it, e.g. `json`.
    pub key: &'static str,
    /// Its media type, e.g. `application/geo+json`.
    pub media_type: &'static str,
}

impl Offer {
    /// JSON.
    pub const JSON: Self = Self {
        key: "json",
        media_type: "application/json",
    };
    /// HTML for browsers.
    pub const HTML: Self = Self {
        key: "html",
        media_type: "text/html",
    };
}

/// Picks one of `offers` (the first is the machine default) for the `f` parameter and `Accept`.
pub fn negotiate(f: Option<&str>, headers: &HeaderMap, offers: &[Offer]) -> Result<Offer, Problem> {
    let Some(default) = offers.first().copied() else {
        return Err(Problem::internal("endpoint offers no format"));
    };
    if let Some(key) = f {
        return offers
            .iter()
            .find(|o| o.key.eq_ignore_ascii_case(key))
            .copied()
            .ok_or_else(|| not_acceptable(&format!("f={key}"), offers));
    }
    let Some(accept) = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(default);
    };
    let mut best: Option<(u16, usize, Offer)> = None;
    for range in parse_accept(accept) {
        if range.q == 0 {
            continue;
        }
        let matched = if range.media == "*/*" {
            Some(default)
        } else {
            offers
                .iter()
                .copied()
                .find(|o| matches(&range.media, o.media_type))
        };
        if let Some(offer) = matched {
            // Higher q wins; a specific type beats a wildcard at the same q; then header order.
            let specific = usize::from(!range.media.contains('*'));
            let better = match best {
                None => true,
                Some((q, s, _)) => range.q > q || (range.q == q && specific > s),
            };
            if better {
                best = Some((range.q, specific, offer));
            }
        }
    }
    best.map(|(_, _, o)| o)
        .ok_or_else(|| not_acceptable(accept, offers))
}

/// True when the request names HTML explicitly and prefers it to JSON (a browser).
#[must_use]
pub fn prefers_html(headers: &HeaderMap) -> bool {
    negotiate(None, headers, &[Offer::JSON, Offer::HTML]).is_ok_and(|o| o == Offer::HTML)
}

struct MediaRange {
    media: String,
    /// Quality in thousandths (RFC 9110 allows three decimals).
    q: u16,
}

fn parse_accept(accept: &str) -> Vec<MediaRange> {
    accept
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let media = pieces.next()?.trim().to_ascii_lowercase();
            if media.is_empty() {
                return None;
            }
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|v| parse_quality(v.trim()))
                .unwrap_or(1000);
            Some(MediaRange { media, q })
        })
        .collect()
}

/// `0.8` → 800; anything that is not a quality value is ignored.
fn parse_quality(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = whole.parse().ok()?;
    let fraction: u16 = format!("{fraction:0<3}").parse().ok()?;
    let q = whole.checked_mul(1000)?.checked_add(fraction)?;
    (q <= 1000).then_some(q)
}

fn matches(range: &str, media_type: &str) -> bool {
    let base = media_type.split(';').next().unwrap_or(media_type).trim();
    if let Some(prefix) = range.strip_suffix("/*") {
        return base.split('/').next() == Some(prefix);
    }
    // `application/json` also accepts the JSON-based types such as `application/geo+json`.
    range == base || (range == "application/json" && base.ends_with("+json"))
}

fn not_acceptable(asked: &str, offers: &[Offer]) -> Problem {
    let list = offers
        .iter()
        .map(|o| format!("{} (f={})", o.media_type, o.key))
        .collect::<Vec<_>>()
        .join(", ");
    Problem::new(
        axum::http::StatusCode::NOT_ACCEPTABLE,
        "Format nicht verfügbar / format not available",
        format!("{asked} cannot be served; available: {list}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const GEOJSON: Offer = Offer {
        key: "json",
        media_type: "application/geo+json",
    };

    fn pick(f: Option<&str>, accept: Option<&str>) -> Result<&'static str, u16> {
        let mut headers = HeaderMap::new();
        if let Some(a) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_str(a).unwrap());
        }
        negotiate(f, &headers, &[GEOJSON, Offer::HTML])
            .map(|o| o.key)
            .map_err(|p| p.status.as_u16())
    }

    type Case<'a> = (Option<&'a str>, Option<&'a str>, Result<&'a str, u16>);

    #[test]
    fn cases() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        let cases: &[Case] = &[
            (None, None, Ok("json")),
            (None, Some("*/*"), Ok("json")),
            (None, Some(browser), Ok("html")),
            (Some("json"), Some(browser), Ok("json")),
            (Some("html"), None, Ok("html")),
            (Some("HTML"), None, Ok("html")),
            (Some("xml"), None, Err(406)),
            (None, Some("application/json"), Ok("json")),
            (None, Some("application/geo+json"), Ok("json")),
            (None, Some("text/*"), Ok("html")),
            (None, Some("image/png"), Err(406)),
            (None, Some("text/html;q=0.5, application/json"), Ok("json")),
            (None, Some("text/html;q=0"), Err(406)),
        ];
        for (f, accept, want) in cases {
            assert_eq!(pick(*f, *accept), *want, "f={f:?} accept={accept:?}");
        }
    }
}
