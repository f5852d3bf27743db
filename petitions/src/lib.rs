//! Petitions map: a citizen starts a petition about a place (a point, an area drawn on the map,
//! or districts), confirms it by e-mail, (optionally) gathers sponsors, a moderator publishes
//! it, others sign it and confirm their signature — by a button on the page the mail's link
//! opens, so mail scanners that open links confirm nothing — and the council must respond once
//! enough residents have signed. The map shows where people want change, with the signatures
//! per district as a choropleth.
//!
//! Data lives in the schema `petitions` (migration 0013); the public reads the view
//! `petitions.public_petitions` (no personal data). Signatures are anonymised a configured
//! time after closing ([`tasks`]).

pub mod abuse;
mod citizen;
mod comments;
pub mod demo;
pub mod model;
mod moderation;
pub mod notify;
pub mod place;
pub mod privacy;
mod public;
pub mod tasks;

use axum::Router;
use axum::extract::FromRef;
use stadtkarte_core::AppState;
use stadtkarte_core::auth::Role;
use stadtkarte_core::backoffice::Section;

/// The state of the petitions' handlers.
#[derive(Debug, Clone)]
pub struct Pt {
    /// The platform's state.
    pub app: AppState,
}

impl FromRef<Pt> for AppState {
    fn from_ref(pt: &Pt) -> Self {
        pt.app.clone()
    }
}

/// The routes of the petitions map (citizens' pages, JSON/CSV, back office); registers its
/// section of the back office.
pub fn router(app: AppState) -> Router {
    app.backoffice.add(Section {
        role: Role::Moderator,
        href: "/admin/petitionen",
        label_key: "petitions.admin.queue",
        widgets: Some(std::sync::Arc::new(|state, staff| {
            Box::pin(moderation::widgets(state, staff))
        })),
    });
    let pt = Pt { app };
    Router::new()
        .merge(public::routes())
        .merge(citizen::routes())
        .merge(moderation::routes())
        .with_state(pt)
}

/// Every staff route with the role it needs (the authorisation test walks this list).
pub const ROUTES: &[(&str, &str, Option<Role>)] = moderation::ROUTES;
