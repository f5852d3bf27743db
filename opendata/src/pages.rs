//! The open-data pages citizens and hackathon participants read: `/opendata` (every dataset,
//! with search and filters by theme, format, licence and update date) and `/opendata/{id}`
//! (metadata, licence with the attribution text to copy, every download with its size, the API
//! links with examples for curl, Python and JavaScript, a preview map and the change history).
//! German or English (`?lang=en`, the language cookie or `Accept-Language`), in the base layout
//! of every page (`templates/list.html`, `templates/dataset.html`). No scripts.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use stadtkarte_core::db::DbError;
use stadtkarte_core::http::base_url;
use stadtkarte_core::i18n::{self, Lang};
use stadtkarte_core::page::{self, Page, PageContext};
use stadtkarte_core::{AppState, Problem};

use crate::formats;
use crate::offers::{Offer, Offers};
use crate::registry::{self, Dataset};

/// The routes (`/opendata/catalog.*` goes to [`crate::dcat`]).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/opendata", get(list))
        .route("/opendata/{name}", get(one))
        .with_state(state)
}

#[derive(Debug, Deserialize, Default)]
struct Filters {
    q: Option<String>,
    thema: Option<String>,
    format: Option<String>,
    lizenz: Option<String>,
    seit: Option<String>,
    page: Option<usize>,
    profile: Option<String>,
}

/// The name of an EU data theme (`TRAN`) in `lang`; the code itself when it has none.
fn theme_name(code: &str, lang: Lang) -> String {
    i18n::tr_opt(lang, &format!("opendata.themes.{code}"))
        .map_or_else(|| code.to_owned(), str::to_owned)
}

/// An EU update frequency (`ANNUAL`) in words of `lang`; the code itself when it has none.
fn frequency_name(code: &str, lang: Lang) -> String {
    i18n::tr_opt(lang, &format!("opendata.frequencies.{code}"))
        .map_or_else(|| code.to_owned(), str::to_owned)
}

/// A file size for people: "12,3 MB" (German) or "12.3 MB" (English), decimal units.
fn human_size(bytes: u64, lang: Lang) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    // Exact up to 2^53 bytes, far beyond any download.
    #[allow(clippy::cast_precision_loss)]
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{} {}", decimal(value, 1, lang), UNITS[unit])
}

/// A decimal number for people, with a comma in German.
fn decimal(value: f64, digits: usize, lang: Lang) -> String {
    let text = format!("{value:.digits$}");
    match lang {
        Lang::De => text.replace('.', ","),
        Lang::En => text,
    }
}

/// `?lang=en` on links between the open-data pages when the page is English, so the choice
/// holds even without the language cookie.
fn lang_suffix(lang: Lang) -> &'static str {
    match lang {
        Lang::De => "",
        Lang::En => "?lang=en",
    }
}

/// The citizens' map, embedded with this dataset's layers (or its aerial image as background)
/// over the dataset's extent.
fn preview_map(d: &Dataset, min_zoom: f64, lang: Lang) -> Option<String> {
    let b = d.extent_crs84?;
    let (lon, lat) = (f64::midpoint(b[0], b[2]), f64::midpoint(b[1], b[3]));
    // The zoom level at which the extent fills a map about 700 pixels wide.
    let span = (b[2] - b[0]).max((b[3] - b[1]) * 1.6).max(1e-6);
    let zoom = ((360.0 * 700.0 / 256.0 / span).log2() - 0.3)
        .max(min_zoom + 0.5)
        .clamp(2.0, 18.0);
    let base = d.imagery.last().map_or("karte", String::as_str);
    let layers = if d.collections.is_empty() && !d.imagery.is_empty() {
        "stadtteile".to_owned()
    } else {
        d.collections.join(",")
    };
    let lang = match lang {
        Lang::De => "",
        Lang::En => "&lang=en",
    };
    Some(format!(
        "/map#karte={zoom:.2}/{lat:.5}/{lon:.5}&grund={base}&ebenen={layers}{lang}"
    ))
}

/// A choice of a filter of the list.
#[derive(Debug)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

impl Choice {
    /// The choices of a filter: "all" first, then `options`; the one equal to `current` is
    /// selected.
    fn list(
        all: &str,
        options: impl Iterator<Item = (String, String)>,
        current: Option<&str>,
    ) -> Vec<Self> {
        let mut out = vec![Self {
            value: String::new(),
            label: all.to_owned(),
            selected: false,
        }];
        out.extend(options.map(|(value, label)| Self {
            selected: current == Some(value.as_str()),
            value,
            label,
        }));
        out
    }
}

/// A dataset on the list.
#[derive(Debug)]
struct Card {
    href: String,
    title: String,
    description: String,
    themes: String,
    formats: String,
    licence: String,
    modified: String,
    amount: String,
}

/// `GET /opendata`
#[derive(Debug, Template)]
#[template(path = "list.html")]
struct ListPage {
    page: Page,
    q: String,
    since: String,
    themes: Vec<Choice>,
    formats: Vec<Choice>,
    licences: Vec<Choice>,
    cards: Vec<Card>,
}

/// A download on a dataset page.
#[derive(Debug)]
struct Download {
    href: String,
    file: String,
    format: String,
    bytes: Option<u64>,
    size: String,
}

/// An aerial-image epoch of a dataset, with its tile APIs.
#[derive(Debug)]
struct EpochApis {
    id: String,
    title: String,
}

/// A line of a dataset's change history.
#[derive(Debug)]
struct Change {
    at: String,
    action: String,
    subject: String,
    amount: String,
}

/// `GET /opendata/{id}`
#[derive(Debug, Template)]
#[template(path = "dataset.html")]
struct DatasetPage {
    page: Page,
    title: String,
    description: String,
    base: String,
    facts: Vec<(&'static str, String)>,
    licence: String,
    licence_url: String,
    credit: String,
    downloads: Vec<Download>,
    has_imagery_files: bool,
    preview: Option<String>,
    collection: Option<String>,
    epochs: Vec<EpochApis>,
    history: Vec<Change>,
}

/// The title and description of a dataset in `lang` (German where there is no English).
fn texts(d: &Dataset, lang: Lang) -> (&str, &str) {
    match lang {
        Lang::De => (&d.title, &d.description),
        Lang::En => (
            d.title_en.as_deref().unwrap_or(&d.title),
            d.description_en.as_deref().unwrap_or(&d.description),
        ),
    }
}

async fn list(
    State(state): State<AppState>,
    Query(f): Query<Filters>,
    cx: PageContext,
) -> Result<Response, Problem> {
    let lang = cx.lang;
    let client = state.read_db().await?;
    let all = registry::list(&**client).await?;
    let q = f.q.clone().unwrap_or_default().to_lowercase();
    let found: Vec<&Dataset> = all
        .iter()
        .filter(|d| {
            q.is_empty()
                || [&d.title, &d.description]
                    .iter()
                    .any(|s| s.to_lowercase().contains(&q))
                || d.keywords.iter().any(|k| k.to_lowercase().contains(&q))
        })
        .filter(|d| {
            f.thema
                .as_deref()
                .is_none_or(|th| th.is_empty() || d.themes.iter().any(|x| x == th))
        })
        .filter(|d| {
            f.format
                .as_deref()
                .is_none_or(|x| x.is_empty() || formats::of_dataset(d).iter().any(|fm| fm.ext == x))
        })
        .filter(|d| {
            f.lizenz
                .as_deref()
                .is_none_or(|l| l.is_empty() || d.license.ends_with(l))
        })
        .filter(|d| {
            f.seit
                .as_deref()
                .is_none_or(|s| s.is_empty() || d.modified.as_str() >= s)
        })
        .collect();
    let mut themes: Vec<&str> = all
        .iter()
        .flat_map(|d| d.themes.iter().map(String::as_str))
        .collect();
    themes.sort_unstable();
    themes.dedup();
    let t = |key| lang.tr(key);
    let cards = found
        .iter()
        .map(|d| {
            let (title, description) = texts(d, lang);
            let mut amount = Vec::new();
            if !d.collections.is_empty() {
                amount.push(i18n::fill(
                    lang,
                    "opendata.list.features",
                    &[&d.feature_count],
                ));
            }
            if !d.imagery.is_empty() {
                amount.push(i18n::fill(
                    lang,
                    "opendata.list.epochs",
                    &[&d.imagery.len()],
                ));
            }
            Card {
                href: format!("/opendata/{}{}", d.id, lang_suffix(lang)),
                title: title.to_owned(),
                description: description.to_owned(),
                themes: d
                    .themes
                    .iter()
                    .map(|th| theme_name(th, lang))
                    .collect::<Vec<_>>()
                    .join(", "),
                formats: formats::of_dataset(d)
                    .iter()
                    .map(|fm| fm.name)
                    .collect::<Vec<_>>()
                    .join(", "),
                licence: registry::license_name(&d.license).to_owned(),
                modified: d.modified.get(..10).unwrap_or(&d.modified).to_owned(),
                amount: amount.join(", "),
            }
        })
        .collect();
    page::html(&ListPage {
        page: cx
            .page(&state.config, t("opendata.list.title"))
            .crumb(t("opendata.crumb_start"), "/"),
        q: f.q.clone().unwrap_or_default(),
        since: f.seit.clone().unwrap_or_default(),
        themes: Choice::list(
            t("opendata.list.all_themes"),
            themes
                .iter()
                .map(|th| ((*th).to_owned(), theme_name(th, lang))),
            f.thema.as_deref(),
        ),
        formats: Choice::list(
            t("opendata.list.all_formats"),
            formats::ALL
                .iter()
                .map(|fm| (fm.ext.to_owned(), fm.label.to_owned())),
            f.format.as_deref(),
        ),
        licences: Choice::list(
            t("opendata.list.all_licences"),
            registry::LICENSES
                .iter()
                .map(|(id, name)| ((*id).to_owned(), (*name).to_owned())),
            f.lizenz.as_deref(),
        ),
        cards,
    })
}

async fn one(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(f): Query<Filters>,
    cx: PageContext,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    if name.starts_with("alle.") {
        return crate::downloads::bulk(&state, &name, &headers).await;
    }
    if name == crate::archive::FILE {
        return crate::archive::download(&state, &headers).await;
    }
    if name.starts_with("catalog.") {
        return crate::dcat::catalog(
            State(state),
            Path(name),
            Query(crate::dcat::PageQuery {
                page: f.page,
                profile: f.profile,
            }),
            headers,
        )
        .await;
    }
    let lang = cx.lang;
    let client = state.read_db().await?;
    let d = registry::get(&**client, &name)
        .await?
        .ok_or_else(|| Problem::not_found(format!("There is no dataset {name:?}.")))?;
    let base = base_url(&state.config, &headers);
    let offers = Offers::load(&state, &**client).await?;
    let subjects: Vec<&String> = d.collections.iter().chain(&d.imagery).collect();
    let history = client
        .query(
            "SELECT to_char(at, 'YYYY-MM-DD HH24:MI'), action, subject,
                    coalesce(details->>'written', details->>'buildings', details->>'features', '')
             FROM catalog.audit_log WHERE subject = ANY($1) OR subject = $2 ORDER BY at DESC LIMIT 20",
            &[&subjects, &d.id],
        )
        .await
        .map_err(DbError::query("reading the change history"))?;
    // The deepest minimum zoom of the dataset's layers: the preview must show them.
    let min_zoom: Option<i16> = client
        .query_one(
            "SELECT max(min_zoom) FROM catalog.collections WHERE id = ANY($1)",
            &[&d.collections],
        )
        .await
        .map_err(DbError::query("reading the zoom range"))?
        .get(0);
    let (title, description) = texts(&d, lang);
    let t = |key| lang.tr(key);
    let epochs = offers.epochs(&d);
    let mut facts = vec![
        (t("opendata.dataset.publisher"), d.publisher_name.clone()),
        (
            t("opendata.dataset.contact"),
            format!("{} <{}>", d.contact_name, d.contact_email),
        ),
        (
            t("opendata.themes_label"),
            d.themes
                .iter()
                .map(|th| theme_name(th, lang))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (t("opendata.dataset.keywords"), d.keywords.join(", ")),
        (
            t("opendata.dataset.frequency"),
            frequency_name(&d.accrual_periodicity, lang),
        ),
        (
            t("opendata.dataset.period"),
            if d.temporal_start.is_none() && d.temporal_end.is_none() {
                String::new()
            } else {
                format!(
                    "{} – {}",
                    d.temporal_start.clone().unwrap_or_default(),
                    d.temporal_end.clone().unwrap_or_default()
                )
            },
        ),
        (
            t("opendata.dataset.issued"),
            d.issued.get(..10).unwrap_or_default().to_owned(),
        ),
        (
            t("opendata.dataset.modified"),
            d.modified.get(..10).unwrap_or_default().to_owned(),
        ),
    ];
    if !d.collections.is_empty() {
        facts.push((t("opendata.dataset.features"), d.feature_count.to_string()));
    }
    facts.push((
        t("opendata.dataset.epochs"),
        epochs
            .iter()
            .map(|ep| format!("{} ({})", ep.title, ep.year))
            .collect::<Vec<_>>()
            .join(", "),
    ));
    facts.retain(|(_, v)| !v.is_empty());
    let downloads: Vec<Download> = offers
        .of(&d)
        .iter()
        .map(|o| download(&d, o, lang))
        .collect();
    let has_imagery_files = offers.of(&d).iter().any(|o| o.level.is_some());
    page::html(&DatasetPage {
        page: cx
            .page(&state.config, title)
            .crumb(t("opendata.crumb_start"), "/")
            .crumb(
                t("opendata.list.title"),
                format!("/opendata{}", lang_suffix(lang)),
            ),
        title: title.to_owned(),
        description: description.to_owned(),
        facts,
        licence: registry::license_name(&d.license).to_owned(),
        licence_url: d.license.clone(),
        credit: format!("{}, {base}/opendata/{}", d.attribution, d.id),
        downloads,
        has_imagery_files,
        preview: preview_map(&d, min_zoom.map_or(0.0, f64::from), lang),
        collection: d.collections.first().cloned(),
        epochs: epochs
            .iter()
            .map(|ep| EpochApis {
                id: ep.id.clone(),
                title: ep.title.clone(),
            })
            .collect(),
        history: history
            .iter()
            .map(|r| Change {
                at: r.get::<_, &str>(0).to_owned(),
                action: r.get::<_, &str>(1).to_owned(),
                subject: r.get::<_, &str>(2).to_owned(),
                amount: r.get::<_, &str>(3).to_owned(),
            })
            .collect(),
        base,
    })
}

/// A download as the table shows it: file, format (with the zoom level and pixel size of an
/// imagery file), size (or that it is being prepared).
fn download(d: &Dataset, o: &Offer, lang: Lang) -> Download {
    let mut format = o.format.label.to_owned();
    if let Some(level) = &o.level {
        format.push_str(&i18n::fill(
            lang,
            "opendata.dataset.level",
            &[&level.zoom, &decimal(level.pixel_size(), 2, lang)],
        ));
        if !level.finest() {
            format.push_str(&i18n::fill(
                lang,
                "opendata.dataset.part",
                &[&(level.part + 1), &level.parts],
            ));
        }
    }
    Download {
        href: o.path(&d.id),
        file: o.file.clone(),
        format,
        bytes: o.bytes,
        size: o.bytes.map(|b| human_size(b, lang)).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_people() {
        assert_eq!(human_size(999, Lang::De), "999 B");
        assert_eq!(human_size(12_345_678, Lang::De), "12,3 MB");
        assert_eq!(human_size(12_345_678, Lang::En), "12.3 MB");
        assert_eq!(human_size(999_960, Lang::De), "1,0 MB");
        assert_eq!(human_size(57_625_175_000, Lang::En), "57.6 GB");
    }

    #[test]
    fn every_theme_has_a_name_in_both_languages() {
        for code in registry::THEMES {
            for lang in Lang::ALL {
                assert!(
                    i18n::tr_opt(lang, &format!("opendata.themes.{code}")).is_some(),
                    "{code} in {lang}"
                );
            }
        }
        for code in registry::FREQUENCIES {
            for lang in Lang::ALL {
                assert!(
                    i18n::tr_opt(lang, &format!("opendata.frequencies.{code}")).is_some(),
                    "{code} in {lang}"
                );
            }
        }
    }
}
