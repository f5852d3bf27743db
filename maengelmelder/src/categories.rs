//! `/admin/maengel/kategorien` (`admin`): the categories (Open311 services) with their routing
//! to a department, release and notification settings, and their extra questions (Open311
//! attributes). Each change is one audited entry with before and after.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use stadtkarte_core::auth;
use stadtkarte_core::backoffice::Shell;
use stadtkarte_core::db::DbError;
use stadtkarte_core::page::{Page, PageContext, html};
use stadtkarte_core::{Problem, audit};

use crate::Mm;
use crate::model::{self, Category, Choice};

fn db(what: &'static str) -> impl FnOnce(stadtkarte_core::tokio_postgres::Error) -> Problem {
    move |e| Problem::from(DbError::query(what)(e))
}

#[derive(Template)]
#[template(path = "kategorien.html")]
struct Page_ {
    page: Page,
    shell: Shell,
    categories: Vec<Category>,
    departments: Vec<(String, String)>,
    message: String,
}

impl Page_ {
    fn form_id(code: &str) -> String {
        if code.is_empty() {
            "neu".to_owned()
        } else {
            code.to_owned()
        }
    }

    fn choices_text(choices: &[Choice]) -> String {
        choices
            .iter()
            .map(|c| format!("{} | {} | {}", c.key, c.name_de, c.name_en))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

async fn render(
    mm: &Mm,
    ctx: &PageContext,
    staff: &auth::Staff,
    message: String,
) -> Result<Response, Problem> {
    let client = mm.app.pool.get().await.map_err(DbError::from)?;
    let categories = model::categories(&**client, true).await?;
    let departments = client
        .query("SELECT id, name FROM auth.departments ORDER BY name", &[])
        .await
        .map_err(db("listing departments"))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    html(&Page_ {
        page: ctx
            .page(
                &mm.app.config,
                ctx.lang.tr("maengel.admin.categories").to_owned(),
            )
            .crumb(ctx.lang.tr("maengel.admin.queue"), "/admin/maengel"),
        shell: Shell::of(&mm.app, staff),
        categories,
        departments,
        message,
    })
}

/// `GET /admin/maengel/kategorien`
pub async fn page(
    State(mm): State<Mm>,
    ctx: PageContext,
    auth::Admin(staff): auth::Admin,
) -> Result<Response, Problem> {
    render(&mm, &ctx, &staff, String::new()).await
}

/// A category's form.
#[derive(Debug, Deserialize)]
pub struct CategoryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name_de: String,
    #[serde(default)]
    name_en: String,
    #[serde(default)]
    description_de: String,
    #[serde(default)]
    description_en: String,
    #[serde(default)]
    keywords: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    release: String,
    #[serde(default)]
    release_minutes: String,
    #[serde(default)]
    notify: String,
    #[serde(default)]
    active: String,
    #[serde(default)]
    position: String,
}

fn category_json(c: Option<&Category>) -> serde_json::Value {
    c.map_or(serde_json::Value::Null, |c| {
        json!({
            "title_de": c.name_de, "title_en": c.name_en, "description_de": c.description_de,
            "description_en": c.description_en, "keywords": c.keywords, "group": c.group,
            "department": c.department, "release": c.release.as_str(),
            "release_minutes": c.release_minutes, "notify": c.notify, "active": c.active,
            "position": c.position,
        })
    })
}

/// `POST /admin/maengel/kategorien`: creates or changes a category.
pub async fn save(
    State(mm): State<Mm>,
    ctx: PageContext,
    auth::Admin(staff): auth::Admin,
    headers: HeaderMap,
    Form(f): Form<CategoryForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&f.csrf)?;
    let lang = ctx.lang;
    let code = f.code.trim().to_lowercase();
    let valid_code = !code.is_empty()
        && code.len() <= 63
        && code.starts_with(|c: char| c.is_ascii_lowercase())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid_code || f.name_de.trim().is_empty() || f.name_en.trim().is_empty() {
        return Err(Problem::bad_request(
            lang.tr("maengel.admin.category_invalid").to_owned(),
        ));
    }
    if !["review", "delay", "immediate"].contains(&f.release.as_str())
        || !["immediate", "digest"].contains(&f.notify.as_str())
    {
        return Err(Problem::bad_request(
            lang.tr("maengel.admin.category_invalid").to_owned(),
        ));
    }
    let minutes: i32 = f
        .release_minutes
        .trim()
        .parse()
        .unwrap_or(60)
        .clamp(0, 100_000);
    let position: i32 = f.position.trim().parse().unwrap_or(100);
    let keywords: Vec<String> = f
        .keywords
        .split(',')
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .collect();
    let mut client = mm.app.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("saving a category"))?;
    let before = model::category(&*tx, &code).await?;
    tx.execute(
        "INSERT INTO maengel.categories (code, name_de, name_en, description_de, description_en, keywords,
             group_name, department, release, release_minutes, notify, active, position)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (code) DO UPDATE SET name_de = EXCLUDED.name_de, name_en = EXCLUDED.name_en,
             description_de = EXCLUDED.description_de, description_en = EXCLUDED.description_en,
             keywords = EXCLUDED.keywords, group_name = EXCLUDED.group_name, department = EXCLUDED.department,
             release = EXCLUDED.release, release_minutes = EXCLUDED.release_minutes, notify = EXCLUDED.notify,
             active = EXCLUDED.active, position = EXCLUDED.position, updated_at = now()",
        &[
            &code,
            &f.name_de.trim(),
            &f.name_en.trim(),
            &f.description_de.trim(),
            &f.description_en.trim(),
            &keywords,
            &f.group.trim(),
            &f.department,
            &f.release,
            &minutes,
            &f.notify,
            &!f.active.is_empty(),
            &position,
        ],
    )
    .await
    .map_err(|e| {
        tracing::info!(error = %e, "category refused");
        Problem::bad_request(lang.tr("maengel.admin.category_invalid").to_owned())
    })?;
    let after = model::category(&*tx, &code).await?;
    audit::append(
        &*tx,
        &audit::Entry {
            actor: &format!("staff:{}", staff.id),
            action: if before.is_some() {
                "category.update"
            } else {
                "category.create"
            },
            subject: &format!("category:{code}"),
            object: None,
            details: json!({}),
            before: Some(category_json(before.as_ref())),
            after: Some(category_json(after.as_ref())),
            request_id: headers.get("x-request-id").and_then(|v| v.to_str().ok()),
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("saving a category"))?;
    mm.forget_categories();
    drop(client);
    render(&mm, &ctx, &staff, lang.tr("maengel.admin.saved").to_owned()).await
}

/// An extra question's form.
#[derive(Debug, Deserialize)]
pub struct AttributeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    datatype: String,
    #[serde(default)]
    required: String,
    #[serde(default)]
    position: String,
    #[serde(default)]
    description_de: String,
    #[serde(default)]
    description_en: String,
    #[serde(default)]
    help: String,
    /// One value per line: `key | German | English`.
    #[serde(default)]
    choices: String,
    /// Non-empty: remove the question.
    #[serde(default)]
    remove: String,
}

/// `POST /admin/maengel/kategorien/{code}/fragen`: adds, changes or removes a question.
pub async fn save_attribute(
    State(mm): State<Mm>,
    ctx: PageContext,
    auth::Admin(staff): auth::Admin,
    Path(category): Path<String>,
    headers: HeaderMap,
    Form(f): Form<AttributeForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&f.csrf)?;
    let lang = ctx.lang;
    let invalid = || Problem::bad_request(lang.tr("maengel.admin.attribute_invalid").to_owned());
    let code = f.code.trim().to_lowercase();
    let mut choices = Vec::new();
    for line in f.choices.lines().filter(|l| !l.trim().is_empty()) {
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        let [key, de, en] = parts.as_slice() else {
            return Err(invalid());
        };
        if key.is_empty() || de.is_empty() || en.is_empty() {
            return Err(invalid());
        }
        choices.push(json!({"key": key, "name_de": de, "name_en": en}));
    }
    let list = f.datatype.ends_with("valuelist");
    if list == choices.is_empty() && f.remove.is_empty() {
        return Err(invalid());
    }
    let mut client = mm.app.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("saving a question"))?;
    let before = model::category(&*tx, &category)
        .await?
        .ok_or_else(|| Problem::not_found(format!("There is no category {category:?}.")))?
        .attributes
        .into_iter()
        .find(|a| a.code == code)
        .map(|a| json!({"datatype": a.datatype, "required": a.required, "position": a.position, "question_de": a.description_de}));
    if f.remove.is_empty() {
        let position: i32 = f.position.trim().parse().map_err(|_| invalid())?;
        tx.execute(
            "INSERT INTO maengel.attributes (category, code, datatype, required, position, description_de,
                 description_en, datatype_description, choices)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (category, code) DO UPDATE SET datatype = EXCLUDED.datatype, required = EXCLUDED.required,
                 position = EXCLUDED.position, description_de = EXCLUDED.description_de,
                 description_en = EXCLUDED.description_en, datatype_description = EXCLUDED.datatype_description,
                 choices = EXCLUDED.choices",
            &[
                &category,
                &code,
                &f.datatype,
                &!f.required.is_empty(),
                &position,
                &f.description_de.trim(),
                &f.description_en.trim(),
                &f.help.trim(),
                &serde_json::Value::Array(choices),
            ],
        )
        .await
        .map_err(|e| {
            tracing::info!(error = %e, "question refused");
            invalid()
        })?;
    } else {
        tx.execute(
            "DELETE FROM maengel.attributes WHERE category = $1 AND code = $2",
            &[&category, &code],
        )
        .await
        .map_err(db("removing a question"))?;
    }
    let after = model::category(&*tx, &category)
        .await?
        .and_then(|c| c.attributes.into_iter().find(|a| a.code == code))
        .map(|a| json!({"datatype": a.datatype, "required": a.required, "position": a.position, "question_de": a.description_de}));
    audit::append(
        &*tx,
        &audit::Entry {
            actor: &format!("staff:{}", staff.id),
            action: "category.question",
            subject: &format!("category:{category}"),
            object: Some(&code),
            details: json!({}),
            before,
            after,
            request_id: headers.get("x-request-id").and_then(|v| v.to_str().ok()),
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("saving a question"))?;
    mm.forget_categories();
    drop(client);
    render(&mm, &ctx, &staff, lang.tr("maengel.admin.saved").to_owned()).await
}
