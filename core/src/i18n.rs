//! The languages of the HTML pages and their texts.
//!
//! Every user-visible text of every page of the platform lives in one file per language,
//! `core/i18n/de.toml` and `core/i18n/en.toml`, grouped by page (`[layout]`, `[opendata]`, …).
//! Both are embedded into the binary and parsed once; [`tr`] looks a text up by its dotted key
//! (`"layout.skip_link"`). A unit test keeps the two files in step: the same keys, no empty
//! text, and every key the templates and the code use exists.
//!
//! The language of a request ([`Lang`], an extractor) is `?lang=de|en` when given, else the
//! `lang` cookie, else the best of `Accept-Language`, else German. [`remember_choice`] stores an
//! explicit `?lang=` in that cookie, so the choice holds while a visitor follows links.
//! API texts (JSON, problem details) are not translated here.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::OnceLock;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// A language of the pages. German is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Lang {
    /// Deutsch.
    #[default]
    De,
    /// English.
    En,
}

/// Name of the cookie that keeps the chosen language.
pub const COOKIE: &str = "lang";

impl Lang {
    /// Every language, German first.
    pub const ALL: [Self; 2] = [Self::De, Self::En];

    /// The German or the English of two values, by this language.
    #[must_use]
    pub fn pick<T>(self, de: T, en: T) -> T {
        if self == Self::En { en } else { de }
    }

    /// The ISO 639-1 code (`de`, `en`), as in `<html lang>` and `?lang=`.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::De => "de",
            Self::En => "en",
        }
    }

    /// The language a code names (`de`, `EN`, `en-GB`, …), if it is one of ours.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        let primary = code.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("de") {
            Some(Self::De)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Self::En)
        } else {
            None
        }
    }

    /// The other language: the target of the language switch.
    #[must_use]
    pub fn other(self) -> Self {
        match self {
            Self::De => Self::En,
            Self::En => Self::De,
        }
    }

    /// The text `key` in this language.
    #[must_use]
    pub fn tr(self, key: &str) -> &str {
        tr(self, key)
    }

    /// The language of a request: `?lang=`, then the cookie, then `Accept-Language`, then German.
    #[must_use]
    pub fn of_request(query: Option<&str>, headers: &HeaderMap) -> Self {
        from_query(query)
            .or_else(|| from_cookie(headers))
            .or_else(|| from_accept_language(headers))
            .unwrap_or_default()
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of_request(parts.uri.query(), &parts.headers))
    }
}

/// `lang=de|en` in a raw query string (the last one wins, as with any repeated parameter).
#[must_use]
pub fn from_query(query: Option<&str>) -> Option<Lang> {
    query?
        .split('&')
        .filter_map(|pair| pair.strip_prefix("lang="))
        .filter_map(|v| match v {
            "de" | "DE" => Some(Lang::De),
            "en" | "EN" => Some(Lang::En),
            _ => None,
        })
        .next_back()
}

fn from_cookie(headers: &HeaderMap) -> Option<Lang> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| match value.trim_matches('"') {
            "de" => Some(Lang::De),
            "en" => Some(Lang::En),
            _ => None,
        })
}

/// The supported language the client ranks highest (RFC 9110 §12.5.4; `*` means German).
fn from_accept_language(headers: &HeaderMap) -> Option<Lang> {
    let value = headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
    let mut best: Option<(u16, Lang)> = None;
    for range in value.split(',') {
        let mut pieces = range.split(';');
        let tag = pieces.next().unwrap_or_default().trim();
        let q = pieces
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| quality(v.trim()))
            .unwrap_or(1000);
        let lang = if tag == "*" {
            Some(Lang::default())
        } else {
            Lang::from_code(tag)
        };
        if let Some(lang) = lang
            && q > 0
            && best.is_none_or(|(b, _)| q > b)
        {
            best = Some((q, lang));
        }
    }
    best.map(|(_, lang)| lang)
}

/// `0.8` → 800; anything that is not a quality value is ignored.
fn quality(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = whole.parse().ok()?;
    let fraction: u16 = format!("{fraction:0<3}").parse().ok()?;
    let q = whole.checked_mul(1000)?.checked_add(fraction)?;
    (q <= 1000).then_some(q)
}

/// Middleware: an HTML answer says that it depends on the language choice (`Vary`), and an
/// explicit `?lang=` is remembered in the `lang` cookie for the pages that follow.
pub async fn remember_choice(request: Request, next: Next) -> Response {
    let chosen = from_query(request.uri().query());
    let already = from_cookie(request.headers());
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !is_html {
        return response;
    }
    let headers = response.headers_mut();
    headers.append(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Cookie"),
    );
    if let Some(lang) = chosen
        && already != Some(lang)
        && let Ok(cookie) = HeaderValue::from_str(&format!(
            "{COOKIE}={lang}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly"
        ))
    {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

/// The texts: the platform's file and one per area (petitions), each with German and English.
const DE: &[(&str, &str)] = &[
    ("de.toml", include_str!("../i18n/de.toml")),
    (
        "petitions.de.toml",
        include_str!("../i18n/petitions.de.toml"),
    ),
];
const EN: &[(&str, &str)] = &[
    ("en.toml", include_str!("../i18n/en.toml")),
    (
        "petitions.en.toml",
        include_str!("../i18n/petitions.en.toml"),
    ),
];

type Texts = HashMap<String, String>;

fn texts(lang: Lang) -> &'static Texts {
    static DE_TEXTS: OnceLock<Texts> = OnceLock::new();
    static EN_TEXTS: OnceLock<Texts> = OnceLock::new();
    match lang {
        Lang::De => DE_TEXTS.get_or_init(|| parse_all(DE)),
        Lang::En => EN_TEXTS.get_or_init(|| parse_all(EN)),
    }
}

fn parse_all(files: &[(&str, &str)]) -> Texts {
    let mut out = Texts::new();
    for (name, source) in files {
        out.extend(parse(source, name));
    }
    out
}

/// The file as a map from dotted keys to texts. A malformed file (caught by the unit tests)
/// gives an empty map, so every lookup shows its key instead of failing the request.
fn parse(source: &str, name: &str) -> Texts {
    let mut out = Texts::new();
    match source.parse::<toml::Table>() {
        Ok(table) => flatten("", &table, &mut out),
        Err(e) => tracing::error!(file = name, error = %e, "the texts cannot be read"),
    }
    out
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Texts) {
    for (key, value) in table {
        let key = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&key, inner, out),
            toml::Value::String(text) => {
                out.insert(key, text.clone());
            }
            other => {
                out.insert(key, other.to_string());
            }
        }
    }
}

/// The text `key` (e.g. `"layout.skip_link"`) in `lang`. An unknown key (which the unit tests
/// rule out for every key the code names) is logged and shown as itself.
#[must_use]
pub fn tr(lang: Lang, key: &str) -> &str {
    if let Some(text) = texts(lang).get(key) {
        return text.as_str();
    }
    tracing::warn!(key, lang = lang.code(), "no text for this key");
    key
}

/// The text `key` in `lang`, if there is one (for keys made from data, such as theme codes).
#[must_use]
pub fn tr_opt(lang: Lang, key: &str) -> Option<&'static str> {
    texts(lang).get(key).map(String::as_str)
}

/// The text `key` with `{}` replaced by `values`, in order.
#[must_use]
pub fn fill(lang: Lang, key: &str, values: &[&dyn fmt::Display]) -> String {
    let mut out = String::new();
    let mut values = values.iter();
    let mut pieces = tr(lang, key).split("{}").peekable();
    while let Some(piece) = pieces.next() {
        out.push_str(piece);
        if pieces.peek().is_some()
            && let Some(v) = values.next()
        {
            out.push_str(&v.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    fn keys(lang: Lang) -> BTreeSet<&'static str> {
        texts(lang).keys().map(String::as_str).collect()
    }

    #[test]
    fn both_files_parse() {
        for (name, source) in DE.iter().chain(EN) {
            source
                .parse::<toml::Table>()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(texts(Lang::De).len() > 50);
    }

    #[test]
    fn both_languages_have_the_same_keys_and_no_empty_text() {
        let (de, en) = (keys(Lang::De), keys(Lang::En));
        let only_de: Vec<_> = de.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&de).collect();
        assert!(only_de.is_empty(), "only in de.toml: {only_de:?}");
        assert!(only_en.is_empty(), "only in en.toml: {only_en:?}");
        for lang in Lang::ALL {
            for (key, text) in texts(lang) {
                assert!(!text.trim().is_empty(), "{lang}: {key} is empty");
            }
        }
    }

    /// Every `.rs` and template file of the workspace's crates (the root crate included).
    fn sources() -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs" || e == "html") {
                    out.push(path);
                }
            }
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut out = Vec::new();
        let crates = std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|entry| entry.path())
            .chain([root.clone()]);
        for dir in crates {
            for sub in ["src", "templates"] {
                walk(&dir.join(sub), &mut out);
            }
        }
        out
    }

    /// The literal keys named in `text`: the first argument of `t(`, `t1(`, `t2(` and of the
    /// method `.tr(`; the second of `tr(lang, ` and `fill(lang, `; the value of a `label_key:`
    /// field (back-office navigation and dashboard counts). Arguments may be on the next line
    /// (rustfmt).
    fn used_keys(text: &str) -> Vec<String> {
        fn literal(rest: &str) -> Option<String> {
            let rest = rest.trim_start().strip_prefix('"')?;
            let key = &rest[..rest.find('"')?];
            let dotted = key.contains('.')
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            dotted.then(|| key.to_owned())
        }
        let mut out = Vec::new();
        for call in ["t(", "t1(", "t2(", "tr(", "fill(", "label_key:"] {
            for (at, _) in text.match_indices(call) {
                let before = text[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &text[at + call.len()..];
                if let Some(key) = literal(rest) {
                    out.push(key);
                    continue;
                }
                if !matches!(call, "tr(" | "fill(") {
                    continue;
                }
                // tr(lang, "key") and fill(lang, "key", …): a plain first argument.
                let Some(comma) = rest.find(',') else {
                    continue;
                };
                if rest[..comma].contains(['(', ')', '"']) {
                    continue;
                }
                out.extend(literal(&rest[comma + 1..]));
            }
        }
        out
    }

    #[test]
    fn every_key_the_code_names_exists() {
        let known = keys(Lang::De);
        let mut checked = 0;
        for path in sources() {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for key in used_keys(&text) {
                assert!(
                    known.contains(key.as_str()),
                    "{} names the unknown text {key:?}",
                    path.display()
                );
                checked += 1;
            }
        }
        assert!(
            checked > 50,
            "only {checked} keys found: is the scan broken?"
        );
    }

    /// Keys made from data at run time (`opendata.themes.TRAN`), not named in the code.
    const MADE_FROM_DATA: &[&str] = &[
        "opendata.themes.",
        "opendata.frequencies.",
        "problem.titles.",
        "maengel.status.",
        "maengel.events.",
        // Named by the short key of the refusal (`Invalid::message`).
        "maengel.invalid.",
    ];

    /// Every dotted string literal of a source: a key chosen in a `match` and passed on later
    /// counts as used.
    fn literal_keys(text: &str) -> Vec<String> {
        text.split('"')
            .skip(1)
            .step_by(2)
            .filter(|k| {
                k.contains('.')
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            })
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_text_is_used() {
        let used: BTreeSet<String> = sources()
            .iter()
            .flat_map(|path| {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let mut keys = used_keys(&text);
                keys.extend(literal_keys(&text));
                keys
            })
            .collect();
        let unused: Vec<&str> = keys(Lang::De)
            .into_iter()
            .filter(|k| !used.contains(*k) && !MADE_FROM_DATA.iter().any(|p| k.starts_with(p)))
            .collect();
        assert!(unused.is_empty(), "texts no page uses: {unused:?}");
    }

    #[test]
    fn language_of_a_request() {
        let headers = |pairs: &[(&str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            h
        };
        let none = HeaderMap::new();
        assert_eq!(Lang::of_request(None, &none), Lang::De);
        assert_eq!(Lang::of_request(Some("f=html&lang=en"), &none), Lang::En);
        assert_eq!(Lang::of_request(Some("lang=fr"), &none), Lang::De);
        let cookie = headers(&[("cookie", "a=b; lang=en")]);
        assert_eq!(Lang::of_request(None, &cookie), Lang::En);
        assert_eq!(Lang::of_request(Some("lang=de"), &cookie), Lang::De);
        let english = headers(&[("accept-language", "en-GB,en;q=0.9,de;q=0.5")]);
        assert_eq!(Lang::of_request(None, &english), Lang::En);
        let german = headers(&[("accept-language", "fr, de;q=0.8, en;q=0.7")]);
        assert_eq!(Lang::of_request(None, &german), Lang::De);
        let french = headers(&[("accept-language", "fr, en;q=0.1")]);
        assert_eq!(Lang::of_request(None, &french), Lang::En);
        let refused = headers(&[("accept-language", "en;q=0")]);
        assert_eq!(Lang::of_request(None, &refused), Lang::De);
        let both = headers(&[("accept-language", "en"), ("cookie", "lang=de")]);
        assert_eq!(Lang::of_request(None, &both), Lang::De, "the cookie first");
    }

    #[test]
    fn filled_texts() {
        assert_eq!(
            fill(Lang::En, "ogc.items.count", &[&3]),
            tr(Lang::En, "ogc.items.count").replace("{}", "3")
        );
        let unknown = "no.such.key";
        assert_eq!(tr(Lang::De, unknown), unknown);
    }
}
