//! `/admin`: what waits for the signed-in person, by role — the counts of every section they
//! may see (each crate contributes its own), and the last changes they made.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use stadtkarte_core::auth::Staff;
use stadtkarte_core::backoffice::{Shell, Widget};
use stadtkarte_core::db::DbError;
use stadtkarte_core::page::{Page, PageContext, html};
use stadtkarte_core::{AppState, Problem};

/// One row of the recent changes.
pub struct Recent {
    at: String,
    actor: String,
    action: String,
    subject: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    page: Page,
    shell: Shell,
    widgets: Vec<Widget>,
    recent: Vec<Recent>,
}

/// `GET /admin`
pub async fn page(
    State(state): State<AppState>,
    ctx: PageContext,
    staff: Staff,
) -> Result<Response, Problem> {
    let mut widgets = Vec::new();
    for section in state.backoffice.visible_to(&staff) {
        if let Some(make) = &section.widgets {
            widgets.extend(make(state.clone(), staff.clone()).await?);
        }
    }
    let client = state.pool.get().await.map_err(DbError::from)?;
    let actor = format!("staff:{}", staff.id);
    let user = format!("user:{}", staff.id);
    let recent = client
        .query(
            "SELECT to_char(at AT TIME ZONE 'Europe/Berlin', 'DD.MM.YYYY HH24:MI'), actor, action, subject
             FROM catalog.audit_log WHERE actor = $1 OR actor = $2 ORDER BY chain DESC LIMIT 10",
            &[&actor, &user],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("reading recent changes")(e)))?
        .iter()
        .map(|r| Recent {
            at: r.get(0),
            actor: r.get(1),
            action: r.get(2),
            subject: r.get(3),
        })
        .collect();
    html(&Dashboard {
        page: ctx.page(&state.config, ctx.lang.tr("admin.dashboard").to_owned()),
        shell: Shell::of(&state, &staff),
        widgets,
        recent,
    })
}

/// `admin`: accounts, locked sign-ins, today's audit entries.
pub async fn admin_widgets(state: AppState, _staff: Staff) -> Result<Vec<Widget>, Problem> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM auth.users WHERE NOT disabled),
                    (SELECT count(*) FROM auth.throttle WHERE locked_until > now()),
                    (SELECT count(*) FROM catalog.audit_log WHERE at > now() - interval '1 day')",
            &[],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("counting for the dashboard")(e)))?;
    Ok(vec![
        Widget {
            label_key: "admin.widget_users",
            count: row.get(0),
            href: "/admin/benutzer".to_owned(),
            note: String::new(),
        },
        Widget {
            label_key: "admin.widget_locked",
            count: row.get(1),
            href: "/admin/audit?action=auth.lock".to_owned(),
            note: String::new(),
        },
        Widget {
            label_key: "admin.widget_audit_today",
            count: row.get(2),
            href: "/admin/audit".to_owned(),
            note: String::new(),
        },
    ])
}

/// `editor`: collections and epochs (how many are published), and the last import.
pub async fn editor_widgets(state: AppState, _staff: Staff) -> Result<Vec<Widget>, Problem> {
    let client = state.pool.get().await.map_err(DbError::from)?;
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM catalog.collections),
                    (SELECT count(*) FROM catalog.collections WHERE NOT publish_features OR NOT publish_tiles),
                    (SELECT count(*) FROM catalog.imagery),
                    (SELECT coalesce(max(subject || ' (' || to_char(at AT TIME ZONE 'Europe/Berlin', 'DD.MM.YYYY HH24:MI') || ')'), '')
                     FROM (SELECT subject, at FROM catalog.audit_log WHERE action LIKE 'import.%' ORDER BY chain DESC LIMIT 1) l)",
            &[],
        )
        .await
        .map_err(|e| Problem::from(DbError::query("counting for the dashboard")(e)))?;
    Ok(vec![
        Widget {
            label_key: "admin.widget_collections",
            count: row.get(0),
            href: "/admin/sammlungen".to_owned(),
            note: row.get(3),
        },
        Widget {
            label_key: "admin.widget_unpublished",
            count: row.get(1),
            href: "/admin/sammlungen".to_owned(),
            note: String::new(),
        },
        Widget {
            label_key: "admin.widget_epochs",
            count: row.get(2),
            href: "/admin/sammlungen".to_owned(),
            note: String::new(),
        },
    ])
}
