//! The frame of every HTML page: what a page hands to the base layout
//! (`core/templates/base.html`) and how a template becomes a response.
//!
//! A page template extends `base.html` and has a field `page: Page`; the layout draws the skip
//! link, the header with the site name and the main navigation, the language switch, the
//! breadcrumbs, `<main id="inhalt">` with the page title as its heading, and the footer with the
//! imprint and privacy links. Templates are askama's, so every value is escaped unless a
//! template says otherwise (none does). Texts come from [`crate::i18n`] through [`Page::t`].
//!
//! The one stylesheet of the pages, `/static/stadtkarte.css`, is embedded and linked with a
//! hash of its content, so browsers keep it until it changes. No page has inline styles or
//! scripts.

use std::fmt::Display;
use std::sync::OnceLock;

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

use crate::config::Config;
use crate::i18n::{self, Lang};
use crate::problem::Problem;

/// The stylesheet of every page.
pub const STYLESHEET: &str = include_str!("../static/stadtkarte.css");

/// A short hash of the stylesheet: part of its URL, so it can be cached for ever.
#[must_use]
pub fn stylesheet_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let digest = Sha256::digest(STYLESHEET.as_bytes());
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
    })
}

/// The versioned address of the stylesheet, as pages link it.
#[must_use]
pub fn stylesheet_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| format!("/static/stadtkarte.css?v={}", stylesheet_version()))
}

/// `GET /static/stadtkarte.css`: immutable when asked for the current version, else
/// revalidated by its ETag.
pub async fn stylesheet(uri: Uri, headers: HeaderMap) -> Response {
    let version = stylesheet_version();
    let etag = format!("\"{version}\"");
    let current = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == format!("v={version}")));
    let mut response = if crate::http::not_modified(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        STYLESHEET.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if current {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// One step of the breadcrumb trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crumb {
    /// What it says.
    pub label: String,
    /// Where it leads.
    pub href: String,
}

/// The part of the site a page belongs to: its entry in the main navigation is marked current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The map (`/map`).
    Map,
    /// The open-data portal (`/opendata`).
    OpenData,
    /// The developers' page and the OGC API pages (`/entwickler`, `/collections`,
    /// `/conformance`, `/api`).
    Api,
    /// The Mängelmelder (`/maengel`).
    Maengel,
    /// The petitions (`/petitionen`).
    Petitions,
    /// Anything else (the start page, the legal pages, problems).
    Other,
}

impl Section {
    fn of_path(path: &str) -> Self {
        let under = |prefix: &str| {
            path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        if under("/map") {
            Self::Map
        } else if under("/opendata") {
            Self::OpenData
        } else if under("/entwickler")
            || under("/collections")
            || under("/conformance")
            || under("/api")
        {
            Self::Api
        } else if under("/maengel") {
            Self::Maengel
        } else if under("/petitionen") || path.starts_with("/petitionen.") {
            Self::Petitions
        } else {
            Self::Other
        }
    }
}

/// What a page needs to know of its request: the language and the address (for the language
/// switch). An extractor; it never fails.
#[derive(Debug, Clone)]
pub struct PageContext {
    /// The language of the page.
    pub lang: Lang,
    path: String,
    query: Option<String>,
}

impl PageContext {
    /// The context of a request with this address and these headers.
    #[must_use]
    pub fn new(uri: &Uri, headers: &HeaderMap) -> Self {
        Self {
            lang: Lang::of_request(uri.query(), headers),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
        }
    }

    /// The frame of a page titled `title`, for the municipality of `config`.
    #[must_use]
    pub fn page(&self, config: &Config, title: impl Into<String>) -> Page {
        Page {
            title: title.into(),
            lang: self.lang,
            site_name: site_name(config),
            breadcrumbs: Vec::new(),
            switch_href: switch_href(&self.path, self.query.as_deref(), self.lang.other()),
            stylesheets: Vec::new(),
            scripts: Vec::new(),
            imprint_url: config.city.imprint_url.clone(),
            privacy_url: config.city.privacy_url.clone(),
            section: Section::of_path(&self.path),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::new(&parts.uri, &parts.headers))
    }
}

/// The name in the header of every page: "Stadtkarte Koblenz".
#[must_use]
pub fn site_name(config: &Config) -> String {
    format!("Stadtkarte {}", config.city.name)
}

/// The same address with `lang` set to `lang`; every other parameter kept as it was sent.
#[must_use]
pub fn switch_href(path: &str, query: Option<&str>, lang: Lang) -> String {
    let mut pairs: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty() && *p != "lang" && !p.starts_with("lang="))
        .collect();
    let lang = format!("lang={lang}");
    pairs.push(&lang);
    format!("{path}?{}", pairs.join("&"))
}

/// The data of the base layout.
#[derive(Debug, Clone)]
pub struct Page {
    /// The page's title: `<title>` and its `<h1>`.
    pub title: String,
    /// Its language.
    pub lang: Lang,
    /// "Stadtkarte {city.name}", in the header.
    pub site_name: String,
    /// The trail from the start page to the page's parent.
    pub breadcrumbs: Vec<Crumb>,
    /// This page in the other language.
    pub switch_href: String,
    /// Stylesheets besides the platform's own.
    pub stylesheets: Vec<String>,
    /// Scripts (by address only: pages have no inline scripts).
    pub scripts: Vec<String>,
    /// `city.imprint_url`.
    pub imprint_url: String,
    /// `city.privacy_url`.
    pub privacy_url: String,
    /// Where the page belongs in the main navigation.
    pub section: Section,
}

impl Page {
    /// Adds a step to the breadcrumb trail.
    #[must_use]
    pub fn crumb(mut self, label: impl Into<String>, href: impl Into<String>) -> Self {
        self.breadcrumbs.push(Crumb {
            label: label.into(),
            href: href.into(),
        });
        self
    }

    /// Adds a stylesheet after the platform's own.
    #[must_use]
    pub fn stylesheet(mut self, href: impl Into<String>) -> Self {
        self.stylesheets.push(href.into());
        self
    }

    /// Adds a script (loaded with `defer`).
    #[must_use]
    pub fn script(mut self, src: impl Into<String>) -> Self {
        self.scripts.push(src.into());
        self
    }

    /// The text `key` in the page's language.
    #[must_use]
    pub fn t<'k>(&self, key: &'k str) -> &'k str {
        i18n::tr(self.lang, key)
    }

    /// The text `key` with its `{}` replaced by `a`.
    #[must_use]
    pub fn t1(&self, key: &str, a: impl Display) -> String {
        i18n::fill(self.lang, key, &[&a])
    }

    /// The text `key` with its two `{}` replaced by `a` and `b`.
    #[must_use]
    pub fn t2(&self, key: &str, a: impl Display, b: impl Display) -> String {
        i18n::fill(self.lang, key, &[&a, &b])
    }

    /// The `<title>`: the page's title and the site's name (once, on the start page).
    #[must_use]
    pub fn document_title(&self) -> String {
        if self.title == self.site_name {
            self.title.clone()
        } else {
            format!("{} – {}", self.title, self.site_name)
        }
    }

    /// The stylesheet of the platform, versioned.
    #[must_use]
    pub fn platform_stylesheet(&self) -> &'static str {
        stylesheet_url()
    }

    /// Whether the main navigation entry leading to `href` is this page's part of the site.
    #[must_use]
    pub fn is_current(&self, href: &str) -> bool {
        self.section != Section::Other && Section::of_path(href) == self.section
    }

    /// A decimal number with `digits` decimals in the page's language (a comma in German).
    #[must_use]
    pub fn decimal(&self, value: f64, digits: usize) -> String {
        let text = format!("{value:.digits$}");
        match self.lang {
            Lang::De => text.replace('.', ","),
            Lang::En => text,
        }
    }
}

/// A rendered template as an HTML response (200).
pub fn html(template: &impl Template) -> Result<Response, Problem> {
    let body = template.render().map_err(Problem::internal)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_keeps_the_query_and_swaps_the_language() {
        assert_eq!(
            switch_href("/opendata", None, Lang::En),
            "/opendata?lang=en"
        );
        assert_eq!(
            switch_href("/opendata", Some("q=rhein&lang=en&thema=TRAN"), Lang::De),
            "/opendata?q=rhein&thema=TRAN&lang=de"
        );
        assert_eq!(
            switch_href("/collections/a/items", Some("f=html&lang&x=%3C"), Lang::En),
            "/collections/a/items?f=html&x=%3C&lang=en"
        );
    }

    #[test]
    fn sections_by_path() {
        assert_eq!(Section::of_path("/opendata/gebaeude"), Section::OpenData);
        assert_eq!(Section::of_path("/opendatax"), Section::Other);
        assert_eq!(Section::of_path("/collections"), Section::Api);
        assert_eq!(Section::of_path("/api"), Section::Api);
        assert_eq!(Section::of_path("/entwickler"), Section::Api);
        assert_eq!(Section::of_path("/"), Section::Other);
    }

    #[derive(Template)]
    #[template(
        source = "{% extends \"base.html\" %}{% block content %}<p>{{ text }}</p>{% endblock %}",
        ext = "html"
    )]
    struct Plain {
        page: Page,
        text: String,
    }

    #[test]
    fn the_layout_frames_a_page() {
        let uri: Uri = "/opendata/x?q=%3Cb%3E".parse().unwrap();
        let page = PageContext::new(&uri, &HeaderMap::new())
            .page(&Config::default(), "A <title>")
            .crumb("Start", "/")
            .stylesheet("/extra.css")
            .script("/extra.js");
        let html = Plain {
            page,
            text: "<b>".to_owned(),
        }
        .render()
        .unwrap();
        for expected in [
            "<html lang=\"de\">",
            "<title>A &#60;title&#62; – Stadtkarte Koblenz</title>",
            "<link rel=\"stylesheet\" href=\"/static/stadtkarte.css?v=",
            "<link rel=\"stylesheet\" href=\"/extra.css\">",
            "<script src=\"/extra.js\" defer></script>",
            "<a class=\"skip-link\" href=\"#inhalt\">Zum Inhalt springen</a>",
            "<a href=\"/opendata\" aria-current=\"true\">Offene Daten</a>",
            "href=\"/opendata/x?q=%3Cb%3E&#38;lang=en\" lang=\"en\"",
            "<li><a href=\"/\">Start</a></li>",
            "<main id=\"inhalt\">\n<h1>A &#60;title&#62;</h1>",
            "<p>&#60;b&#62;</p>",
            "<a href=\"/impressum\">Impressum</a>",
            "<a href=\"/datenschutz\">Datenschutz</a>",
        ] {
            assert!(html.contains(expected), "{expected}: {html}");
        }
    }

    #[test]
    fn the_stylesheet_is_versioned_by_its_content() {
        assert_eq!(stylesheet_version().len(), 12);
        assert!(stylesheet_url().ends_with(stylesheet_version()));
        assert!(STYLESHEET.contains(":focus-visible"));
    }
}
