//! Labels of the XPlanung code lists the platform shows to citizens (XPlanung 5.x/6.0; the
//! codes are the same in both). Unknown codes are shown as they are.

/// `BP_Rechtsstand`
#[must_use]
pub fn rechtsstand(code: &str) -> Option<&'static str> {
    Some(match code {
        "1000" => "Aufstellungsbeschluss",
        "2000" => "Entwurf",
        "2100" => "Frühzeitige Behördenbeteiligung",
        "2200" => "Frühzeitige Öffentlichkeitsbeteiligung",
        "2300" => "Behördenbeteiligung",
        "2400" => "Öffentliche Auslegung",
        "3000" => "Satzung",
        "4000" => "In Kraft getreten",
        "4500" => "Teilweise untergegangen",
        "5000" => "Untergegangen",
        "50000" => "Aufgehoben",
        "50100" => "Außer Kraft",
        _ => return None,
    })
}

/// `BP_PlanArt`
#[must_use]
pub fn planart(code: &str) -> Option<&'static str> {
    Some(match code {
        "1000" => "Bebauungsplan",
        "10000" => "Einfacher Bebauungsplan",
        "10001" => "Qualifizierter Bebauungsplan",
        "10002" => "Bebauungsplan zur Wohnraumversorgung",
        "3000" => "Vorhabenbezogener Bebauungsplan",
        "3100" => "Vorhaben- und Erschließungsplan",
        "4000" => "Innenbereichssatzung",
        "40000" => "Klarstellungssatzung",
        "40001" => "Entwicklungssatzung",
        "40002" => "Ergänzungssatzung",
        "5000" => "Außenbereichssatzung",
        "7000" => "Örtliche Bauvorschrift",
        "9999" => "Sonstiges",
        _ => return None,
    })
}

/// `XP_AllgArtDerBaulNutzung`
#[must_use]
pub fn allgemeine_art(code: &str) -> Option<&'static str> {
    Some(match code {
        "1000" => "Wohnbaufläche",
        "2000" => "Gemischte Baufläche",
        "3000" => "Gewerbliche Baufläche",
        "4000" => "Sonderbaufläche",
        "9999" => "Sonstige Baufläche",
        _ => return None,
    })
}

/// `XP_BesondereArtDerBaulNutzung` (with the usual abbreviation of the BauNVO)
#[must_use]
pub fn besondere_art(code: &str) -> Option<&'static str> {
    Some(match code {
        "1000" => "Kleinsiedlungsgebiet (WS)",
        "1100" => "Reines Wohngebiet (WR)",
        "1200" => "Allgemeines Wohngebiet (WA)",
        "1300" => "Besonderes Wohngebiet (WB)",
        "1400" => "Dorfgebiet (MD)",
        "1450" => "Dörfliches Wohngebiet (MDW)",
        "1500" => "Mischgebiet (MI)",
        "1550" => "Urbanes Gebiet (MU)",
        "1600" => "Kerngebiet (MK)",
        "1700" => "Gewerbegebiet (GE)",
        "1800" => "Industriegebiet (GI)",
        "2000" => "Sondergebiet Erholung (SO)",
        "2100" => "Sonstiges Sondergebiet (SO)",
        "3000" => "Wochenendhausgebiet",
        "4000" => "Sondergebiet",
        "9999" => "Sonstiges Gebiet",
        _ => return None,
    })
}

/// `BP_Bauweise`
#[must_use]
pub fn bauweise(code: &str) -> Option<&'static str> {
    Some(match code {
        "1000" => "offene Bauweise",
        "2000" => "geschlossene Bauweise",
        "3000" => "abweichende Bauweise",
        _ => return None,
    })
}
