//! Signing in: e-mail and password (the same answer for an unknown address and a wrong
//! password, throttled per account and per client), then — where the role requires it or the
//! person has one — the second factor (a TOTP code or a recovery code), enrolled on the spot
//! when it is required but not set up yet. Only then a session starts, always a new one.

use askama::Template;
use axum::extract::{Extension, Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use stadtkarte_core::auth::{self, Role, Staff, session, throttle, totp, users};
use stadtkarte_core::client::{self, Peer};
use stadtkarte_core::db::DbError;
use stadtkarte_core::page::{Page, PageContext, html};
use stadtkarte_core::{AppState, Problem, audit};

use crate::{request_id, safe_next, see_other};

/// How long the second step of a sign-in may take.
const PENDING_MINUTES: i32 = 10;

#[derive(Template)]
#[template(path = "login.html")]
struct Login {
    page: Page,
    error: String,
    email: String,
    next: String,
    next_encoded: String,
    oidc: Option<String>,
}

#[derive(Template)]
#[template(path = "code.html")]
struct Code {
    page: Page,
    /// Empty during sign-in (no session yet: the origin check guards the form).
    csrf: String,
    error: String,
    action: String,
    /// (otpauth URI, QR code PNG in base64, secret) while enrolling.
    enrol: Option<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "recovery.html")]
struct Recovery {
    page: Page,
    codes: Vec<String>,
    next: String,
}

/// `?next=`
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

fn encode(text: &str) -> String {
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

fn login_page(
    state: &AppState,
    ctx: &PageContext,
    error: String,
    email: String,
    next: &str,
) -> Login {
    let next = safe_next(next);
    let page = ctx.page(&state.config, ctx.lang.tr("admin.login_title").to_owned());
    let oidc = state
        .config
        .auth
        .oidc
        .enabled
        .then(|| state.config.auth.oidc.label.clone());
    Login {
        page,
        error,
        email,
        next_encoded: encode(&next),
        next,
        oidc,
    }
}

fn with_status(
    status: StatusCode,
    response: Result<Response, Problem>,
) -> Result<Response, Problem> {
    response.map(|mut r| {
        *r.status_mut() = status;
        r
    })
}

/// `GET /admin/login`
pub async fn form(
    State(state): State<AppState>,
    ctx: PageContext,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    if let Some(token) = session::token_of(&state.config, &headers)
        && auth::staff_of(&state, &token).await?.is_some()
    {
        return Ok(see_other(&safe_next(&q.next), None));
    }
    html(&login_page(
        &state,
        &ctx,
        String::new(),
        String::new(),
        &q.next,
    ))
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Whether `roles` need the second factor (`admin` always does).
fn needs_totp(state: &AppState, roles: &[(Role, Option<String>)]) -> bool {
    roles.iter().any(|(r, _)| {
        *r == Role::Admin
            || state
                .config
                .auth
                .totp_required_for
                .iter()
                .any(|n| n == r.as_str())
    })
}

fn too_many(
    state: &AppState,
    ctx: &PageContext,
    email: String,
    next: &str,
    wait: u32,
) -> Result<Response, Problem> {
    let error = ctx
        .lang
        .tr("admin.too_many")
        .replace("{}", &wait.to_string());
    let mut response = with_status(
        StatusCode::TOO_MANY_REQUESTS,
        html(&login_page(state, ctx, error, email, next)),
    )?;
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait.max(1)));
    Ok(response)
}

/// `POST /admin/login`
pub async fn submit(
    State(state): State<AppState>,
    ctx: PageContext,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, Problem> {
    let email = form.email.trim().to_lowercase();
    let client = state.pool.get().await.map_err(DbError::from)?;
    let client_hash = client::hash(
        &**client,
        peer.map(|p| p.0),
        &headers,
        &state.config.auth.trusted_proxies,
    )
    .await?;
    let (account_key, client_key) = (
        throttle::account_key(&email),
        throttle::client_key(&client_hash),
    );
    let keys = [account_key.as_str(), client_key.as_str()];
    let wait = throttle::wait_secs(&**client, &keys).await?;
    if wait > 0 {
        return too_many(&state, &ctx, email, &form.next, wait);
    }
    let user = users::by_email(&**client, &email).await.ok();
    let (hash, _, _, _) = match &user {
        Some(u) => users::credentials(&**client, u.id)
            .await
            .map_err(db_problem)?,
        None => (None, None, 0, Vec::new()),
    };
    let usable = user.as_ref().is_some_and(|u| !u.disabled);
    // No database connection is held while the hash is computed: a flood of sign-ins must not
    // take the pool from the map.
    drop(client);
    let right = state
        .hasher
        .verify(&form.password, if usable { hash.as_deref() } else { None })
        .await?;
    let request = request_id(&headers);
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("starting a sign-in"))?;
    let Some(user) = user.filter(|_| right) else {
        let subject = user_subject(&*tx, &email, &account_key).await;
        throttle::failed(&*tx, &state.config.auth, &keys).await?;
        audit::append(
            &*tx,
            &audit::Entry {
                actor: "anonym",
                action: "auth.sign_in_failed",
                subject: &subject,
                details: serde_json::json!({"client": client_key}),
                request_id: request.as_deref(),
                ..audit::Entry::default()
            },
        )
        .await?;
        tx.commit()
            .await
            .map_err(DbError::query("recording a failed sign-in"))?;
        let error = ctx.lang.tr("admin.wrong_credentials").to_owned();
        return with_status(
            StatusCode::UNAUTHORIZED,
            html(&login_page(&state, &ctx, error, email, &form.next)),
        );
    };
    throttle::succeeded(&*tx, &account_key).await?;
    // A session that came with the request ends: every sign-in gets a new one.
    if let Some(old) = session::token_of(&state.config, &headers) {
        session::end(&*tx, &old).await?;
    }
    let second = needs_totp(&state, &user.roles) || user.totp_enabled;
    let token = session::create(&*tx, &state.config, user.id, second, false).await?;
    if !second {
        append(&*tx, user.id, "auth.sign_in", request.as_deref()).await?;
    }
    tx.commit()
        .await
        .map_err(DbError::query("starting a session"))?;
    let cookie = Some(session::set_cookie(&state.config, Some(&token)));
    let next = encode(&safe_next(&form.next));
    Ok(if !second {
        see_other(&safe_next(&form.next), cookie)
    } else if user.totp_enabled {
        see_other(&format!("/admin/login/code?next={next}"), cookie)
    } else {
        see_other(&format!("/admin/login/einrichten?next={next}"), cookie)
    })
}

/// The audit subject of a failed sign-in: the account by id when it exists, else the hashed
/// address (never the address itself).
async fn user_subject(
    client: &impl stadtkarte_core::tokio_postgres::GenericClient,
    email: &str,
    account_key: &str,
) -> String {
    match users::by_email(client, email).await {
        Ok(u) => format!("user:{}", u.id),
        Err(_) => account_key.to_owned(),
    }
}

fn db_problem(e: users::UserError) -> Problem {
    match e {
        users::UserError::Db(db) => db.into(),
        users::UserError::NotFound => Problem::not_found("There is no such account."),
        other => Problem::bad_request(other.to_string()),
    }
}

async fn append(
    client: &impl stadtkarte_core::tokio_postgres::GenericClient,
    user: i64,
    action: &str,
    request: Option<&str>,
) -> Result<(), Problem> {
    let subject = format!("user:{user}");
    audit::append(
        client,
        &audit::Entry {
            actor: &subject,
            action,
            subject: &subject,
            details: serde_json::json!({}),
            request_id: request,
            ..audit::Entry::default()
        },
    )
    .await?;
    Ok(())
}

/// The account of a half-done sign-in (password right, second factor to come).
async fn pending(state: &AppState, headers: &HeaderMap) -> Result<Option<(i64, String)>, Problem> {
    let Some(token) = session::token_of(&state.config, headers) else {
        return Ok(None);
    };
    let client = state.pool.get().await.map_err(DbError::from)?;
    let row = client
        .query_opt(
            "SELECT u.id, u.email FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.pending_totp AND NOT u.disabled
               AND s.created_at > now() - make_interval(mins => $2)",
            &[&session::token_hash(&token), &PENDING_MINUTES],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("reading a sign-in")(e)))?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

fn restart(next: &str) -> Response {
    see_other(
        &format!("/admin/login?next={}", encode(&safe_next(next))),
        None,
    )
}

/// `GET /admin/login/code`
pub async fn code_form(
    State(state): State<AppState>,
    ctx: PageContext,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    if pending(&state, &headers).await?.is_none() {
        return Ok(restart(&q.next));
    }
    let page = ctx.page(&state.config, ctx.lang.tr("admin.code_title").to_owned());
    html(&Code {
        page,
        csrf: String::new(),
        error: String::new(),
        action: format!("/admin/login/code?next={}", encode(&safe_next(&q.next))),
        enrol: None,
    })
}

/// The second-factor form.
#[derive(Debug, Deserialize)]
pub struct CodeForm {
    code: String,
}

/// Finishes a sign-in: the half-done session ends, a complete one starts.
async fn complete(
    state: &AppState,
    client: &mut stadtkarte_core::db::PooledClient,
    headers: &HeaderMap,
    user: i64,
    action: &str,
) -> Result<HeaderValue, Problem> {
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("finishing a sign-in"))?;
    if let Some(old) = session::token_of(&state.config, headers) {
        session::end(&*tx, &old).await?;
    }
    let token = session::create(&*tx, &state.config, user, false, false).await?;
    append(&*tx, user, action, request_id(headers).as_deref()).await?;
    tx.commit()
        .await
        .map_err(DbError::query("finishing a sign-in"))?;
    Ok(session::set_cookie(&state.config, Some(&token)))
}

/// `POST /admin/login/code`: a TOTP code (each accepted once) or a recovery code.
pub async fn code_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Query(q): Query<NextQuery>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, Problem> {
    let Some((user, email)) = pending(&state, &headers).await? else {
        return Ok(restart(&q.next));
    };
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let client_hash = client::hash(
        &**client,
        peer.map(|p| p.0),
        &headers,
        &state.config.auth.trusted_proxies,
    )
    .await?;
    let (account_key, client_key) = (
        throttle::account_key(&email),
        throttle::client_key(&client_hash),
    );
    let keys = [account_key.as_str(), client_key.as_str()];
    let wait = throttle::wait_secs(&**client, &keys).await?;
    let action = format!("/admin/login/code?next={}", encode(&safe_next(&q.next)));
    let code_page = |error: String| Code {
        page: ctx.page(&state.config, ctx.lang.tr("admin.code_title").to_owned()),
        csrf: String::new(),
        error,
        action: action.clone(),
        enrol: None,
    };
    if wait > 0 {
        let error = ctx
            .lang
            .tr("admin.too_many")
            .replace("{}", &wait.to_string());
        let mut r = with_status(StatusCode::TOO_MANY_REQUESTS, html(&code_page(error)))?;
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return Ok(r);
    }
    let (_, secret, last_step, _) = users::credentials(&**client, user)
        .await
        .map_err(db_problem)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let by_totp = match secret
        .as_deref()
        .and_then(|s| totp::check(s, &form.code, last_step, now))
    {
        Some(step) => users::use_totp_step(&**client, user, step)
            .await
            .map_err(db_problem)?,
        None => false,
    };
    let accepted = by_totp
        || users::use_recovery_code(&**client, user, &totp::recovery_hash(&form.code))
            .await
            .map_err(db_problem)?;
    if !accepted {
        throttle::failed(&**client, &state.config.auth, &keys).await?;
        append(
            &**client,
            user,
            "auth.second_factor_failed",
            request_id(&headers).as_deref(),
        )
        .await?;
        return with_status(
            StatusCode::UNAUTHORIZED,
            html(&code_page(ctx.lang.tr("admin.wrong_code").to_owned())),
        );
    }
    let action = if by_totp {
        "auth.sign_in"
    } else {
        "auth.sign_in_recovery_code"
    };
    let cookie = complete(&state, &mut client, &headers, user, action).await?;
    Ok(see_other(&safe_next(&q.next), Some(cookie)))
}

/// `GET /admin/login/einrichten`: the second factor is required but not set up yet.
pub async fn enrol_form(
    State(state): State<AppState>,
    ctx: PageContext,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let Some((user, email)) = pending(&state, &headers).await? else {
        return Ok(restart(&q.next));
    };
    let client = state.pool.get().await.map_err(DbError::from)?;
    let (_, secret, _, _) = users::credentials(&**client, user)
        .await
        .map_err(db_problem)?;
    let secret = if let Some(s) = secret {
        s
    } else {
        let s = totp::new_secret();
        users::set_totp_secret(&**client, user, &s)
            .await
            .map_err(db_problem)?;
        s
    };
    html(&enrol_page(
        &state,
        &ctx,
        &q.next,
        &email,
        &secret,
        String::new(),
    ))
}

pub(crate) fn issuer(state: &AppState) -> String {
    format!("Stadtkarte {}", state.config.city.name)
}

fn enrol_page(
    state: &AppState,
    ctx: &PageContext,
    next: &str,
    email: &str,
    secret: &str,
    error: String,
) -> Code {
    let enrol = totp::enrolment(secret, email, &issuer(state))
        .map(|(uri, qr)| (uri, qr, secret.to_owned()));
    Code {
        page: ctx.page(&state.config, ctx.lang.tr("admin.enrol_title").to_owned()),
        csrf: String::new(),
        error,
        action: format!("/admin/login/einrichten?next={}", encode(&safe_next(next))),
        enrol,
    }
}

/// `POST /admin/login/einrichten`: the first code confirms the new second factor; the
/// recovery codes are shown once.
pub async fn enrol_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, Problem> {
    let Some((user, email)) = pending(&state, &headers).await? else {
        return Ok(restart(&q.next));
    };
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let (_, secret, _, _) = users::credentials(&**client, user)
        .await
        .map_err(db_problem)?;
    let Some(secret) = secret else {
        return Ok(see_other(
            &format!(
                "/admin/login/einrichten?next={}",
                encode(&safe_next(&q.next))
            ),
            None,
        ));
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let Some(step) = totp::check(&secret, &form.code, 0, now) else {
        let page = enrol_page(
            &state,
            &ctx,
            &q.next,
            &email,
            &secret,
            ctx.lang.tr("admin.wrong_code").to_owned(),
        );
        return with_status(StatusCode::UNAUTHORIZED, html(&page));
    };
    let (codes, hashes) = totp::recovery_codes();
    users::enable_totp(&**client, user, step, &hashes)
        .await
        .map_err(db_problem)?;
    append(
        &**client,
        user,
        "auth.totp_enabled",
        request_id(&headers).as_deref(),
    )
    .await?;
    let cookie = complete(&state, &mut client, &headers, user, "auth.sign_in").await?;
    let mut response = html(&Recovery {
        page: ctx.page(
            &state.config,
            ctx.lang.tr("admin.recovery_title").to_owned(),
        ),
        codes,
        next: safe_next(&q.next),
    })?;
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/logout`: the session ends on the server.
pub async fn logout(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let client = state.pool.get().await.map_err(DbError::from)?;
    client
        .execute(
            "DELETE FROM auth.sessions WHERE token_hash = $1",
            &[&staff.session],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("ending a session")(e)))?;
    append(
        &**client,
        staff.id,
        "auth.sign_out",
        request_id(&headers).as_deref(),
    )
    .await?;
    Ok(see_other(
        "/admin/login",
        Some(session::set_cookie(&state.config, None)),
    )
    .into_response())
}
