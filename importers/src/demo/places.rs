//! The real names and rough positions the demo city is built around: Koblenz's 30 districts
//! (Stadtteile), its two rivers, and street names.

/// A district of Koblenz with a hand-placed centre and the character of its buildings.
#[derive(Debug, Clone, Copy)]
pub struct District {
    /// Official name.
    pub name: &'static str,
    /// Approximate centre, longitude.
    pub lon: f64,
    /// Approximate centre, latitude.
    pub lat: f64,
    /// 0 (rural) … 1 (old town): block size, building density and height follow it.
    pub urbanity: f64,
    /// Postcode.
    pub plz: &'static str,
    /// Years in which most of its buildings were completed.
    pub built: (i32, i32),
}

const fn d(
    name: &'static str,
    lon: f64,
    lat: f64,
    urbanity: f64,
    plz: &'static str,
    built: (i32, i32),
) -> District {
    District {
        name,
        lon,
        lat,
        urbanity,
        plz,
        built,
    }
}

/// The 30 districts.
pub const DISTRICTS: [District; 30] = [
    d("Altstadt", 7.5975, 50.3605, 1.0, "56068", (1500, 1950)),
    d("Mitte", 7.5925, 50.3558, 0.95, "56068", (1880, 1975)),
    d("Süd", 7.5915, 50.3478, 0.85, "56068", (1890, 1980)),
    d("Oberwerth", 7.6045, 50.3385, 0.4, "56075", (1920, 2000)),
    d("Goldgrube", 7.5790, 50.3562, 0.75, "56073", (1900, 1990)),
    d("Rauental", 7.5770, 50.3488, 0.7, "56073", (1900, 1990)),
    d("Moselweiß", 7.5640, 50.3488, 0.6, "56073", (1920, 2010)),
    d(
        "Karthäuserhofgelände",
        7.5825,
        50.3412,
        0.55,
        "56075",
        (1950, 2010),
    ),
    d(
        "Karthause Nord",
        7.5715,
        50.3392,
        0.6,
        "56075",
        (1962, 2015),
    ),
    d(
        "Karthause Flugfeld",
        7.5600,
        50.3335,
        0.55,
        "56075",
        (1966, 2020),
    ),
    d("Lützel", 7.5880, 50.3705, 0.7, "56070", (1900, 1990)),
    d("Neuendorf", 7.5955, 50.3805, 0.6, "56070", (1900, 2000)),
    d("Wallersheim", 7.5790, 50.3875, 0.5, "56070", (1930, 2010)),
    d("Kesselheim", 7.5640, 50.3955, 0.45, "56070", (1950, 2020)),
    d("Metternich", 7.5595, 50.3655, 0.55, "56072", (1950, 2020)),
    d("Rübenach", 7.5150, 50.3560, 0.4, "56072", (1930, 2020)),
    d("Bubenheim", 7.5340, 50.3735, 0.35, "56070", (1940, 2020)),
    d("Güls", 7.5430, 50.3455, 0.4, "56072", (1920, 2020)),
    d("Lay", 7.5230, 50.3165, 0.3, "56073", (1920, 2015)),
    d("Stolzenfels", 7.5960, 50.3050, 0.15, "56075", (1850, 2000)),
    d(
        "Ehrenbreitstein",
        7.6160,
        50.3635,
        0.7,
        "56077",
        (1700, 1980),
    ),
    d("Niederberg", 7.6230, 50.3765, 0.4, "56077", (1930, 2015)),
    d("Arenberg", 7.6460, 50.3705, 0.35, "56077", (1930, 2020)),
    d("Immendorf", 7.6660, 50.3645, 0.3, "56077", (1950, 2020)),
    d("Asterstein", 7.6265, 50.3525, 0.45, "56077", (1962, 2020)),
    d("Pfaffendorf", 7.6150, 50.3500, 0.5, "56076", (1900, 2000)),
    d(
        "Pfaffendorfer Höhe",
        7.6310,
        50.3430,
        0.45,
        "56076",
        (1962, 2020),
    ),
    d("Horchheim", 7.6110, 50.3355, 0.45, "56076", (1900, 2010)),
    d(
        "Horchheimer Höhe",
        7.6340,
        50.3325,
        0.4,
        "56076",
        (1966, 2023),
    ),
    d("Arzheim", 7.6500, 50.3480, 0.3, "56077", (1930, 2020)),
];

/// A river as a centre line (longitude, latitude) and a width in metres.
#[derive(Debug, Clone, Copy)]
pub struct River {
    /// Name.
    pub name: &'static str,
    /// Width of the water surface in metres.
    pub width: f64,
    /// Centre line, upstream to downstream.
    pub line: &'static [(f64, f64)],
}

/// The Rhine and the Moselle, meeting at the Deutsches Eck.
pub const RIVERS: [River; 2] = [
    River {
        name: "Rhein",
        width: 300.0,
        line: &[
            (7.6000, 50.2850),
            (7.6030, 50.3050),
            (7.6065, 50.3250),
            (7.6075, 50.3400),
            (7.6045, 50.3540),
            (7.6065, 50.3645),
            (7.6010, 50.3760),
            (7.5900, 50.3900),
            (7.5790, 50.4000),
            (7.5840, 50.4150),
        ],
    },
    River {
        name: "Mosel",
        width: 150.0,
        line: &[
            (7.4950, 50.3080),
            (7.5120, 50.3180),
            (7.5300, 50.3280),
            (7.5450, 50.3400),
            (7.5580, 50.3530),
            (7.5750, 50.3625),
            (7.5900, 50.3660),
            (7.6040, 50.3650),
        ],
    },
];

/// Real street names of the inner city, given to the main streets of the central districts.
pub const CENTRAL_STREETS: &[&str] = &[
    "Löhrstraße",
    "Schloßstraße",
    "Casinostraße",
    "Firmungstraße",
    "Kornpfortstraße",
    "Entenpfuhl",
    "Am Plan",
    "Altengraben",
    "Gemüsegasse",
    "Mehlgasse",
    "Rheinstraße",
    "Clemensstraße",
    "Friedrich-Ebert-Ring",
    "Hohenfelder Straße",
    "Markenbildchenweg",
    "Südallee",
    "Mainzer Straße",
    "Hohenzollernstraße",
    "Roonstraße",
    "Moselring",
    "Rizzastraße",
    "Bahnhofstraße",
    "Viktoriastraße",
    "Pfuhlgasse",
    "Emil-Schüller-Straße",
    "Neustadt",
];

/// First parts of generated street names.
pub const NAME_STEMS: &[&str] = &[
    "Ahorn",
    "Birken",
    "Buchen",
    "Eichen",
    "Erlen",
    "Eschen",
    "Linden",
    "Ulmen",
    "Kastanien",
    "Weiden",
    "Tannen",
    "Fichten",
    "Rosen",
    "Tulpen",
    "Nelken",
    "Lilien",
    "Flieder",
    "Holunder",
    "Schlehen",
    "Wacholder",
    "Goethe",
    "Schiller",
    "Lessing",
    "Heine",
    "Mozart",
    "Beethoven",
    "Bach",
    "Händel",
    "Schubert",
    "Brahms",
    "Kant",
    "Gutenberg",
    "Kepler",
    "Röntgen",
    "Humboldt",
    "Mosel",
    "Rhein",
    "Lahn",
    "Eifel",
    "Hunsrück",
    "Taunus",
    "Westerwald",
    "Sonnen",
    "Berg",
    "Tal",
    "Wiesen",
    "Feld",
    "Garten",
    "Kirch",
    "Schul",
    "Mühlen",
    "Brunnen",
    "Burg",
    "Schloss",
    "Kloster",
    "Markt",
    "Wald",
    "Reben",
    "Winzer",
    "Kelter",
    "Hohl",
    "Heide",
    "Quellen",
    "Bienen",
    "Falken",
    "Lerchen",
    "Amsel",
    "Drossel",
    "Finken",
    "Meisen",
    "Schwalben",
    "Sperber",
];

/// Last parts of generated street names, by street class.
pub const NAME_ENDINGS_MAIN: &[&str] = &["straße", "allee", "ring"];
/// Last parts for smaller streets.
pub const NAME_ENDINGS_MINOR: &[&str] = &["straße", "weg", "gasse", "pfad", "straße", "weg"];
