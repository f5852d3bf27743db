//! `/admin/konto`: the signed-in person's own account — a new password (the current one is
//! asked again) and the second factor (set up, or renewed with new recovery codes).

use askama::Template;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use stadtkarte_core::auth::{Staff, password, totp, users};
use stadtkarte_core::backoffice::Shell;
use stadtkarte_core::db::DbError;
use stadtkarte_core::page::{Page, PageContext, html};
use stadtkarte_core::{AppState, Problem, audit};

use crate::request_id;

#[derive(Template)]
#[template(path = "account.html")]
struct Account {
    page: Page,
    shell: Shell,
    email: String,
    roles: String,
    totp: bool,
    message: String,
    error: String,
}

#[derive(Template)]
#[template(path = "code.html")]
struct EnrolPage {
    page: Page,
    csrf: String,
    error: String,
    action: String,
    enrol: Option<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "recovery.html")]
struct Recovery {
    page: Page,
    codes: Vec<String>,
    next: String,
}

fn roles_text(staff: &Staff) -> String {
    staff
        .roles
        .iter()
        .map(|(r, d)| {
            d.as_ref()
                .map_or_else(|| r.as_str().to_owned(), |d| format!("{}:{d}", r.as_str()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn account_page(
    state: &AppState,
    ctx: &PageContext,
    staff: &Staff,
    message: String,
    error: String,
) -> Result<Response, Problem> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let user = users::get(&**client, staff.id)
        .await
        .map_err(Problem::internal)?;
    html(&Account {
        page: ctx.page(&state.config, ctx.lang.tr("admin.account").to_owned()),
        shell: Shell::of(state, staff),
        email: user.email,
        roles: roles_text(staff),
        totp: user.totp_enabled,
        message,
        error,
    })
}

/// `GET /admin/konto`
pub async fn page(
    State(state): State<AppState>,
    ctx: PageContext,
    staff: Staff,
) -> Result<Response, Problem> {
    account_page(&state, &ctx, &staff, String::new(), String::new()).await
}

/// The password form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current: String,
    new: String,
}

/// `POST /admin/konto/passwort`
pub async fn password(
    State(state): State<AppState>,
    ctx: PageContext,
    staff: Staff,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let client = state.pool.get().await.map_err(DbError::from)?;
    let (hash, _, _, _) = users::credentials(&**client, staff.id)
        .await
        .map_err(Problem::internal)?;
    drop(client);
    if !state.hasher.verify(&form.current, hash.as_deref()).await? {
        let mut r = account_page(
            &state,
            &ctx,
            &staff,
            String::new(),
            ctx.lang.tr("admin.wrong_current").to_owned(),
        )
        .await?;
        *r.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(r);
    }
    if let Some(reason) = password::refusal(&form.new, &staff.email) {
        let mut r = account_page(&state, &ctx, &staff, String::new(), reason.to_owned()).await?;
        *r.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(r);
    }
    let new_hash = state.hasher.hash(&form.new).await?;
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("changing a password"))?;
    users::set_password(&*tx, staff.id, &new_hash)
        .await
        .map_err(Problem::internal)?;
    // Other sessions of this account end; this one stays.
    tx.execute(
        "DELETE FROM auth.sessions WHERE user_id = $1 AND token_hash <> $2",
        &[&staff.id, &staff.session],
    )
    .await
    .map_err(|e| Problem::from(DbError::query("ending other sessions")(e)))?;
    let subject = format!("user:{}", staff.id);
    audit::append(
        &*tx,
        &audit::Entry {
            actor: &format!("staff:{}", staff.id),
            action: "user.password_changed",
            subject: &subject,
            details: serde_json::json!({}),
            request_id: request_id(&headers).as_deref(),
            ..audit::Entry::default()
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("changing a password"))?;
    account_page(
        &state,
        &ctx,
        &staff,
        ctx.lang.tr("admin.password_changed").to_owned(),
        String::new(),
    )
    .await
}

/// A form with only the CSRF token (and a code).
#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// `POST /admin/konto/zweiter-faktor`: a new secret to enrol (the current factor stays valid
/// until the new one is confirmed).
pub async fn totp_start(
    State(state): State<AppState>,
    ctx: PageContext,
    staff: Staff,
    Form(form): Form<CodeForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let secret = totp::new_secret();
    pending_secrets().insert(staff.session.clone(), secret.clone());
    let enrol = totp::enrolment(&secret, &staff.email, &crate::signin::issuer(&state))
        .map(|(u, q)| (u, q, secret.clone()));
    html(&EnrolPage {
        page: ctx.page(&state.config, ctx.lang.tr("admin.enrol_title").to_owned()),
        csrf: staff.csrf.clone(),
        error: String::new(),
        action: "/admin/konto/zweiter-faktor/bestaetigen".to_owned(),
        enrol,
    })
}

/// Secrets being enrolled, by session (kept in memory for ten minutes: a restart means
/// starting the enrolment again).
fn pending_secrets() -> &'static enrolling::Pending {
    static P: std::sync::OnceLock<enrolling::Pending> = std::sync::OnceLock::new();
    P.get_or_init(enrolling::Pending::default)
}

mod enrolling {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// Session hash → (secret, since).
    #[derive(Debug, Default)]
    pub struct Pending(Mutex<HashMap<Vec<u8>, (String, Instant)>>);

    impl Pending {
        pub fn insert(&self, key: Vec<u8>, secret: String) {
            if let Ok(mut m) = self.0.lock() {
                m.retain(|_, (_, since)| since.elapsed() < Duration::from_mins(10));
                m.insert(key, (secret, Instant::now()));
            }
        }

        pub fn take(&self, key: &[u8]) -> Option<String> {
            self.0
                .lock()
                .ok()?
                .remove(key)
                .filter(|(_, since)| since.elapsed() < Duration::from_mins(10))
                .map(|(s, _)| s)
        }
    }
}

/// `POST /admin/konto/zweiter-faktor/bestaetigen`: the first code of the new secret.
pub async fn totp_confirm(
    State(state): State<AppState>,
    ctx: PageContext,
    staff: Staff,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let Some(secret) = pending_secrets().take(&staff.session) else {
        return account_page(
            &state,
            &ctx,
            &staff,
            String::new(),
            ctx.lang.tr("admin.enrol_expired").to_owned(),
        )
        .await;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let Some(step) = totp::check(&secret, &form.code, 0, now) else {
        pending_secrets().insert(staff.session.clone(), secret.clone());
        let enrol = totp::enrolment(&secret, &staff.email, &crate::signin::issuer(&state))
            .map(|(u, q)| (u, q, secret.clone()));
        let mut r = html(&EnrolPage {
            page: ctx.page(&state.config, ctx.lang.tr("admin.enrol_title").to_owned()),
            csrf: staff.csrf.clone(),
            error: ctx.lang.tr("admin.wrong_code").to_owned(),
            action: "/admin/konto/zweiter-faktor/bestaetigen".to_owned(),
            enrol,
        })?;
        *r.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(r);
    };
    let (codes, hashes) = totp::recovery_codes();
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("enabling a second factor"))?;
    users::set_totp_secret(&*tx, staff.id, &secret)
        .await
        .map_err(Problem::internal)?;
    users::enable_totp(&*tx, staff.id, step, &hashes)
        .await
        .map_err(Problem::internal)?;
    let subject = format!("user:{}", staff.id);
    audit::append(
        &*tx,
        &audit::Entry {
            actor: &format!("staff:{}", staff.id),
            action: "auth.totp_enabled",
            subject: &subject,
            details: serde_json::json!({}),
            request_id: request_id(&headers).as_deref(),
            ..audit::Entry::default()
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("enabling a second factor"))?;
    html(&Recovery {
        page: ctx.page(
            &state.config,
            ctx.lang.tr("admin.recovery_title").to_owned(),
        ),
        codes,
        next: "/admin/konto".to_owned(),
    })
}
