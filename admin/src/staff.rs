//! `/admin/benutzer` (`admin`): the accounts — add, change roles, disable or enable. Every
//! change ends the person's sessions where it matters and is audited (without e-mail or name).

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use stadtkarte_core::auth::{self, Role, session, users};
use stadtkarte_core::backoffice::Shell;
use stadtkarte_core::db::DbError;
use stadtkarte_core::page::{Page, PageContext, html};
use stadtkarte_core::{AppState, Problem, audit};

use crate::request_id;

/// One row of the list.
pub struct Row {
    id: i64,
    name: String,
    email: String,
    roles: String,
    roles_input: String,
    totp: bool,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    page: Page,
    shell: Shell,
    users: Vec<Row>,
    departments: String,
    message: String,
    error: String,
}

fn roles_text(roles: &[(Role, Option<String>)]) -> String {
    roles
        .iter()
        .map(|(r, d)| {
            d.as_ref()
                .map_or_else(|| r.as_str().to_owned(), |d| format!("{}:{d}", r.as_str()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn render(
    state: &AppState,
    ctx: &PageContext,
    staff: &auth::Staff,
    message: String,
    error: String,
    status: StatusCode,
) -> Result<Response, Problem> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let users: Vec<Row> = users::list(&**client)
        .await
        .map_err(Problem::internal)?
        .into_iter()
        .map(|u| Row {
            id: u.id,
            name: u.display_name,
            email: u.email,
            roles: roles_text(&u.roles),
            roles_input: roles_text(&u.roles),
            totp: u.totp_enabled,
            disabled: u.disabled,
        })
        .collect();
    let departments: Vec<String> = client
        .query("SELECT id FROM auth.departments ORDER BY id", &[])
        .await
        .map_err(|e| Problem::from(DbError::query("listing departments")(e)))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut r = html(&UsersPage {
        page: ctx.page(&state.config, ctx.lang.tr("admin.users").to_owned()),
        shell: Shell::of(state, staff),
        users,
        departments: departments.join(", "),
        message,
        error,
    })?;
    *r.status_mut() = status;
    Ok(r)
}

/// `GET /admin/benutzer`
pub async fn list(
    State(state): State<AppState>,
    ctx: PageContext,
    auth::Admin(staff): auth::Admin,
) -> Result<Response, Problem> {
    render(
        &state,
        &ctx,
        &staff,
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

fn parse_roles(text: &str) -> Result<Vec<(Role, Option<String>)>, String> {
    text.split([' ', ','])
        .filter(|t| !t.is_empty())
        .map(Role::parse_with_department)
        .collect()
}

async fn record(
    client: &impl stadtkarte_core::tokio_postgres::GenericClient,
    staff: &auth::Staff,
    action: &str,
    user: i64,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    headers: &HeaderMap,
) -> Result<(), Problem> {
    let subject = format!("user:{user}");
    audit::append(
        client,
        &audit::Entry {
            actor: &format!("staff:{}", staff.id),
            action,
            subject: &subject,
            details: serde_json::json!({}),
            before,
            after,
            request_id: request_id(headers).as_deref(),
            ..audit::Entry::default()
        },
    )
    .await?;
    Ok(())
}

/// The form for a new account.
#[derive(Debug, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    email: String,
    name: String,
    #[serde(default)]
    roles: String,
    password: String,
}

/// `POST /admin/benutzer`
pub async fn add(
    State(state): State<AppState>,
    ctx: PageContext,
    auth::Admin(staff): auth::Admin,
    headers: HeaderMap,
    Form(form): Form<AddForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let bad = |error: String| {
        render(
            &state,
            &ctx,
            &staff,
            String::new(),
            error,
            StatusCode::BAD_REQUEST,
        )
    };
    let email = match users::normal_email(&form.email) {
        Ok(e) => e,
        Err(e) => return bad(e.to_string()).await,
    };
    let roles = match parse_roles(&form.roles) {
        Ok(r) => r,
        Err(e) => return bad(e).await,
    };
    if let Some(reason) = auth::password::refusal(&form.password, &email) {
        return bad(reason.to_owned()).await;
    }
    let hash = state.hasher.hash(&form.password).await?;
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("adding an account"))?;
    let id = match users::add(&*tx, &email, &form.name, Some(&hash)).await {
        Ok(id) => id,
        Err(users::UserError::Db(e)) => return Err(e.into()),
        Err(e) => return bad(e.to_string()).await,
    };
    if let Err(e) = users::set_roles(&*tx, id, &roles).await {
        return bad(e.to_string()).await;
    }
    record(
        &*tx,
        &staff,
        "user.add",
        id,
        None,
        Some(serde_json::json!({"roles": roles_text(&roles)})),
        &headers,
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("adding an account"))?;
    render(
        &state,
        &ctx,
        &staff,
        ctx.lang.tr("admin.user_added").to_owned(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// The roles form.
#[derive(Debug, Deserialize)]
pub struct RolesForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    roles: String,
}

/// `POST /admin/benutzer/{id}/rollen`: the person's sessions end (their rights changed).
pub async fn set_roles(
    State(state): State<AppState>,
    ctx: PageContext,
    auth::Admin(staff): auth::Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<RolesForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let id: i64 = id
        .parse()
        .map_err(|_| Problem::not_found("There is no such account."))?;
    let roles = match parse_roles(&form.roles) {
        Ok(r) => r,
        Err(e) => {
            return render(
                &state,
                &ctx,
                &staff,
                String::new(),
                e,
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("changing roles"))?;
    let before = match users::get(&*tx, id).await {
        Ok(u) => u.roles,
        Err(users::UserError::NotFound) => {
            return Err(Problem::not_found("There is no such account."));
        }
        Err(e) => return Err(Problem::internal(e)),
    };
    if let Err(e) = users::set_roles(&*tx, id, &roles).await {
        return render(
            &state,
            &ctx,
            &staff,
            String::new(),
            e.to_string(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    if id != staff.id {
        session::end_all(&*tx, id).await?;
    }
    record(
        &*tx,
        &staff,
        "user.set_roles",
        id,
        Some(serde_json::json!({"roles": roles_text(&before)})),
        Some(serde_json::json!({"roles": roles_text(&roles)})),
        &headers,
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("changing roles"))?;
    render(
        &state,
        &ctx,
        &staff,
        ctx.lang.tr("admin.roles_changed").to_owned(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// The disable form.
#[derive(Debug, Deserialize)]
pub struct DisableForm {
    #[serde(default)]
    csrf: String,
    disable: bool,
}

/// `POST /admin/benutzer/{id}/sperren`
pub async fn disable(
    State(state): State<AppState>,
    ctx: PageContext,
    auth::Admin(staff): auth::Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DisableForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let id: i64 = id
        .parse()
        .map_err(|_| Problem::not_found("There is no such account."))?;
    if id == staff.id && form.disable {
        return render(
            &state,
            &ctx,
            &staff,
            String::new(),
            ctx.lang.tr("admin.not_yourself").to_owned(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("disabling an account"))?;
    match users::set_disabled(&*tx, id, form.disable).await {
        Ok(()) => {}
        Err(users::UserError::NotFound) => {
            return Err(Problem::not_found("There is no such account."));
        }
        Err(e) => return Err(Problem::internal(e)),
    }
    session::end_all(&*tx, id).await?;
    record(
        &*tx,
        &staff,
        if form.disable {
            "user.disable"
        } else {
            "user.enable"
        },
        id,
        None,
        None,
        &headers,
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("disabling an account"))?;
    let message = if form.disable {
        ctx.lang.tr("admin.user_disabled")
    } else {
        ctx.lang.tr("admin.user_enabled")
    };
    render(
        &state,
        &ctx,
        &staff,
        message.to_owned(),
        String::new(),
        StatusCode::OK,
    )
    .await
}
