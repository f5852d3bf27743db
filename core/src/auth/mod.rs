//! Staff authentication and authorisation, in one place for every crate that has staff pages:
//! accounts ([`users`]), passwords ([`password`]), the second factor ([`totp`]), sessions
//! ([`session`]), sign-in throttling ([`throttle`]), and the guards that routes declare.
//!
//! A route states the role it needs by taking one of the guard extractors: [`Admin`],
//! [`Triage`], [`Moderator`], [`Editor`] (or [`Staff`] for any signed-in person). `admin`
//! passes every guard. Without a valid session a browser is sent to `/admin/login`, a program
//! gets a 401 problem; with the wrong role, a 403 problem. State-changing requests of staff
//! must carry the session's CSRF token ([`Staff::check_csrf`]) and come from our own origin
//! ([`same_origin`], checked for every such request by [`crate::http`]).

pub mod password;
pub mod session;
pub mod throttle;
pub mod totp;
pub mod users;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::config::Config;
use crate::db::DbError;
use crate::negotiate::prefers_html;
use crate::problem::Problem;
use crate::state::AppState;

/// The roles of staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Everything, including accounts and categories.
    Admin,
    /// Defect reports of one department.
    Triage,
    /// Petitions.
    Moderator,
    /// Open data and imports.
    Editor,
}

impl Role {
    /// Every role.
    pub const ALL: [Self; 4] = [Self::Admin, Self::Triage, Self::Moderator, Self::Editor];

    /// The role's name (as stored and in the command line).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Triage => "triage",
            Self::Moderator => "moderator",
            Self::Editor => "editor",
        }
    }

    /// A role by name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name.trim())
    }

    /// `admin`, `moderator`, `editor` or `triage:DEPARTMENT`.
    pub fn parse_with_department(text: &str) -> Result<(Self, Option<String>), String> {
        let (name, department) = match text.split_once(':') {
            Some((n, d)) => (n, Some(d.trim().to_owned())),
            None => (text, None),
        };
        let role = Self::parse(name).ok_or_else(|| {
            format!("unknown role {name:?}; roles: admin, triage:DEPARTMENT, moderator, editor")
        })?;
        Ok((role, department.filter(|d| !d.is_empty())))
    }
}

/// A signed-in member of staff (a valid, complete session).
#[derive(Debug, Clone)]
pub struct Staff {
    /// Account id.
    pub id: i64,
    /// Sign-in name.
    pub email: String,
    /// Name shown to colleagues.
    pub name: String,
    /// Roles with the department of each triage role.
    pub roles: Vec<(Role, Option<String>)>,
    /// The session's CSRF token, to put into every form.
    pub csrf: String,
    /// The session's token hash (to end it).
    pub session: Vec<u8>,
}

impl Staff {
    /// Whether the person has `role` (`admin` has every role).
    #[must_use]
    pub fn has(&self, role: Role) -> bool {
        self.roles
            .iter()
            .any(|(r, _)| *r == role || *r == Role::Admin)
    }

    /// The departments whose reports the person triages (every one for `admin`: `None`).
    #[must_use]
    pub fn departments(&self) -> Option<Vec<String>> {
        if self.roles.iter().any(|(r, _)| *r == Role::Admin) {
            return None;
        }
        Some(self.roles.iter().filter_map(|(_, d)| d.clone()).collect())
    }

    /// 403 unless the person has `role`.
    pub fn require(&self, role: Role) -> Result<(), Problem> {
        if self.has(role) {
            Ok(())
        } else {
            // A security event for the log (ASVS 7.2.2), without personal data.
            tracing::warn!(staff = self.id, needed = role.as_str(), "access denied");
            Err(Problem::new(
                StatusCode::FORBIDDEN,
                "Keine Berechtigung / forbidden",
                format!("This needs the role {}.", role.as_str()),
            ))
        }
    }

    /// 403 unless `token` is the session's CSRF token (compared in constant time).
    pub fn check_csrf(&self, token: &str) -> Result<(), Problem> {
        let same: bool =
            subtle::ConstantTimeEq::ct_eq(self.csrf.as_bytes(), token.as_bytes()).into();
        if same && !token.is_empty() {
            Ok(())
        } else {
            tracing::warn!(staff = self.id, "form refused: CSRF token missing or wrong");
            Err(Problem::new(
                StatusCode::FORBIDDEN,
                "Ungültiges Formular / invalid form",
                "The form is outdated or did not come from this site; reload the page and try again.",
            ))
        }
    }
}

/// Why a request has no staff: no (valid) session, or the database is away.
#[derive(Debug)]
pub enum NoStaff {
    /// Not signed in: a browser goes to the sign-in page, a program gets 401.
    SignIn {
        /// Where to return after signing in.
        next: String,
        /// The client prefers HTML.
        html: bool,
    },
    /// Another problem (database away: 503).
    Problem(Problem),
}

impl IntoResponse for NoStaff {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn { next, html: true } => {
                let to = format!("/admin/login?next={}", percent_encode(&next));
                Redirect::to(&to).into_response()
            }
            Self::SignIn { html: false, .. } => Problem::new(
                StatusCode::UNAUTHORIZED,
                "Anmeldung nötig / sign-in required",
                "Sign in at /admin/login first.",
            )
            .into_response(),
            Self::Problem(p) => p.into_response(),
        }
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The staff of a session token, if the session is valid and complete; refreshes its idle time.
pub async fn staff_of(state: &AppState, token: &str) -> Result<Option<Staff>, Problem> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let hash = session::token_hash(token);
    let idle = i32::try_from(state.config.auth.session_idle_minutes.max(1)).unwrap_or(30);
    let row = client
        .query_opt(
            "WITH s AS (
                 UPDATE auth.sessions SET last_seen = now()
                 WHERE token_hash = $1 AND NOT pending_totp AND expires_at > now()
                   AND last_seen > now() - make_interval(mins => $2)
                 RETURNING user_id, csrf_token)
             SELECT u.id, u.email, u.display_name, s.csrf_token,
                    coalesce(array_agg(r.role) FILTER (WHERE r.role IS NOT NULL), '{}'),
                    coalesce(array_agg(coalesce(r.department, '')) FILTER (WHERE r.role IS NOT NULL), '{}')
             FROM s JOIN auth.users u ON u.id = s.user_id AND NOT u.disabled
             LEFT JOIN auth.roles r ON r.user_id = u.id
             GROUP BY u.id, u.email, u.display_name, s.csrf_token",
            &[&hash, &idle],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("reading a session")(e)))?;
    let Some(row) = row else {
        // Expired or idle too long: it is gone for good (a sign-in waiting for its second
        // factor stays until it completes or runs out).
        let _ = client
            .execute(
                "DELETE FROM auth.sessions WHERE expires_at < now() OR (token_hash = $1 AND NOT pending_totp)",
                &[&hash],
            )
            .await;
        return Ok(None);
    };
    let roles: Vec<String> = row.get(4);
    let departments: Vec<String> = row.get(5);
    Ok(Some(Staff {
        id: row.get(0),
        email: row.get(1),
        name: row.get(2),
        csrf: row.get(3),
        roles: roles
            .iter()
            .zip(departments)
            .filter_map(|(r, d)| Role::parse(r).map(|r| (r, Some(d).filter(|d| !d.is_empty()))))
            .collect(),
        session: hash,
    }))
}

impl<S> FromRequestParts<S> for Staff
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = NoStaff;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(staff) = parts.extensions.get::<Self>() {
            return Ok(staff.clone());
        }
        let app = AppState::from_ref(state);
        let next = parts
            .uri
            .path_and_query()
            .map_or("/admin".to_owned(), |p| p.as_str().to_owned());
        let sign_in = NoStaff::SignIn {
            next,
            html: prefers_html(&parts.headers),
        };
        let Some(token) = session::token_of(&app.config, &parts.headers) else {
            return Err(sign_in);
        };
        match staff_of(&app, &token).await {
            Ok(Some(staff)) => {
                parts.extensions.insert(staff.clone());
                Ok(staff)
            }
            Ok(None) => Err(sign_in),
            Err(p) => Err(NoStaff::Problem(p)),
        }
    }
}

macro_rules! guard {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Staff);

        impl<S> FromRequestParts<S> for $name
        where
            AppState: FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = NoStaff;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
                let staff = Staff::from_request_parts(parts, state).await?;
                staff.require($role).map_err(NoStaff::Problem)?;
                Ok(Self(staff))
            }
        }
    };
}

guard!(
    /// A route for `admin`.
    Admin,
    Role::Admin
);
guard!(
    /// A route for `triage` (of any department; the handler filters by department).
    Triage,
    Role::Triage
);
guard!(
    /// A route for `moderator`.
    Moderator,
    Role::Moderator
);
guard!(
    /// A route for `editor`.
    Editor,
    Role::Editor
);

/// The origin this server is reached at, as the client used it: `server.public_url` or
/// `http://` plus `Host`.
#[must_use]
pub fn own_origin(config: &Config, headers: &HeaderMap) -> String {
    crate::http::base_url(config, headers)
        .trim_end_matches('/')
        .to_owned()
}

/// Whether a state-changing request comes from our own pages: its `Origin` (or, without one,
/// its `Referer`) is our origin. A request with neither is refused.
#[must_use]
pub fn same_origin(config: &Config, headers: &HeaderMap) -> bool {
    let own = own_origin(config, headers);
    let origin_of = |url: &str| -> String {
        let rest = url.split_once("://").map_or("", |(_, r)| r);
        let host = rest.split('/').next().unwrap_or_default();
        let scheme = url.split("://").next().unwrap_or_default();
        format!("{scheme}://{host}")
    };
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        return origin == own;
    }
    headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|r| origin_of(r) == own)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn roles_parse_with_departments() {
        assert_eq!(
            Role::parse_with_department("triage:tiefbau").unwrap(),
            (Role::Triage, Some("tiefbau".to_owned()))
        );
        assert_eq!(
            Role::parse_with_department("admin").unwrap(),
            (Role::Admin, None)
        );
        assert!(Role::parse_with_department("chef").is_err());
    }

    #[test]
    fn only_our_own_origin_may_change_things() {
        let config = Config::default();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!same_origin(&config, &h), "neither Origin nor Referer");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&config, &h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&config, &h));
        h.remove(header::ORIGIN);
        h.insert(
            header::REFERER,
            HeaderValue::from_static("http://127.0.0.1:8080/admin/benutzer"),
        );
        assert!(same_origin(&config, &h));
        h.insert(
            header::REFERER,
            HeaderValue::from_static("http://127.0.0.1:8080.evil.example/x"),
        );
        assert!(!same_origin(&config, &h));
    }
}
