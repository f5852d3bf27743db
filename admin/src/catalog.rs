//! `/admin/sammlungen` (`editor`): the publish switches of the collections (OGC API, vector
//! tiles) and of the aerial-imagery epochs; each switch is one audited change.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use stadtkarte_core::auth;
use stadtkarte_core::backoffice::Shell;
use stadtkarte_core::db::DbError;
use stadtkarte_core::page::{Page, PageContext, html};
use stadtkarte_core::{AppState, Problem, audit, catalog, imagery};

use crate::request_id;

/// A collection row.
pub struct CollectionRow {
    id: String,
    title: String,
    count: i64,
    features: bool,
    tiles: bool,
}

/// An epoch row.
pub struct EpochRow {
    id: String,
    title: String,
    year: i32,
    published: bool,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct Catalog {
    page: Page,
    shell: Shell,
    collections: Vec<CollectionRow>,
    epochs: Vec<EpochRow>,
    message: String,
}

async fn render(
    state: &AppState,
    ctx: &PageContext,
    staff: &auth::Staff,
    message: String,
) -> Result<Response, Problem> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let collections = catalog::list(&**client)
        .await?
        .into_iter()
        .map(|c| CollectionRow {
            count: c.feature_count.unwrap_or(0),
            features: c.publish_features,
            tiles: c.publish_tiles,
            id: c.id,
            title: c.title,
        })
        .collect();
    let epochs = imagery::list_all(&**client)
        .await?
        .into_iter()
        .map(|(e, published)| EpochRow {
            id: e.id,
            title: e.title,
            year: e.year,
            published,
        })
        .collect();
    html(&Catalog {
        page: ctx.page(&state.config, ctx.lang.tr("admin.collections").to_owned()),
        shell: Shell::of(state, staff),
        collections,
        epochs,
        message,
    })
}

/// `GET /admin/sammlungen`
pub async fn page(
    State(state): State<AppState>,
    ctx: PageContext,
    auth::Editor(staff): auth::Editor,
) -> Result<Response, Problem> {
    render(&state, &ctx, &staff, String::new()).await
}

/// A switch.
#[derive(Debug, Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    switch: String,
    on: bool,
}

/// `POST /admin/sammlungen/{id}`: `switch` = `features` or `tiles`.
pub async fn switch_collection(
    State(state): State<AppState>,
    ctx: PageContext,
    auth::Editor(staff): auth::Editor,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SwitchForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let column = match form.switch.as_str() {
        "features" => "publish_features",
        "tiles" => "publish_tiles",
        other => {
            return Err(Problem::bad_request(format!(
                "switch={other:?}: use features or tiles"
            )));
        }
    };
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("switching a collection"))?;
    let before: Option<bool> = tx
        .query_opt(
            &format!("SELECT {column} FROM catalog.collections WHERE id = $1 FOR UPDATE"),
            &[&id],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("switching a collection")(e)))?
        .map(|r| r.get(0));
    let Some(before) = before else {
        return Err(Problem::not_found(format!(
            "There is no collection {id:?}."
        )));
    };
    tx.execute(
        &format!("UPDATE catalog.collections SET {column} = $2, updated_at = now() WHERE id = $1"),
        &[&id, &form.on],
    )
    .await
    .map_err(|e| Problem::from(DbError::query("switching a collection")(e)))?;
    tx.execute(
        "SELECT pg_notify('stadtkarte_tiles', json_build_object('collection', $1::text)::text)",
        &[&id],
    )
    .await
    .map_err(|e| Problem::from(DbError::query("announcing a change")(e)))?;
    audit::append(
        &*tx,
        &audit::Entry {
            actor: &format!("staff:{}", staff.id),
            action: "collection.publish",
            subject: &format!("collection:{id}"),
            object: Some(column),
            details: serde_json::json!({}),
            before: Some(serde_json::json!({column: before})),
            after: Some(serde_json::json!({column: form.on})),
            request_id: request_id(&headers).as_deref(),
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("switching a collection"))?;
    render(
        &state,
        &ctx,
        &staff,
        ctx.lang.tr("admin.switched").to_owned(),
    )
    .await
}

/// `POST /admin/luftbilder/{id}`
pub async fn switch_epoch(
    State(state): State<AppState>,
    ctx: PageContext,
    auth::Editor(staff): auth::Editor,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SwitchForm>,
) -> Result<Response, Problem> {
    staff.check_csrf(&form.csrf)?;
    let mut client = state.pool.get().await.map_err(DbError::from)?;
    let tx = client
        .transaction()
        .await
        .map_err(DbError::query("switching an epoch"))?;
    let before: Option<bool> = tx
        .query_opt(
            "SELECT published FROM catalog.imagery WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("switching an epoch")(e)))?
        .map(|r| r.get(0));
    let Some(before) = before else {
        return Err(Problem::not_found(format!(
            "There is no imagery epoch {id:?}."
        )));
    };
    tx.execute(
        "UPDATE catalog.imagery SET published = $2, updated_at = now() WHERE id = $1",
        &[&id, &form.on],
    )
    .await
    .map_err(|e| Problem::from(DbError::query("switching an epoch")(e)))?;
    audit::append(
        &*tx,
        &audit::Entry {
            actor: &format!("staff:{}", staff.id),
            action: "imagery.publish",
            subject: &format!("imagery:{id}"),
            object: None,
            details: serde_json::json!({}),
            before: Some(serde_json::json!({"published": before})),
            after: Some(serde_json::json!({"published": form.on})),
            request_id: request_id(&headers).as_deref(),
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(DbError::query("switching an epoch"))?;
    render(
        &state,
        &ctx,
        &staff,
        ctx.lang.tr("admin.switched").to_owned(),
    )
    .await
}
