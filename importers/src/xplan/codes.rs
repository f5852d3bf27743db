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

/// `XP_Nutzungsform`: who may use a green or traffic area.
#[must_use]
pub fn nutzungsform(code: &str) -> Option<&'static str> {
    Some(match code {
        "1000" => "Privat",
        "2000" => "Öffentlich",
        _ => return None,
    })
}

/// `XP_ZweckbestimmungGruen`: the general purposes (four digits) and the detailed ones that
/// refine them (five digits, the first two naming the general purpose).
#[must_use]
pub fn zweckbestimmung_gruen(code: &str) -> Option<&'static str> {
    Some(match code {
        "1000" => "Parkanlage",
        "1200" => "Dauerkleingärten",
        "1400" => "Sportplatz",
        "1600" => "Spielplatz",
        "1800" => "Zeltplatz",
        "2000" => "Badeplatz",
        "2200" => "Freizeit und Erholung",
        "2400" => "Spezielle Grünfläche",
        "2600" => "Friedhof",
        "2700" => "Naturerfahrungsraum",
        "10000" => "Historische Parkanlage",
        "10001" => "Naturnahe Parkanlage",
        "10002" => "Parkanlage mit Waldcharakter",
        "10003" => "Naturnahe Uferparkanlage",
        "12000" => "Erholungsgarten",
        "14000" => "Reitsportanlage",
        "14001" => "Hundesportanlage",
        "14002" => "Wassersportanlage",
        "14003" => "Schießstand",
        "14004" => "Golfplatz",
        "14005" => "Skisport",
        "14006" => "Tennisanlage",
        "14007" => "Sonstiger Sportplatz",
        "16000" => "Bolzplatz",
        "16001" => "Abenteuerspielplatz",
        "18000" => "Campingplatz",
        "22000" => "Kleintierhaltung",
        "22001" => "Festplatz",
        "24000" => "Straßenbegleitgrün",
        "24001" => "Böschungsfläche",
        "24002" => "Feld, Wald, Wiese",
        "24003" => "Uferschutzstreifen",
        "24004" => "Abschirmgrün",
        "24005" => "Umweltbildungspark, Schaugatter",
        "9999" => "Sonstiges",
        _ => return None,
    })
}

/// `XP_ZweckbestimmungGemeinbedarf`: general purposes (four digits) and detailed ones.
#[must_use]
pub fn zweckbestimmung_gemeinbedarf(code: &str) -> Option<&'static str> {
    Some(match code {
        "1000" => "Öffentliche Verwaltung",
        "1200" => "Bildung und Forschung",
        "1400" => "Kirche",
        "1600" => "Soziale Einrichtung",
        "1800" => "Gesundheit",
        "2000" => "Kultur",
        "2200" => "Sport",
        "2400" => "Sicherheit und Ordnung",
        "2600" => "Infrastruktur",
        "10000" => "Kommunale Einrichtung",
        "10001" => "Betrieb mit öffentlicher Zweckbestimmung",
        "10002" => "Anlage des Bundes oder Landes",
        "10003" => "Sonstige öffentliche Verwaltung",
        "12000" => "Schule",
        "12001" => "Hochschule",
        "12002" => "Berufsbildende Schule",
        "12003" => "Forschungseinrichtung",
        "12004" => "Sonstige Bildung und Forschung",
        "14000" => "Sakralgebäude",
        "14001" => "Kirchliche Verwaltung",
        "14002" => "Kirchengemeinde",
        "14003" => "Sonstige kirchliche Einrichtung",
        "16000" => "Kindertagesstätte",
        "16001" => "Einrichtung für Jugendliche",
        "16002" => "Einrichtung für Familien",
        "16003" => "Einrichtung für Senioren",
        "16004" => "Sonstige soziale Einrichtung",
        "16005" => "Einrichtung für Menschen mit Behinderung",
        "18000" => "Krankenhaus",
        "18001" => "Sonstige Gesundheitseinrichtung",
        "20000" => "Musik und Theater",
        "20001" => "Bildung und Kultur",
        "20002" => "Sonstige Kultureinrichtung",
        "22000" => "Bad",
        "22001" => "Sportplatz, Sporthalle",
        "22002" => "Sonstige Sportanlage",
        "24000" => "Feuerwehr",
        "24001" => "Schutzbauwerk",
        "24002" => "Justiz",
        "24003" => "Sonstige Einrichtung für Sicherheit und Ordnung",
        "26000" => "Post",
        "26001" => "Sonstige Infrastruktur",
        "9999" => "Sonstiges",
        _ => return None,
    })
}

/// `BP_ZweckbestimmungStrassenverkehr`: the purpose of a traffic area of special purpose.
#[must_use]
pub fn zweckbestimmung_verkehr(code: &str) -> Option<&'static str> {
    Some(match code {
        "1000" => "Parkierungsfläche",
        "1100" => "Fußgängerbereich",
        "1200" => "Verkehrsberuhigter Bereich",
        "1300" => "Rad- und Gehweg",
        "1400" => "Radweg",
        "1500" => "Gehweg",
        "1550" => "Wanderweg",
        "1560" => "Reit- und Kutschweg",
        "1580" => "Wirtschaftsweg",
        "1600" => "Fahrradabstellplatz",
        "1700" => "Überführender Verkehrsweg",
        "1800" => "Unterführender Verkehrsweg",
        "2000" => "Park-and-Ride-Anlage",
        "2100" => "Platz",
        "2200" => "Anschlussfläche",
        "2300" => "Landwirtschaftlicher Verkehr",
        "2400" => "Verkehrsgrün",
        "2500" => "Rastanlage",
        "2600" => "Busbahnhof",
        "3000" => "Carsharing",
        "3100" => "Bikesharing",
        "3200" => "Bike-and-Ride-Anlage",
        "3300" => "Parkhaus",
        "3400" => "Mischverkehrsfläche",
        "3500" => "Ladestation",
        "9999" => "Sonstiges",
        _ => return None,
    })
}
