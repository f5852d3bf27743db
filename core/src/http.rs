//! The behaviour every route shares, applied once around the composed router: request ids,
//! request logging, metrics, refusal of malformed addresses, the body size limit and read
//! timeout, every error as a problem (HTML for browsers), the language choice of the pages
//! (`Vary`, the `lang` cookie), and the 404 fallback.

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, header};
use axum::middleware;
use tower_http::cors::{Any, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::config::Config;
use crate::telemetry;
use crate::{guard, i18n, problem};

/// Whether the request's `If-None-Match` names `etag` (RFC 9110 §13.1.2: a list, weak
/// comparison, `*`), so the answer can be 304 Not Modified.
#[must_use]
pub fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let wanted = strip(etag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || strip(t) == wanted)
}

/// The base of absolute links: `server.public_url` when set; otherwise the address the client
/// used (its `Host` header), so that links work on any port without configuration.
#[must_use]
pub fn base_url(config: &Config, headers: &HeaderMap) -> String {
    if !config.server.public_url.is_empty() {
        return config.base_url();
    }
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                })
        })
        .map_or_else(|| config.base_url(), |host| format!("http://{host}"))
}

/// Header carrying the request id (taken from the client when given, else generated).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Open data is for every web page: any origin may read (CORS).
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allow_headers(Any)
        .expose_headers([
            header::ETAG,
            header::LINK,
            HeaderName::from_static("content-crs"),
        ])
}

/// The Content-Security-Policy of every HTML page: nothing inline, nothing from elsewhere
/// (MapLibre needs `blob:` workers; QR codes of the second factor are `data:` images).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; worker-src 'self' blob:; child-src 'self' blob:; connect-src 'self'; \
    font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'";

/// Middleware: security headers on every answer (`X-Content-Type-Options`, `Referrer-Policy`),
/// the Content-Security-Policy on HTML pages, and no caching of the back office.
async fn security_headers(
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let staff_area = request.uri().path().starts_with("/admin");
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    if is_html {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    if staff_area {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Middleware: the request id travels with the handler, so every audit entry it writes names
/// the request (`audit::current_request`).
async fn request_id_for_the_audit_log(
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    crate::audit::in_request(id, next.run(request)).await
}

/// Middleware: a state-changing request (not GET, HEAD or OPTIONS) to the back office, or one
/// that carries a staff session cookie, must come from our own origin (`Origin`, or without
/// one `Referer`). Public APIs (CQL2 POST, CKAN, Open311) stay open to other origins.
async fn refuse_cross_origin_changes(
    axum::extract::State(config): axum::extract::State<std::sync::Arc<Config>>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let staff = request.uri().path().starts_with("/admin")
        || crate::auth::session::token_of(&config, request.headers()).is_some();
    if !safe && staff && !crate::auth::same_origin(&config, request.headers()) {
        tracing::warn!(path = request.uri().path(), "cross-origin change refused");
        return axum::response::IntoResponse::into_response(problem::Problem::new(
            axum::http::StatusCode::FORBIDDEN,
            "Fremde Herkunft / cross-origin request",
            "Changes are accepted only from this site's own pages.",
        ));
    }
    next.run(request).await
}

/// Wraps the composed router of all crates.
pub fn finish(router: Router, config: &std::sync::Arc<Config>) -> Router {
    // Install the metrics recorder before the first request is counted.
    telemetry::metrics_handle();
    // Layers run bottom-up on the way in: the request id is set first, so logs carry it; the
    // malformed address is refused before any handler runs; whatever error answer comes back
    // becomes a problem, and a problem becomes a page for browsers.
    router
        .fallback(problem::not_found)
        .layer(DefaultBodyLimit::max(config.server.max_body_bytes))
        .layer(RequestBodyTimeoutLayer::new(Duration::from_secs(
            config.server.body_timeout_secs.max(1),
        )))
        .layer(middleware::from_fn(problem::errors_as_problems))
        .layer(middleware::from_fn_with_state(
            config.clone(),
            refuse_cross_origin_changes,
        ))
        .layer(middleware::from_fn(guard::refuse_malformed))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(request_id_for_the_audit_log))
        .layer(middleware::from_fn_with_state(
            config.clone(),
            problem::html_for_browsers,
        ))
        .layer(middleware::from_fn(i18n::remember_choice))
        .layer(middleware::from_fn(telemetry::track_requests))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %request.method(), uri = %request.uri(), request_id = %id)
            }),
        )
        .layer(cors())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, value.parse().expect("header"));
        h
    }

    #[test]
    fn if_none_match_lists_weak_tags_and_star() {
        assert!(not_modified(&with("\"a\""), "\"a\""));
        assert!(not_modified(&with("\"x\", W/\"a\""), "\"a\""));
        assert!(not_modified(&with("*"), "\"a\""));
        assert!(!not_modified(&with("\"b\""), "\"a\""));
        assert!(!not_modified(&HeaderMap::new(), "\"a\""));
    }
}
