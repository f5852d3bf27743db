//! The dataset registry in the back office (`editor`): what `stadtkarte dataset` does, in the
//! browser — list, add, edit (titles, descriptions, keywords, themes, licence, attribution,
//! frequency, the collections and epochs it publishes), remove. Every change goes through
//! [`crate::registry`] (the same checks as the command line) and is audited with the state
//! before and after.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use stadtkarte_core::auth::{self, Role};
use stadtkarte_core::backoffice::{Section, Shell, Widget};
use stadtkarte_core::db::DbError;
use stadtkarte_core::page::{Page, PageContext, html};
use stadtkarte_core::{AppState, Problem, catalog, imagery};

use crate::registry::{self, Dataset, DatasetInput, Defaults, FREQUENCIES, LICENSES, THEMES};

/// The back-office section of this crate.
#[must_use]
pub fn section() -> Section {
    Section {
        role: Role::Editor,
        href: "/admin/datensaetze",
        label_key: "admin.datasets",
        widgets: Some(std::sync::Arc::new(|state, staff| {
            Box::pin(widgets(state, staff))
        })),
    }
}

async fn widgets(state: AppState, _staff: auth::Staff) -> Result<Vec<Widget>, Problem> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let all = registry::list(&**client).await?;
    let empty = all
        .iter()
        .filter(|d| d.collections.is_empty() && d.imagery.is_empty())
        .count();
    Ok(vec![
        Widget {
            label_key: "admin.widget_datasets",
            count: i64::try_from(all.len()).unwrap_or(0),
            href: "/admin/datensaetze".to_owned(),
            note: String::new(),
        },
        Widget {
            label_key: "admin.widget_datasets_empty",
            count: i64::try_from(empty).unwrap_or(0),
            href: "/admin/datensaetze".to_owned(),
            note: String::new(),
        },
    ])
}

/// A row of the list.
#[derive(Debug)]
pub struct Row {
    id: String,
    title: String,
    parts: String,
    license: String,
}

#[derive(Template)]
#[template(path = "admin_datasets.html")]
struct List {
    page: Page,
    shell: Shell,
    datasets: Vec<Row>,
    available: String,
    message: String,
}

/// An option of a select.
#[derive(Debug)]
pub struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// The fields of the edit form, as text.
#[derive(Debug)]
pub struct Fields {
    id: String,
    title: String,
    title_en: String,
    description: String,
    description_en: String,
    keywords: String,
    themes: String,
    license: String,
    attribution: String,
    frequency: String,
    collections: String,
    imagery: String,
}

impl From<&Dataset> for Fields {
    fn from(d: &Dataset) -> Self {
        Self {
            id: d.id.clone(),
            title: d.title.clone(),
            title_en: d.title_en.clone().unwrap_or_default(),
            description: d.description.clone(),
            description_en: d.description_en.clone().unwrap_or_default(),
            keywords: d.keywords.join(", "),
            themes: d.themes.join(", "),
            license: d
                .license
                .strip_prefix(registry::LICENSE_PREFIX)
                .unwrap_or(&d.license)
                .to_owned(),
            attribution: d.attribution.clone(),
            frequency: d.accrual_periodicity.clone(),
            collections: d.collections.join(", "),
            imagery: d.imagery.join(", "),
        }
    }
}

#[derive(Template)]
#[template(path = "admin_dataset.html")]
struct Edit {
    page: Page,
    shell: Shell,
    d: Fields,
    licenses: Vec<Choice>,
    frequencies: Vec<Choice>,
    themes: String,
    available: String,
    message: String,
    error: String,
}

async fn available(
    client: &impl stadtkarte_core::tokio_postgres::GenericClient,
) -> Result<String, Problem> {
    let mut names: Vec<String> = catalog::list(client)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    names.extend(
        imagery::list_all(client)
            .await?
            .into_iter()
            .map(|(e, _)| e.id),
    );
    Ok(names.join(", "))
}

async fn render_list(
    state: &AppState,
    ctx: &PageContext,
    staff: &auth::Staff,
    message: String,
) -> Result<Response, Problem> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let datasets = registry::list(&**client)
        .await?
        .into_iter()
        .map(|d| Row {
            parts: d
                .collections
                .iter()
                .chain(&d.imagery)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            license: registry::license_name(&d.license).to_owned(),
            id: d.id,
            title: d.title,
        })
        .collect();
    html(&List {
        page: ctx.page(&state.config, ctx.lang.tr("admin.datasets").to_owned()),
        shell: Shell::of(state, staff),
        datasets,
        available: available(&**client).await?,
        message,
    })
}

async fn render_edit(
    state: &AppState,
    ctx: &PageContext,
    staff: &auth::Staff,
    fields: Fields,
    message: String,
    error: String,
) -> Result<Response, Problem> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let choice = |value: &str, label: &str, current: &str| Choice {
        value: value.to_owned(),
        label: label.to_owned(),
        selected: value == current,
    };
    let licenses = LICENSES
        .iter()
        .map(|(id, name)| choice(id, name, &fields.license))
        .collect();
    let frequencies = FREQUENCIES
        .iter()
        .map(|f| choice(f, f, &fields.frequency))
        .collect();
    let title = format!("{} – {}", ctx.lang.tr("admin.dataset"), fields.title);
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut response = html(&Edit {
        page: ctx
            .page(&state.config, title)
            .crumb(ctx.lang.tr("admin.datasets"), "/admin/datensaetze"),
        shell: Shell::of(state, staff),
        available: available(&**client).await?,
        d: fields,
        licenses,
        frequencies,
        themes: THEMES.join(", "),
        message,
        error,
    })?;
    *response.status_mut() = status;
    Ok(response)
}

/// `GET /admin/datensaetze`
pub async fn list(
    State(state): State<AppState>,
    ctx: PageContext,
    auth::Editor(staff): auth::Editor,
) -> Result<Response, Problem> {
    render_list(&state, &ctx, &staff, String::new()).await
}

/// `GET /admin/datensaetze/{id}`
pub async fn edit(
    State(state): State<AppState>,
    ctx: PageContext,
    auth::Editor(staff): auth::Editor,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let d = registry::get(&**client, &id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("There is no dataset {id:?}.")))?;
    drop(client);
    render_edit(
        &state,
        &ctx,
        &staff,
        Fields::from(&d),
        String::new(),
        String::new(),
    )
    .await
}

fn list_of(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// The edit form.
#[derive(Debug, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    title: String,
    #[serde(default)]
    title_en: String,
    description: String,
    #[serde(default)]
    description_en: String,
    #[serde(default)]
    keywords: String,
    #[serde(default)]
    themes: String,
    license: String,
    attribution: String,
    frequency: String,
    #[serde(default)]
    collections: String,
    #[serde(default)]
    imagery: String,
}

/// `POST /admin/datensaetze/{id}`
pub async fn update(
    State(state): State<AppState>,
    ctx: PageContext,
    auth::Editor(staff): auth::Editor,
    Path(id): Path<String>,
    Form(form): Form<EditForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let input = DatasetInput {
        title: Some(form.title.trim().to_owned()),
        title_en: Some(form.title_en.trim().to_owned()),
        description: Some(form.description.trim().to_owned()),
        description_en: Some(form.description_en.trim().to_owned()),
        keywords: Some(list_of(&form.keywords)),
        themes: Some(list_of(&form.themes)),
        license: optional(&form.license),
        attribution: optional(&form.attribution),
        accrual_periodicity: optional(&form.frequency),
        collections: Some(list_of(&form.collections)),
        imagery: Some(list_of(&form.imagery)),
        ..DatasetInput::default()
    };
    let actor = format!("staff:{}", staff.id);
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("changing a dataset"))?;
    let before = registry::get(&*tx, &id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("There is no dataset {id:?}.")))?;
    match registry::update(&*tx, &id, &input, &actor).await {
        Ok(after) => {
            tx.commit()
                .await
                .map_err(DbError::query("changing a dataset"))?;
            render_edit(
                &state,
                &ctx,
                &staff,
                Fields::from(&after),
                ctx.lang.tr("admin.saved").to_owned(),
                String::new(),
            )
            .await
        }
        Err(registry::RegistryError::Db(e)) => Err(e.into()),
        Err(e) => {
            drop(tx);
            let mut fields = Fields::from(&before);
            fields.title = form.title;
            fields.description = form.description;
            fields.collections = form.collections;
            fields.imagery = form.imagery;
            render_edit(&state, &ctx, &staff, fields, String::new(), e.to_string()).await
        }
    }
}

/// The form of a new dataset.
#[derive(Debug, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    id: String,
    title: String,
    description: String,
    #[serde(default)]
    collections: String,
}

/// `POST /admin/datensaetze`
pub async fn add(
    State(state): State<AppState>,
    ctx: PageContext,
    auth::Editor(staff): auth::Editor,
    Form(form): Form<AddForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let input = DatasetInput {
        title: optional(&form.title),
        description: optional(&form.description),
        collections: Some(list_of(&form.collections)),
        ..DatasetInput::default()
    };
    let defaults = defaults(&state);
    let actor = format!("staff:{}", staff.id);
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("adding a dataset"))?;
    match registry::add(&*tx, form.id.trim(), &input, &defaults, &actor).await {
        Ok(d) => {
            tx.commit()
                .await
                .map_err(DbError::query("adding a dataset"))?;
            Ok(crate::admin::see_other(&format!(
                "/admin/datensaetze/{}",
                d.id
            )))
        }
        Err(registry::RegistryError::Db(e)) => Err(e.into()),
        Err(e) => {
            drop(tx);
            let mut r = render_list(&state, &ctx, &staff, e.to_string()).await?;
            *r.status_mut() = StatusCode::BAD_REQUEST;
            Ok(r)
        }
    }
}

/// A form with only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/datensaetze/{id}/entfernen` (its collections stay).
pub async fn remove(
    State(state): State<AppState>,
    ctx: PageContext,
    auth::Editor(staff): auth::Editor,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let actor = format!("staff:{}", staff.id);
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("removing a dataset"))?;
    registry::remove(&*tx, &id, &actor).await?;
    tx.commit()
        .await
        .map_err(DbError::query("removing a dataset"))?;
    render_list(
        &state,
        &ctx,
        &staff,
        ctx.lang.tr("admin.removed").to_owned(),
    )
    .await
}

fn defaults(state: &AppState) -> Defaults {
    let c = &state.config.city;
    Defaults {
        publisher_name: c.attribution.clone(),
        publisher_url: Some(c.publisher_url.clone()).filter(|u| !u.is_empty()),
        contact_name: c.contact_name.clone(),
        contact_email: c.contact_email.clone(),
        contributor_id: c.contributor_id.clone(),
        political_geocoding: c.political_geocoding.clone(),
        political_geocoding_level: c.political_geocoding_level.clone(),
    }
}

fn see_other(to: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(axum::http::header::LOCATION, to.to_owned())],
    )
        .into_response()
}

/// Every route of this module with the role it needs (for the authorisation test).
pub const ROUTES: &[(&str, &str, Option<Role>)] = &[
    ("GET", "/admin/datensaetze", Some(Role::Editor)),
    ("POST", "/admin/datensaetze", Some(Role::Editor)),
    ("GET", "/admin/datensaetze/gebaeude", Some(Role::Editor)),
    ("POST", "/admin/datensaetze/gebaeude", Some(Role::Editor)),
    (
        "POST",
        "/admin/datensaetze/gebaeude/entfernen",
        Some(Role::Editor),
    ),
];
