//! A small RDF model (triples of IRIs, blank nodes and literals) with three serialisations:
//! Turtle (as N-Triples lines, which are valid Turtle), RDF/XML and expanded JSON-LD. The
//! catalog is built once as triples; every format writes the same graph.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

/// An RDF term.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Term {
    /// An IRI.
    Iri(String),
    /// A blank node label.
    Blank(String),
    /// A literal with a language or a datatype IRI.
    Literal {
        /// The text.
        value: String,
        /// Language tag.
        lang: Option<&'static str>,
        /// Datatype IRI.
        datatype: Option<&'static str>,
    },
}

/// `rdf:type`
pub const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
/// `xsd:dateTime`
pub const XSD_DATETIME: &str = "http://www.w3.org/2001/XMLSchema#dateTime";
/// `xsd:date`
pub const XSD_DATE: &str = "http://www.w3.org/2001/XMLSchema#date";
/// `xsd:integer`
pub const XSD_INTEGER: &str = "http://www.w3.org/2001/XMLSchema#integer";
/// `xsd:nonNegativeInteger`
pub const XSD_NON_NEGATIVE_INTEGER: &str = "http://www.w3.org/2001/XMLSchema#nonNegativeInteger";
/// `xsd:decimal`
pub const XSD_DECIMAL: &str = "http://www.w3.org/2001/XMLSchema#decimal";

const PREFIXES: &[(&str, &str)] = &[
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    ("dcat", "http://www.w3.org/ns/dcat#"),
    ("dct", "http://purl.org/dc/terms/"),
    ("dcatde", "http://dcat-ap.de/def/dcatde/"),
    ("foaf", "http://xmlns.com/foaf/0.1/"),
    ("vcard", "http://www.w3.org/2006/vcard/ns#"),
    ("hydra", "http://www.w3.org/ns/hydra/core#"),
];

/// IRI helper.
#[must_use]
pub fn iri(s: impl Into<String>) -> Term {
    Term::Iri(s.into())
}

/// Plain or language-tagged literal.
#[must_use]
pub fn text(s: impl Into<String>, lang: Option<&'static str>) -> Term {
    Term::Literal {
        value: s.into(),
        lang,
        datatype: None,
    }
}

/// Typed literal.
#[must_use]
pub fn typed(s: impl Into<String>, datatype: &'static str) -> Term {
    Term::Literal {
        value: s.into(),
        lang: None,
        datatype: Some(datatype),
    }
}

/// A graph under construction.
#[derive(Debug, Default)]
pub struct Graph {
    triples: Vec<(Term, String, Term)>,
    blanks: usize,
}

impl Graph {
    /// Adds a triple.
    pub fn add(&mut self, s: &Term, p: &str, o: Term) {
        self.triples.push((s.clone(), p.to_owned(), o));
    }

    /// A fresh blank node.
    pub fn blank(&mut self) -> Term {
        self.blanks += 1;
        Term::Blank(format!("b{}", self.blanks))
    }

    /// Turtle (one triple per line).
    #[must_use]
    pub fn turtle(&self) -> String {
        let mut out = String::new();
        for (s, p, o) in &self.triples {
            let _ = writeln!(out, "{} <{}> {} .", nt(s), escape_iri(p), nt(o));
        }
        out
    }

    fn by_subject(&self) -> BTreeMap<&Term, Vec<(&str, &Term)>> {
        let mut map: BTreeMap<&Term, Vec<(&str, &Term)>> = BTreeMap::new();
        for (s, p, o) in &self.triples {
            map.entry(s).or_default().push((p.as_str(), o));
        }
        map
    }

    /// RDF/XML.
    #[must_use]
    pub fn rdf_xml(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rdf:RDF");
        for (prefix, ns) in PREFIXES {
            let _ = write!(out, "\n    xmlns:{prefix}=\"{ns}\"");
        }
        out.push_str(">\n");
        for (subject, props) in self.by_subject() {
            match subject {
                Term::Iri(i) => {
                    let _ = writeln!(out, "  <rdf:Description rdf:about=\"{}\">", xml(i));
                }
                Term::Blank(b) => {
                    let _ = writeln!(out, "  <rdf:Description rdf:nodeID=\"{b}\">");
                }
                Term::Literal { .. } => continue,
            }
            for (p, o) in props {
                let Some(name) = qname(p) else { continue };
                match o {
                    Term::Iri(i) => {
                        let _ = writeln!(out, "    <{name} rdf:resource=\"{}\"/>", xml(i));
                    }
                    Term::Blank(b) => {
                        let _ = writeln!(out, "    <{name} rdf:nodeID=\"{b}\"/>");
                    }
                    Term::Literal {
                        value,
                        lang: Some(l),
                        ..
                    } => {
                        let _ =
                            writeln!(out, "    <{name} xml:lang=\"{l}\">{}</{name}>", xml(value));
                    }
                    Term::Literal {
                        value,
                        datatype: Some(d),
                        ..
                    } => {
                        let _ = writeln!(
                            out,
                            "    <{name} rdf:datatype=\"{d}\">{}</{name}>",
                            xml(value)
                        );
                    }
                    Term::Literal { value, .. } => {
                        let _ = writeln!(out, "    <{name}>{}</{name}>", xml(value));
                    }
                }
            }
            out.push_str("  </rdf:Description>\n");
        }
        out.push_str("</rdf:RDF>\n");
        out
    }

    /// Expanded JSON-LD.
    #[must_use]
    pub fn json_ld(&self) -> Value {
        let nodes: Vec<Value> = self
            .by_subject()
            .into_iter()
            .filter_map(|(subject, props)| {
                let id = match subject {
                    Term::Iri(i) => i.clone(),
                    Term::Blank(b) => format!("_:{b}"),
                    Term::Literal { .. } => return None,
                };
                let mut node = serde_json::Map::new();
                node.insert("@id".into(), json!(id));
                for (p, o) in props {
                    if p == RDF_TYPE {
                        if let Term::Iri(t) = o {
                            node.entry("@type")
                                .or_insert_with(|| json!([]))
                                .as_array_mut()?
                                .push(json!(t));
                        }
                        continue;
                    }
                    let value = match o {
                        Term::Iri(i) => json!({"@id": i}),
                        Term::Blank(b) => json!({"@id": format!("_:{b}")}),
                        Term::Literal {
                            value,
                            lang: Some(l),
                            ..
                        } => json!({"@value": value, "@language": l}),
                        Term::Literal {
                            value,
                            datatype: Some(d),
                            ..
                        } => json!({"@value": value, "@type": d}),
                        Term::Literal { value, .. } => json!({"@value": value}),
                    };
                    node.entry(p.to_owned())
                        .or_insert_with(|| json!([]))
                        .as_array_mut()?
                        .push(value);
                }
                Some(Value::Object(node))
            })
            .collect();
        Value::Array(nodes)
    }
}

fn qname(p: &str) -> Option<String> {
    PREFIXES
        .iter()
        .find_map(|(prefix, ns)| p.strip_prefix(ns).map(|local| format!("{prefix}:{local}")))
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn escape_iri(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if matches!(
            c,
            '<' | '>' | '"' | '{' | '}' | '|' | '^' | '`' | '\\' | ' '
        ) {
            let _ = write!(out, "%{:02X}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

fn nt(t: &Term) -> String {
    match t {
        Term::Iri(i) => format!("<{}>", escape_iri(i)),
        Term::Blank(b) => format!("_:{b}"),
        Term::Literal {
            value,
            lang,
            datatype,
        } => {
            let mut out = String::from("\"");
            for c in value.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            out.push('"');
            if let Some(l) = lang {
                let _ = write!(out, "@{l}");
            } else if let Some(d) = datatype {
                let _ = write!(out, "^^<{d}>");
            }
            out
        }
    }
}
