//! Reading XPlanGML 5.x and 6.0 into plain objects: feature type, gml:id, attributes as JSON,
//! the geometry as WKB (arcs kept as curves; PostGIS linearises them), external references.
//!
//! The XML is read with roxmltree; each geometry's GML fragment is handed to GDAL's GML parser,
//! which understands GML 3.2 curves, arcs, rings and surfaces.

use serde_json::{Map, Value};

use super::XplanError as Error;

const XPLAN_NS_PREFIX: &str = "http://www.xplanung.de/xplangml/";
const GML_NS: &str = "http://www.opengis.net/gml/3.2";
const XLINK_NS: &str = "http://www.w3.org/1999/xlink";
/// XPlanGML versions this importer reads.
pub const SUPPORTED: &[&str] = &["5.0", "5.1", "5.2", "5.3", "5.4", "6.0"];

/// One feature of the file.
#[derive(Debug, Clone)]
pub struct PlanObject {
    /// Feature type, e.g. `BP_BaugebietsTeilFlaeche`.
    pub kind: String,
    /// `gml:id`.
    pub gml_id: String,
    /// Every property but the geometry, as JSON.
    pub attributes: Map<String, Value>,
    /// The geometry as WKB (may contain curves), when the object has one.
    pub wkb: Option<Vec<u8>>,
    /// EPSG code of the geometry.
    pub srid: Option<i32>,
}

impl PlanObject {
    /// A property's text value.
    #[must_use]
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.attributes.get(name)? {
            Value::String(s) => Some(s.as_str()),
            Value::Array(a) => a.first().and_then(Value::as_str),
            _ => None,
        }
    }

    /// A nested property's text, e.g. `["gemeinde", "gemeindeName"]`.
    #[must_use]
    pub fn nested_text(&self, path: &[&str]) -> Option<&str> {
        let mut value = self.attributes.get(*path.first()?)?;
        for key in &path[1..] {
            value = match value {
                Value::Array(a) => a.first()?.get(key)?,
                other => other.get(key)?,
            };
        }
        value.as_str()
    }

    /// The `xlink:href` targets of a property, without the leading `#`.
    #[must_use]
    pub fn links(&self, name: &str) -> Vec<String> {
        let one = |v: &Value| {
            v.get("href")
                .and_then(Value::as_str)
                .map(|h| h.trim_start_matches('#').to_owned())
        };
        match self.attributes.get(name) {
            Some(Value::Array(a)) => a.iter().filter_map(one).collect(),
            Some(v) => one(v).into_iter().collect(),
            None => Vec::new(),
        }
    }
}

/// A reference to an external file (plan document, scan).
#[derive(Debug, Clone)]
pub struct ExternalReference {
    /// `referenzURL`: a file name inside the archive, or a web address.
    pub url: String,
    /// `referenzName`
    pub name: Option<String>,
    /// `georefURL`: the world file of a scan.
    pub georef_url: Option<String>,
    /// `typ` code.
    pub typ: Option<String>,
    /// Under `refScan`: a georeferenced scan of the plan.
    pub is_scan: bool,
    /// `gml:id` of the feature that holds the reference.
    pub owner: String,
}

/// A parsed file.
#[derive(Debug, Clone)]
pub struct PlanFile {
    /// XPlanGML version, e.g. `5.4`.
    pub version: String,
    /// Every feature.
    pub objects: Vec<PlanObject>,
    /// Every external reference.
    pub references: Vec<ExternalReference>,
}

/// Parses an XPlanGML document.
pub fn parse(text: &str) -> Result<PlanFile, Error> {
    let text = text.trim_start_matches('\u{feff}');
    let doc = roxmltree::Document::parse(text).map_err(|e| Error::NotXml(e.to_string()))?;
    let root = doc.root_element();
    let namespace = root.tag_name().namespace().unwrap_or_default();
    let Some(version_path) = namespace.strip_prefix(XPLAN_NS_PREFIX) else {
        return Err(Error::NotXplan(format!(
            "the root element is {{{namespace}}}{}",
            root.tag_name().name()
        )));
    };
    let version = version_path.trim_matches('/').replace('/', ".");
    if !SUPPORTED.contains(&version.as_str()) {
        return Err(Error::UnsupportedVersion(version));
    }
    let default_srid = root
        .descendants()
        .find_map(|n| n.attribute("srsName"))
        .and_then(epsg_code);
    let mut objects = Vec::new();
    let mut references = Vec::new();
    for member in root.children().filter(roxmltree::Node::is_element) {
        let name = member.tag_name().name();
        if name != "featureMember" && name != "featureMembers" && name != "member" {
            continue;
        }
        for feature in member.children().filter(roxmltree::Node::is_element) {
            let object = read_object(text, feature, default_srid)?;
            collect_references(feature, &object.gml_id, &mut references);
            objects.push(object);
        }
    }
    Ok(PlanFile {
        version,
        objects,
        references,
    })
}

fn read_object(
    text: &str,
    feature: roxmltree::Node<'_, '_>,
    default_srid: Option<i32>,
) -> Result<PlanObject, Error> {
    let kind = feature.tag_name().name().to_owned();
    let gml_id = feature
        .attribute((GML_NS, "id"))
        .unwrap_or_default()
        .to_owned();
    let mut attributes = Map::new();
    let mut wkb = None;
    let mut srid = None;
    for property in feature.children().filter(roxmltree::Node::is_element) {
        let name = property.tag_name().name();
        if property.tag_name().namespace() == Some(GML_NS) {
            continue; // boundedBy, description, identifier
        }
        let geometry = property
            .children()
            .find(|c| c.is_element() && c.tag_name().namespace() == Some(GML_NS));
        if let Some(geometry) = geometry {
            if wkb.is_none() {
                let fragment = &text[geometry.range()];
                let parsed =
                    gdal::vector::Geometry::from_gml(fragment).map_err(|e| Error::Geometry {
                        gml_id: gml_id.clone(),
                        reason: e.to_string(),
                    })?;
                wkb = Some(parsed.wkb().map_err(|e| Error::Geometry {
                    gml_id: gml_id.clone(),
                    reason: e.to_string(),
                })?);
                srid = geometry
                    .descendants()
                    .find_map(|n| n.attribute("srsName"))
                    .and_then(epsg_code)
                    .or(default_srid);
                if srid.is_none() {
                    return Err(Error::MissingCrs(gml_id));
                }
            }
            continue;
        }
        let value = element_value(property);
        match attributes.get_mut(name) {
            Some(Value::Array(list)) => list.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                attributes.insert(name.to_owned(), value);
            }
        }
    }
    Ok(PlanObject {
        kind,
        gml_id,
        attributes,
        wkb,
        srid,
    })
}

/// A property as JSON: a link, a text, or an object of its children (a data type element such
/// as `XP_Gemeinde` is looked through).
fn element_value(node: roxmltree::Node<'_, '_>) -> Value {
    if let Some(href) = node.attribute((XLINK_NS, "href")) {
        let mut map = Map::new();
        map.insert("href".to_owned(), Value::String(href.to_owned()));
        return Value::Object(map);
    }
    let children: Vec<_> = node
        .children()
        .filter(roxmltree::Node::is_element)
        .collect();
    if children.is_empty() {
        return Value::String(node.text().unwrap_or_default().trim().to_owned());
    }
    if let [single] = children.as_slice()
        && single.tag_name().name().starts_with(char::is_uppercase)
    {
        return element_value(*single);
    }
    let mut map = Map::new();
    for child in children {
        let value = element_value(child);
        let name = child.tag_name().name().to_owned();
        match map.get_mut(&name) {
            Some(Value::Array(list)) => list.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                map.insert(name, value);
            }
        }
    }
    Value::Object(map)
}

fn collect_references(
    feature: roxmltree::Node<'_, '_>,
    owner: &str,
    out: &mut Vec<ExternalReference>,
) {
    for node in feature.descendants().filter(|n| {
        matches!(
            n.tag_name().name(),
            "XP_ExterneReferenz" | "XP_SpezExterneReferenz"
        )
    }) {
        let child = |name: &str| {
            node.children()
                .find(|c| c.tag_name().name() == name)
                .and_then(|c| c.text())
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
        };
        let Some(url) = child("referenzURL") else {
            continue;
        };
        let is_scan = node.ancestors().any(|a| a.tag_name().name() == "refScan");
        out.push(ExternalReference {
            url,
            name: child("referenzName"),
            georef_url: child("georefURL"),
            typ: child("typ"),
            is_scan,
            owner: owner.to_owned(),
        });
    }
}

/// `EPSG:25832`, `urn:ogc:def:crs:EPSG::25832`, `http://www.opengis.net/def/crs/EPSG/0/25832`.
#[must_use]
pub fn epsg_code(srs_name: &str) -> Option<i32> {
    let lower = srs_name.to_ascii_lowercase();
    if !lower.contains("epsg") {
        return None;
    }
    let digits: String = srs_name
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::epsg_code;

    #[test]
    fn srs_names() {
        assert_eq!(epsg_code("EPSG:25832"), Some(25832));
        assert_eq!(epsg_code("urn:ogc:def:crs:EPSG::25833"), Some(25833));
        assert_eq!(
            epsg_code("http://www.opengis.net/def/crs/EPSG/0/4258"),
            Some(4258)
        );
        assert_eq!(epsg_code("CRS:84"), None);
    }
}
