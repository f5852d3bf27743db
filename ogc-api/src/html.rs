//! The HTML pages of the API: plain, readable, accessible, German first, without scripts.

use stadtkarte_core::problem::escape_html;

/// A whole page around `body`.
#[must_use]
pub fn page(title: &str, breadcrumbs: &[(&str, &str)], body: &str) -> String {
    let crumbs: Vec<String> = breadcrumbs
        .iter()
        .map(|(label, href)| {
            format!(
                "<a href=\"{}\">{}</a>",
                escape_html(href),
                escape_html(label)
            )
        })
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"de\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} – Stadtkarte</title><style>{STYLE}</style></head><body>\
         <nav aria-label=\"Pfad\">{}</nav><main><h1>{title}</h1>{body}</main></body></html>\n",
        crumbs.join(" › "),
        title = escape_html(title),
    )
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:64rem;margin:1rem auto;padding:0 1rem;color:#1a1a1a}\
a{color:#0b4f8a}a:focus{outline:3px solid #e07b00}nav{font-size:.9rem;margin-bottom:1rem}\
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left;vertical-align:top}\
th{background:#eef2f6}code{background:#f3f3f3;padding:0 .2rem}svg{border:1px solid #bbb;background:#f7f9f4;max-width:100%;max-height:60vh;width:auto;height:auto}\
.links li{margin:.2rem 0}";

/// A list of links as (label, href, media type).
#[must_use]
pub fn link_list(links: &[(String, String, String)]) -> String {
    let items: String = links
        .iter()
        .map(|(label, href, media)| {
            format!(
                "<li><a href=\"{}\">{}</a> <code>{}</code></li>",
                escape_html(href),
                escape_html(label),
                escape_html(media)
            )
        })
        .collect();
    format!("<ul class=\"links\">{items}</ul>")
}
