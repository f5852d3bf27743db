//! Turning names from files into safe SQL identifiers and collection ids.
//!
//! Column names from users' files can be anything ("Straße Nr.", "1. Wert", "ID"). They are
//! sanitised, not rejected: lower case, German umlauts transliterated, other characters
//! replaced by `_`, a leading digit prefixed, at most 63 bytes, unique within the table, and
//! never one of the names the platform adds itself (`id`, `geom`).

/// Names the importer adds to every table.
pub const RESERVED: &[&str] = &["id", "geom"];

/// Lower-case ASCII words joined by `_`.
#[must_use]
pub fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'é' | 'è' | 'ê' => out.push('e'),
            'á' | 'à' | 'â' => out.push('a'),
            _ => {
                if !out.ends_with('_') {
                    out.push('_');
                }
            }
        }
    }
    let trimmed = out.trim_matches('_');
    let mut name = if trimmed.is_empty() {
        "feld".to_owned()
    } else {
        trimmed.to_owned()
    };
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert_str(0, "f_");
    }
    name.truncate(63);
    name
}

/// Sanitises every name and makes them unique (`name`, `name_2`, …), avoiding [`RESERVED`].
#[must_use]
pub fn column_names<'a>(originals: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut taken: Vec<String> = RESERVED.iter().map(|s| (*s).to_owned()).collect();
    originals
        .into_iter()
        .map(|original| {
            let base = sanitize(original);
            let mut candidate = base.clone();
            let mut n = 1;
            while taken.contains(&candidate) {
                n += 1;
                let suffix = format!("_{n}");
                let mut stem = base.clone();
                stem.truncate(63 - suffix.len());
                candidate = stem + &suffix;
            }
            taken.push(candidate.clone());
            candidate
        })
        .collect()
}

/// A collection id (`[a-z][a-z0-9_-]*`, at most 63 characters) from a file or layer name.
#[must_use]
pub fn collection_id(name: &str) -> String {
    let mut id = sanitize(name).replace("f_", "");
    if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        id.insert_str(0, "daten_");
    }
    id.truncate(63);
    id
}

/// Whether `id` may name a collection.
#[must_use]
pub fn is_collection_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && id.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitises_what_files_contain() {
        let cases = [
            ("Straße Nr.", "strasse_nr"),
            ("Größe (m²)", "groesse_m"),
            ("1. Wert", "f_1_wert"),
            ("GEBÄUDE-FUNKTION", "gebaeude_funktion"),
            ("   ", "feld"),
            ("name", "name"),
            ("Café", "cafe"),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize(input), expected, "{input}");
        }
        assert_eq!(sanitize(&"x".repeat(100)).len(), 63);
    }

    #[test]
    fn names_are_unique_and_not_reserved() {
        let names = column_names(["ID", "Name", "name", "NAME", "geom", "Straße"]);
        assert_eq!(
            names,
            ["id_2", "name", "name_2", "name_3", "geom_2", "strasse"]
        );
    }

    #[test]
    fn collection_ids() {
        assert_eq!(collection_id("Bäume 2024"), "baeume_2024");
        assert_eq!(collection_id("2024 Bäume"), "daten_2024_baeume");
        assert!(is_collection_id("baeume"));
        assert!(!is_collection_id("Bäume"));
        assert!(!is_collection_id("1a"));
    }
}
