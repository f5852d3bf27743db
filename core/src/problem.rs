//! RFC 9457 problem details: the one place where errors become HTTP responses.
//!
//! Every module has its own error enum and converts it into a [`Problem`]; handlers return
//! `Result<_, Problem>`. A problem is written as `application/problem+json`; the
//! [`html_for_browsers`] middleware turns it into an HTML page when the client is a browser.
//! Internal details (SQL, paths) are logged, never sent.

use std::sync::Arc;

use askama::Template;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::negotiate::prefers_html;
use crate::page::{Page, PageContext};

/// Media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem detail.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary, the same for every occurrence of this kind.
    pub title: String,
    /// HTTP status code.
    #[serde(with = "status_code")]
    pub status: StatusCode,
    /// What went wrong this time, for the person reading it.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub detail: String,
    /// Seconds after which a retry may succeed (`Retry-After`; 503 and 429 always carry one).
    #[serde(skip)]
    pub retry_after_secs: Option<u32>,
    /// Extension members of this kind of problem (RFC 9457 §3.2), e.g. `missing` of `/ready`.
    #[serde(flatten, default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

/// `Retry-After` of a 503 that does not name its own.
pub const DEFAULT_RETRY_AFTER_SECS: u32 = 5;

impl Problem {
    /// A problem with `about:blank` as its type.
    pub fn new(status: StatusCode, title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank".to_owned(),
            title: title.into(),
            status,
            detail: detail.into(),
            retry_after_secs: None,
            extensions: serde_json::Map::new(),
        }
    }

    /// The same problem with an extension member.
    #[must_use]
    pub fn with(mut self, name: &str, value: serde_json::Value) -> Self {
        self.extensions.insert(name.to_owned(), value);
        self
    }

    /// The same problem, with a `Retry-After` of `secs` seconds.
    #[must_use]
    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// 429: too many requests from this client; try again after `secs` seconds.
    pub fn too_many_requests(detail: impl Into<String>, secs: u32) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Zu viele Anfragen / too many requests",
            detail,
        )
        .retry_after(secs)
    }

    /// 413: the request body is larger than allowed.
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Anfrage zu groß / content too large",
            detail,
        )
    }

    /// 400: the request is malformed or names something unknown.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Ungültige Anfrage / bad request",
            detail,
        )
    }

    /// 404: nothing is here.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Nicht gefunden / not found", detail)
    }

    /// 503: a dependency (the database) is not available right now.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Vorübergehend nicht verfügbar / service unavailable",
            detail,
        )
    }

    /// 500: a fault of ours. `cause` is logged; the client learns only that it happened.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Interner Fehler / internal error",
            "The server could not answer this request; the fault has been logged.",
        )
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.title,
            self.detail
        )
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        let retry = match self.status {
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => {
                Some(self.retry_after_secs.unwrap_or(DEFAULT_RETRY_AFTER_SECS))
            }
            _ => self.retry_after_secs,
        };
        if let Some(secs) = retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Fallback for routes that do not exist.
pub async fn not_found(request: Request) -> Problem {
    Problem::not_found(format!("There is no resource at {}", request.uri().path()))
}

/// Middleware: an error answer that is not a problem yet — axum's rejections of a malformed
/// query, path or body (plain text), the body limit's 413, a malformed chunked body — becomes
/// one, in this one place. Its text is kept as the detail (it names the parameter and never
/// holds server internals); a 5xx text is logged and replaced.
pub async fn errors_as_problems(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let is_plain = content_type.is_empty() || content_type.starts_with("text/plain");
    if !is_plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let detail = if status.is_server_error() {
        if !text.is_empty() {
            tracing::error!(status = status.as_u16(), body = %text, "plain-text error answer");
        }
        String::new()
    } else {
        text
    };
    let title = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "Anfrage zu groß / content too large",
        StatusCode::NOT_FOUND => "Nicht gefunden / not found",
        StatusCode::METHOD_NOT_ALLOWED => "Methode nicht erlaubt / method not allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Falscher Inhaltstyp / unsupported media type",
        StatusCode::REQUEST_TIMEOUT => "Zeitüberschreitung / request timeout",
        StatusCode::SERVICE_UNAVAILABLE => "Vorübergehend nicht verfügbar / service unavailable",
        s if s.is_server_error() => "Interner Fehler / internal error",
        _ => "Ungültige Anfrage / bad request",
    };
    let mut problem = Problem::new(status, title, detail);
    if let Some(secs) = parts
        .headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
    {
        problem = problem.retry_after(secs);
    }
    let mut response = problem.into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

/// Middleware: a browser that receives a problem gets it as an HTML page instead, in the
/// layout of every page and in the language of the request.
pub async fn html_for_browsers(
    State(config): State<Arc<Config>>,
    request: Request,
    next: Next,
) -> Response {
    let wants_html = prefers_html(request.headers());
    let context = wants_html.then(|| PageContext::new(request.uri(), request.headers()));
    let response = next.run(request).await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    let Some(context) = context.filter(|_| is_problem) else {
        return response;
    };
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, 64 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(problem) = serde_json::from_slice::<Problem>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    // The page's heading in its language; the problem's own title (API text) otherwise.
    let title = crate::i18n::tr_opt(
        context.lang,
        &format!("problem.titles.{}", problem.status.as_u16()),
    )
    .map_or_else(|| problem.title.clone(), str::to_owned);
    let page = ProblemPage {
        page: context.page(&config, title),
        status: problem.status.as_u16(),
        detail: &problem.detail,
    };
    let Ok(html) = page.render() else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(html))
}

/// A problem as a page: its title as the heading, the status and the detail.
#[derive(Template)]
#[template(path = "problem.html")]
struct ProblemPage<'a> {
    page: Page,
    status: u16,
    detail: &'a str,
}

mod status_code {
    use axum::http::StatusCode;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` signature
    pub(super) fn serialize<S: Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(status.as_u16())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<StatusCode, D::Error> {
        StatusCode::from_u16(u16::deserialize(d)?).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_page_is_in_the_layout_and_escapes_the_detail() {
        let headers = axum::http::HeaderMap::new();
        let uri: axum::http::Uri = "/x?lang=en".parse().unwrap();
        let page = ProblemPage {
            page: PageContext::new(&uri, &headers).page(&Config::default(), "Not found"),
            status: 404,
            detail: "<script>alert(1)</script>",
        }
        .render()
        .unwrap();
        assert!(
            page.starts_with("<!doctype html>\n<html lang=\"en\">"),
            "{page}"
        );
        assert!(
            page.contains("<main id=\"inhalt\">\n<h1>Not found</h1>"),
            "{page}"
        );
        assert!(page.contains("Error 404. &#60;script&#62;"), "{page}");
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("href=\"/x?lang=de\""), "the switch: {page}");
    }

    #[test]
    fn serialises_as_rfc9457() {
        let json = serde_json::to_value(Problem::bad_request("limit must be positive")).unwrap();
        assert_eq!(json["status"], 400);
        assert_eq!(json["type"], "about:blank");
        assert_eq!(json["detail"], "limit must be positive");
    }
}
