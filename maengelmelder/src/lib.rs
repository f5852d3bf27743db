//! Mängelmelder: geo-referenced defect reports from citizens — the report form (with a map, or
//! without JavaScript by address or district), photos without metadata, the public list, map,
//! tracking pages and statistics, the staff triage in the back office, mail through the
//! outbox, retention of personal data, and Open311 GeoReport v2 (JSON and XML) for other apps.
//!
//! Data lives in the schema `maengel` (migration 0012); the public reads only the view
//! `maengel.public_reports`, which has no personal data.

pub mod area;
mod categories;
mod citizen;
pub mod demo;
pub mod model;
pub mod notify;
pub mod open311;
pub mod photo;
pub mod privacy;
mod public;
mod svgmap;
pub mod tasks;
mod triage;

use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post};
use stadtkarte_core::AppState;
use stadtkarte_core::auth::Role;
use stadtkarte_core::backoffice::Section;

use crate::model::Category;

/// The state of the Mängelmelder's handlers.
#[derive(Debug, Clone)]
pub struct Mm {
    /// The platform's state.
    pub app: AppState,
    /// Photo processing slots.
    pub workers: photo::Workers,
    /// The categories as last read, and when: reused for a moment (every report and form
    /// needs them), and shown while the database is away.
    categories: Arc<RwLock<(Vec<Category>, Option<std::time::Instant>)>>,
}

/// How long the categories as read are used before they are read again (a change in `/admin`
/// clears them at once on its node).
const CATEGORIES_FRESH: std::time::Duration = std::time::Duration::from_secs(2);

impl FromRef<Mm> for AppState {
    fn from_ref(mm: &Mm) -> Self {
        mm.app.clone()
    }
}

impl Mm {
    /// The state over the platform's.
    #[must_use]
    pub fn new(app: AppState) -> Self {
        Self {
            workers: photo::Workers::new(app.config.maengel.photo_workers),
            app,
            categories: Arc::new(RwLock::new((Vec::new(), None))),
        }
    }

    /// The photo limits of the configuration.
    #[must_use]
    pub fn limits(&self) -> photo::Limits {
        let c = &self.app.config.maengel;
        photo::Limits {
            max_bytes: c.photo_max_bytes,
            max_megapixels: c.photo_max_megapixels,
            display_edge: c.photo_display_edge,
            thumb_edge: c.photo_thumb_edge,
        }
    }

    /// The active categories: from the database, or as last read while it is away.
    pub async fn categories(&self) -> Result<Vec<Category>, stadtkarte_core::Problem> {
        if let Ok(cache) = self.categories.read()
            && cache.1.is_some_and(|at| at.elapsed() < CATEGORIES_FRESH)
        {
            return Ok(cache.0.clone());
        }
        let fresh = async {
            let client = self.app.pool.get().await?;
            model::categories(&**client, false).await
        }
        .await;
        match fresh {
            Ok(list) => {
                if let Ok(mut cache) = self.categories.write() {
                    *cache = (list.clone(), Some(std::time::Instant::now()));
                }
                Ok(list)
            }
            Err(e) => {
                let cached = self
                    .categories
                    .read()
                    .map(|c| c.0.clone())
                    .unwrap_or_default();
                if cached.is_empty() {
                    Err(e.into())
                } else {
                    Ok(cached)
                }
            }
        }
    }
    /// Forgets the categories as read (after a change).
    pub fn forget_categories(&self) {
        if let Ok(mut cache) = self.categories.write() {
            cache.1 = None;
        }
    }
}

/// The largest request body of the report form: three photos and the text.
pub(crate) fn form_body_limit(app: &AppState) -> usize {
    app.config
        .maengel
        .photo_max_bytes
        .saturating_mul(model::MAX_PHOTOS)
        .saturating_add(256 * 1024)
}

/// The routes of the Mängelmelder (citizens' pages, back office, Open311); registers its
/// sections of the back office.
pub fn router(app: AppState) -> Router {
    app.backoffice.add(Section {
        role: Role::Triage,
        href: "/admin/maengel",
        label_key: "maengel.admin.queue",
        widgets: Some(Arc::new(|state, staff| {
            Box::pin(triage::widgets(state, staff))
        })),
    });
    app.backoffice.add(Section {
        role: Role::Admin,
        href: "/admin/maengel/kategorien",
        label_key: "maengel.admin.categories",
        widgets: None,
    });
    app.backoffice.add(Section {
        role: Role::Admin,
        href: "/admin/postausgang",
        label_key: "maengel.admin.outbox",
        widgets: None,
    });
    let limit = form_body_limit(&app);
    let mm = Mm::new(app);
    Router::new()
        .route("/maengel", get(public::list))
        .route(
            "/maengel/melden",
            get(citizen::form)
                .post(citizen::submit)
                .layer(DefaultBodyLimit::max(limit)),
        )
        .route("/maengel/adressen", get(citizen::addresses))
        .route("/maengel/in-der-naehe", get(citizen::nearby))
        .route("/maengel/karte.geojson", get(public::geojson))
        .route("/maengel/statistik", get(public::statistics))
        .route("/maengel/statistik.json", get(public::statistics_json))
        .route("/maengel/datenschutz", get(citizen::privacy_notice))
        .route("/maengel/{id}", get(public::report))
        .route("/maengel/{id}/eingegangen", get(citizen::received))
        .route("/maengel/{id}/unterstuetzen", post(citizen::support))
        .route(
            "/maengel/{id}/rueckmeldung/{secret}",
            get(citizen::feedback_form).post(citizen::feedback),
        )
        .route(
            "/maengel/{id}/abmelden/{secret}",
            get(citizen::unsubscribe_form).post(citizen::unsubscribe),
        )
        .route("/maengel/{id}/fotos/{photo}/{file}", get(public::photo))
        .route("/admin/maengel", get(triage::queue))
        .route(
            "/admin/maengel/kategorien",
            get(categories::page).post(categories::save),
        )
        .route(
            "/admin/maengel/kategorien/{code}/fragen",
            post(categories::save_attribute),
        )
        .route("/admin/postausgang", get(triage::outbox))
        .route("/admin/maengel/{id}", get(triage::detail))
        .route(
            "/admin/maengel/{id}/{action}",
            post(triage::act).layer(DefaultBodyLimit::max(64 * 1024)),
        )
        .route(
            "/admin/maengel/{id}/fotos/{photo}/{variant}",
            get(triage::photo),
        )
        .route(
            "/admin/maengel/{id}/fotos/{photo}/schwaerzen",
            post(triage::redact),
        )
        .merge(open311::router())
        .with_state(mm)
}

/// Every staff route with the role it needs (the authorisation test walks this list).
pub const ROUTES: &[(&str, &str, Option<Role>)] = &[
    ("GET", "/admin/maengel", Some(Role::Triage)),
    ("GET", "/admin/maengel/1", Some(Role::Triage)),
    ("POST", "/admin/maengel/1/status", Some(Role::Triage)),
    ("POST", "/admin/maengel/1/notiz", Some(Role::Triage)),
    ("POST", "/admin/maengel/1/kategorie", Some(Role::Triage)),
    ("POST", "/admin/maengel/1/ort", Some(Role::Triage)),
    ("POST", "/admin/maengel/1/duplikat", Some(Role::Triage)),
    ("POST", "/admin/maengel/1/zuweisen", Some(Role::Triage)),
    ("POST", "/admin/maengel/1/freigabe", Some(Role::Triage)),
    (
        "GET",
        "/admin/maengel/1/fotos/1/original.jpg",
        Some(Role::Triage),
    ),
    (
        "POST",
        "/admin/maengel/1/fotos/1/schwaerzen",
        Some(Role::Triage),
    ),
    ("GET", "/admin/maengel/kategorien", Some(Role::Admin)),
    ("POST", "/admin/maengel/kategorien", Some(Role::Admin)),
    (
        "POST",
        "/admin/maengel/kategorien/muell/fragen",
        Some(Role::Admin),
    ),
    ("GET", "/admin/postausgang", Some(Role::Admin)),
];
