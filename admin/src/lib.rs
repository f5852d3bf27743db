//! The staff back office at `/admin`: sign-in (password, then the second factor; or single
//! sign-on), the dashboard of what waits for the signed-in person, their account (password,
//! second factor), the accounts and roles (`admin`), the audit log (`admin`), and the publish
//! switches of collections and aerial-imagery epochs (`editor`).
//!
//! What it deliberately does not do: the pages of other areas (the dataset editor, the
//! defect-report queue, petition moderation) live in their crates and join the navigation and
//! the dashboard through [`stadtkarte_core::backoffice`]; authentication itself (sessions,
//! guards, throttling) is in [`stadtkarte_core::auth`], so those crates can use it too.

mod account;
mod audit_log;
mod catalog;
mod dashboard;
mod oidc;
mod signin;
mod staff;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use stadtkarte_core::AppState;
use stadtkarte_core::auth::Role;
use stadtkarte_core::backoffice::Section;

/// The routes of the back office; registers its own sections.
pub fn router(state: AppState) -> Router {
    state.backoffice.add(Section {
        role: Role::Admin,
        href: "/admin/benutzer",
        label_key: "admin.users",
        widgets: Some(std::sync::Arc::new(|state, staff| {
            Box::pin(dashboard::admin_widgets(state, staff))
        })),
    });
    state.backoffice.add(Section {
        role: Role::Admin,
        href: "/admin/audit",
        label_key: "admin.audit",
        widgets: None,
    });
    state.backoffice.add(Section {
        role: Role::Editor,
        href: "/admin/sammlungen",
        label_key: "admin.collections",
        widgets: Some(std::sync::Arc::new(|state, staff| {
            Box::pin(dashboard::editor_widgets(state, staff))
        })),
    });
    Router::new()
        .route("/admin", get(dashboard::page))
        .route("/admin/login", get(signin::form).post(signin::submit))
        .route(
            "/admin/login/code",
            get(signin::code_form).post(signin::code_submit),
        )
        .route(
            "/admin/login/einrichten",
            get(signin::enrol_form).post(signin::enrol_submit),
        )
        .route("/admin/login/sso", get(oidc::start))
        .route("/admin/login/sso/zurueck", get(oidc::callback))
        .route("/admin/logout", post(signin::logout))
        .route("/admin/konto", get(account::page))
        .route("/admin/konto/passwort", post(account::password))
        .route("/admin/konto/zweiter-faktor", post(account::totp_start))
        .route(
            "/admin/konto/zweiter-faktor/bestaetigen",
            post(account::totp_confirm),
        )
        .route("/admin/benutzer", get(staff::list).post(staff::add))
        .route("/admin/benutzer/{id}/rollen", post(staff::set_roles))
        .route("/admin/benutzer/{id}/sperren", post(staff::disable))
        .route("/admin/audit", get(audit_log::page))
        .route("/admin/sammlungen", get(catalog::page))
        .route("/admin/sammlungen/{id}", post(catalog::switch_collection))
        .route("/admin/luftbilder/{id}", post(catalog::switch_epoch))
        .with_state(state)
}

/// Every route of this crate with the role it needs (`None`: any signed-in person; the
/// sign-in pages themselves are not listed). The authorisation test walks this list.
pub const ROUTES: &[(&str, &str, Option<Role>)] = &[
    ("GET", "/admin", None),
    ("GET", "/admin/konto", None),
    ("POST", "/admin/konto/passwort", None),
    ("POST", "/admin/konto/zweiter-faktor", None),
    ("GET", "/admin/benutzer", Some(Role::Admin)),
    ("POST", "/admin/benutzer", Some(Role::Admin)),
    ("POST", "/admin/benutzer/999/rollen", Some(Role::Admin)),
    ("POST", "/admin/benutzer/999/sperren", Some(Role::Admin)),
    ("GET", "/admin/audit", Some(Role::Admin)),
    ("GET", "/admin/sammlungen", Some(Role::Editor)),
    ("POST", "/admin/sammlungen/gebaeude", Some(Role::Editor)),
    (
        "POST",
        "/admin/luftbilder/luftbild-2023",
        Some(Role::Editor),
    ),
];

/// A redirect after a form (303 See Other), with a cookie when one is given.
fn see_other(to: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response();
    if let Some(c) = cookie {
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// The request id of a request, for the audit log.
fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Where to go after signing in: only a path of this site's back office.
fn safe_next(next: &str) -> String {
    let ok = next.starts_with("/admin")
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if ok {
        next.to_owned()
    } else {
        "/admin".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn sign_in_only_returns_into_the_back_office() {
        assert_eq!(safe_next("/admin/benutzer?x=1"), "/admin/benutzer?x=1");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/map",
            "/admin\\..",
            "",
        ] {
            assert_eq!(safe_next(bad), "/admin", "{bad}");
        }
    }
}
