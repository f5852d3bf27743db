//! The back office's shared frame: which sections exist (each crate adds its own, e.g. the
//! open-data editor or the defect-report queue), which of them a person sees (by role), the
//! counts on the dashboard ("what waits for me"), and the navigation every staff page shows.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use crate::auth::{Role, Staff};
use crate::problem::Problem;
use crate::state::AppState;

/// One count on the dashboard.
#[derive(Debug, Clone)]
pub struct Widget {
    /// Text key of what is counted (`admin.widget_…`).
    pub label_key: &'static str,
    /// How many.
    pub count: i64,
    /// Where to work on them.
    pub href: String,
    /// A line below (e.g. the last import).
    pub note: String,
}

/// What a section contributes to the dashboard of a person.
pub type WidgetFn = Arc<
    dyn Fn(AppState, Staff) -> Pin<Box<dyn Future<Output = Result<Vec<Widget>, Problem>> + Send>>
        + Send
        + Sync,
>;

/// A section of the back office.
#[derive(Clone)]
pub struct Section {
    /// Who sees it (`admin` sees every section).
    pub role: Role,
    /// Its page.
    pub href: &'static str,
    /// Text key of its name in the navigation.
    pub label_key: &'static str,
    /// Its counts on the dashboard.
    pub widgets: Option<WidgetFn>,
}

impl std::fmt::Debug for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Section")
            .field("role", &self.role)
            .field("href", &self.href)
            .finish_non_exhaustive()
    }
}

/// The sections, filled once at start-up by the binary.
#[derive(Debug, Clone, Default)]
pub struct Registry(Arc<RwLock<Vec<Section>>>);

impl Registry {
    /// Adds a section (in the order of the navigation).
    pub fn add(&self, section: Section) {
        if let Ok(mut sections) = self.0.write()
            && !sections.iter().any(|s| s.href == section.href)
        {
            sections.push(section);
        }
    }

    /// The sections a person sees.
    #[must_use]
    pub fn visible_to(&self, staff: &Staff) -> Vec<Section> {
        self.0
            .read()
            .map(|s| s.iter().filter(|s| staff.has(s.role)).cloned().collect())
            .unwrap_or_default()
    }
}

/// What every staff page shows around its content: the navigation of the person's sections,
/// the sign-out form (with the CSRF token) and who is signed in.
#[derive(Debug, Clone)]
pub struct Shell {
    /// (href, text key) of each visible section.
    pub nav: Vec<(&'static str, &'static str)>,
    /// The session's CSRF token for the forms.
    pub csrf: String,
    /// The person's name.
    pub name: String,
}

impl Shell {
    /// The shell of `staff`'s pages.
    #[must_use]
    pub fn of(state: &AppState, staff: &Staff) -> Self {
        Self {
            nav: state
                .backoffice
                .visible_to(staff)
                .iter()
                .map(|s| (s.href, s.label_key))
                .collect(),
            csrf: staff.csrf.clone(),
            name: staff.name.clone(),
        }
    }
}
