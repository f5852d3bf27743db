// The development plans in the signs of the Planzeichenverordnung (PlanZV 1990, Anlage): one
// table of colours and lines, used by the citizens' map (app.js) and the small map of a plan's
// page (plan.js), so that a plan looks the same everywhere.
//
// What the PlanZV prescribes, and how it is drawn here:
// - 1. Art der baulichen Nutzung: Wohnbauflächen "rot mittel", gemischte Bauflächen "braun
//   mittel", gewerbliche Bauflächen "grau mittel", Sonderbauflächen "orange mittel"; shades may
//   tell the Baugebiete apart (so WS/WR/WA/WB are lighter to darker reds, and so on). The
//   PlanZV allows the area colours as border bands in a Bebauungsplan: over an aerial image the
//   app draws the zones as coloured borders only.
// - 3.4 Baulinie: a red dash-dot-dot line; 3.5 Baugrenze: a blue dash-dot line; the
//   überbaubare Grundstücksfläche they enclose is left light.
// - 4. Flächen für den Gemeinbedarf: magenta; 6. Verkehrsflächen: ochre areas with the green
//   Straßenbegrenzungslinie (6.2); 9. Grünflächen: green.
// - 15.13 Grenze des räumlichen Geltungsbereichs: a broad dashed black line.
// Codes are XPlanung's (XP_AllgArtDerBaulNutzung, XP_BesondereArtDerBaulNutzung), as imported.

// Zones by their special type (besondere_art): [code, abbreviation, colour, border colour].
export const ZONES = [
  ["1000", "WS", "#f4aaa1", "#b23a2e"], ["1100", "WR", "#ee8f84", "#b23a2e"], ["1200", "WA", "#e5766a", "#a32f24"],
  ["1300", "WB", "#d65f53", "#8f261c"],
  ["1400", "MD", "#d6ae84", "#7a4f25"], ["1450", "MDW", "#d9b690", "#7a4f25"], ["1500", "MI", "#c99a6c", "#6e451e"],
  ["1550", "MU", "#bb8a5c", "#6e451e"], ["1600", "MK", "#a97648", "#5c3815"],
  ["1700", "GE", "#b3b3b3", "#4d4d4d"], ["1800", "GI", "#999999", "#3d3d3d"],
  ["2000", "SO", "#f8bd7e", "#a85a10"], ["2100", "SO", "#f5a95c", "#a85a10"], ["3000", "SO", "#f8bd7e", "#a85a10"],
  ["4000", "SO", "#f5a95c", "#a85a10"],
];
// Zones by their general type (allg_art) when the special one is missing.
export const AREAS = [
  ["1000", "W", "#e5766a", "#a32f24"], ["2000", "M", "#c99a6c", "#6e451e"], ["3000", "G", "#b3b3b3", "#4d4d4d"],
  ["4000", "S", "#f5a95c", "#a85a10"],
];
const OTHER_ZONE = ["#e0d6a8", "#7a6a2a"];

// The colour of a zone (i = 2) or of its border (i = 3), from its codes.
const byCode = (i, fallback) => ["match", ["coalesce", ["get", "besondere_art"], ""], ...ZONES.flatMap((z) => [z[0], z[i]]),
  ["match", ["coalesce", ["get", "allg_art"], ""], ...AREAS.flatMap((z) => [z[0], z[i]]), fallback]];
export const ZONE_FILL = byCode(2, OTHER_ZONE[0]);
export const ZONE_LINE = byCode(3, OTHER_ZONE[1]);
export const ZONE_ABBR = ["match", ["coalesce", ["get", "besondere_art"], ""], ...ZONES.flatMap((z) => [z[0], z[1]]),
  ["match", ["coalesce", ["get", "allg_art"], ""], ...AREAS.flatMap((z) => [z[0], z[1]]), ""]];

export const COLOURS = {
  geltungsbereich: "#1a1a1a",
  baugrenze: "#1f4fd1",
  baulinie: "#d7191c",
  verkehr: "#f3d98b",
  verkehrBesonders: "#f8e8b8",
  strassenbegrenzung: "#2e8540",
  gruen: "#8cc56a",
  gruenRand: "#3d7a26",
  gemeinbedarf: "#e889c6",
  gemeinbedarfRand: "#a3307e",
};

// Dash patterns in line widths: dash-dot (Baugrenze), dash-dot-dot (Baulinie), dashes
// (Geltungsbereich).
export const DASH = { baugrenze: [4, 1.5, 1, 1.5], baulinie: [4, 1.2, 0.8, 1.2, 0.8, 1.2], geltungsbereich: [3, 1.5] };

// A CSS background that draws a dash pattern in a legend swatch (the page's CSP allows no
// inline SVG styles; a gradient through the CSSOM is fine).
function dashed(colour, pattern) {
  const unit = 2.2;
  let at = 0;
  const stops = pattern.map((len, i) => {
    const from = at;
    at += len * unit;
    return `${i % 2 === 0 ? colour : "transparent"} ${from}px ${at}px`;
  });
  return `repeating-linear-gradient(90deg, ${stops.join(", ")})`;
}

// Legend labels (German, English), by key.
export const PLANZV_TEXT = {
  de: {
    "planzv.geltungsbereich": "Geltungsbereich (PlanZV 15.13)",
    "planzv.wohn": "Wohngebiete W (rot)", "planzv.misch": "Gemischte Gebiete M (braun)", "planzv.gewerbe": "Gewerbe- und Industriegebiete G (grau)",
    "planzv.sonder": "Sondergebiete S (orange)",
    "planzv.ueberbaubar": "Überbaubare Grundstücksfläche", "planzv.baugrenze": "Baugrenze (PlanZV 3.5)", "planzv.baulinie": "Baulinie (PlanZV 3.4)",
    "planzv.strasse": "Straßenverkehrsfläche mit Straßenbegrenzungslinie", "planzv.verkehr": "Verkehrsfläche besonderer Zweckbestimmung",
    "planzv.gruen": "Grünfläche", "planzv.gemeinbedarf": "Fläche für den Gemeinbedarf",
  },
  en: {
    "planzv.geltungsbereich": "Boundary of the plan (PlanZV 15.13)",
    "planzv.wohn": "Residential zones W (red)", "planzv.misch": "Mixed zones M (brown)", "planzv.gewerbe": "Commercial and industrial zones G (grey)",
    "planzv.sonder": "Special zones S (orange)",
    "planzv.ueberbaubar": "Buildable area", "planzv.baugrenze": "Building limit (Baugrenze, PlanZV 3.5)",
    "planzv.baulinie": "Building line (Baulinie, PlanZV 3.4)",
    "planzv.strasse": "Road area with its boundary line", "planzv.verkehr": "Traffic area for a special purpose",
    "planzv.gruen": "Green space", "planzv.gemeinbedarf": "Area for public facilities",
  },
};

const FONT = ["sans-serif"];
const HALO = { "text-halo-color": "rgba(255,255,255,0.95)", "text-halo-width": 1.5 };
const widthBy = (lo, hi) => ["interpolate", ["linear"], ["zoom"], 13, lo, 19, hi];

// An area with a border: [fill layer, line layer].
const area = (id, src, layer, fill, opacity, line, width, minzoom) => [
  { id: `${id}-fill`, type: "fill", source: src, "source-layer": layer, minzoom, paint: { "fill-color": fill, "fill-opacity": opacity } },
  { id: `${id}-line`, type: "line", source: src, "source-layer": layer, minzoom, layout: { "line-join": "round" },
    paint: { "line-color": line, "line-width": width } },
];

// The label of a building zone, as the plan's "Nutzungsschablone" has it: kind, GRZ and GFZ one
// below the other, with the page language's decimal sign ("WA", "GRZ 0,4", "GFZ 0,8" in German).
export function zoneLabel(lang = document.documentElement.lang) {
  const locale = lang === "en" ? "en" : "de";
  const number = (key) => ["number-format", ["get", key], { locale, "max-fraction-digits": 2 }];
  return ["concat", ZONE_ABBR,
    ["case", ["has", "grz"], ["concat", "\n", "GRZ ", number("grz")], ""],
    ["case", ["has", "gfz"], ["concat", "\n", "GFZ ", number("gfz")], ""]];
}

// The styles of the plan collections, keyed by collection id, in the shape app.js uses:
// group, legend swatches ([kind, fill, border]), legend texts, layers(source), labels(source).
// `layer` is the vector tiles' source-layer (the collection id); plan.js passes null for its
// GeoJSON sources.
export function planStyles() {
  const line = (colour) => ["line", colour, colour];
  return {
    baugebiete: {
      group: "plans", legendText: ["planzv.wohn", "planzv.misch", "planzv.gewerbe", "planzv.sonder"],
      legend: [["fill", "#e5766a", "#a32f24"], ["fill", "#c99a6c", "#6e451e"], ["fill", "#b3b3b3", "#4d4d4d"], ["fill", "#f5a95c", "#a85a10"]],
      layers: (src, layer = "baugebiete") => area("baugebiete", src, layer, ZONE_FILL, 0.55, ZONE_LINE, widthBy(1, 2.5), 10),
      labels: (src, layer = "baugebiete") => [{ id: "baugebiete-label", type: "symbol", source: src, "source-layer": layer, minzoom: 15,
        layout: { "text-field": zoneLabel(), "text-font": FONT, "text-size": 12 },
        paint: { "text-color": "#3a2a10", ...HALO } }],
    },
    gemeinbedarfsflaechen: {
      group: "plans", legendText: ["planzv.gemeinbedarf"], legend: [["fill", COLOURS.gemeinbedarf, COLOURS.gemeinbedarfRand]],
      layers: (src, layer = "gemeinbedarfsflaechen") => area("gemeinbedarfsflaechen", src, layer, COLOURS.gemeinbedarf, 0.6, COLOURS.gemeinbedarfRand, widthBy(1, 2), 12),
      labels: () => [],
    },
    gruenflaechen: {
      group: "plans", legendText: ["planzv.gruen"], legend: [["fill", COLOURS.gruen, COLOURS.gruenRand]],
      layers: (src, layer = "gruenflaechen") => area("gruenflaechen", src, layer, COLOURS.gruen, 0.6, COLOURS.gruenRand, widthBy(1, 2), 12),
      labels: () => [],
    },
    strassenverkehrsflaechen: {
      group: "plans", legendText: ["planzv.strasse"], legend: [["fill", COLOURS.verkehr, COLOURS.strassenbegrenzung]],
      layers: (src, layer = "strassenverkehrsflaechen") => area("strassenverkehrsflaechen", src, layer, COLOURS.verkehr, 0.7, COLOURS.strassenbegrenzung, widthBy(1, 2.5), 12),
      labels: () => [],
    },
    verkehrsflaechen_besonderer_zweckbestimmung: {
      group: "plans", legendText: ["planzv.verkehr"], legend: [["fill", COLOURS.verkehrBesonders, COLOURS.strassenbegrenzung]],
      layers: (src, layer = "verkehrsflaechen_besonderer_zweckbestimmung") => area("verkehrsflaechen_besonderer_zweckbestimmung", src, layer,
        COLOURS.verkehrBesonders, 0.7, COLOURS.strassenbegrenzung, widthBy(1, 2.5), 12),
      labels: () => [],
    },
    ueberbaubare_flaechen: {
      // Left light: inside the Baugrenzen the zone's colour is paler.
      group: "plans", legendText: ["planzv.ueberbaubar"], legend: [["fill", "#fdf3ef", COLOURS.baugrenze]],
      layers: (src, layer = "ueberbaubare_flaechen") => area("ueberbaubare_flaechen", src, layer, "#ffffff", 0.45, COLOURS.baugrenze, 0.8, 14),
      labels: () => [],
    },
    baugrenzen: {
      group: "plans", legendText: ["planzv.baugrenze"], legend: [["line", dashed(COLOURS.baugrenze, DASH.baugrenze), COLOURS.baugrenze]],
      layers: (src, layer = "baugrenzen") => [{ id: "baugrenzen-line", type: "line", source: src, "source-layer": layer, minzoom: 14,
        paint: { "line-color": COLOURS.baugrenze, "line-width": widthBy(1.2, 3), "line-dasharray": DASH.baugrenze } }],
      labels: () => [],
    },
    baulinien: {
      group: "plans", legendText: ["planzv.baulinie"], legend: [["line", dashed(COLOURS.baulinie, DASH.baulinie), COLOURS.baulinie]],
      layers: (src, layer = "baulinien") => [{ id: "baulinien-line", type: "line", source: src, "source-layer": layer, minzoom: 14,
        paint: { "line-color": COLOURS.baulinie, "line-width": widthBy(1.4, 3.5), "line-dasharray": DASH.baulinie } }],
      labels: () => [],
    },
    bebauungsplaene: {
      // The fill is barely there: it makes the whole plan clickable.
      group: "plans", legendText: ["planzv.geltungsbereich"],
      legend: [["line", dashed(COLOURS.geltungsbereich, DASH.geltungsbereich), COLOURS.geltungsbereich]],
      layers: (src, layer = "bebauungsplaene") => [
        { id: "bebauungsplaene-fill", type: "fill", source: src, "source-layer": layer, paint: { "fill-color": "#ffffff", "fill-opacity": 0.05 } },
        { id: "bebauungsplaene-casing", type: "line", source: src, "source-layer": layer, layout: { "line-join": "round" },
          paint: { "line-color": "#ffffff", "line-width": widthBy(4, 8), "line-opacity": 0.7 } },
        { id: "bebauungsplaene-line", type: "line", source: src, "source-layer": layer, layout: { "line-join": "round" },
          paint: { "line-color": COLOURS.geltungsbereich, "line-width": widthBy(2.5, 5), "line-dasharray": DASH.geltungsbereich } },
      ],
      labels: (src, layer = "bebauungsplaene") => [{ id: "bebauungsplaene-label", type: "symbol", source: src, "source-layer": layer,
        layout: { "text-field": ["coalesce", ["get", "nummer"], ["get", "name"]], "text-font": FONT, "text-size": 12 },
        paint: { "text-color": "#1a1a1a", ...HALO } }],
    },
  };
}

// The drawing order of the plan collections, bottom to top.
export const PLAN_ORDER = ["baugebiete", "gemeinbedarfsflaechen", "gruenflaechen", "strassenverkehrsflaechen",
  "verkehrsflaechen_besonderer_zweckbestimmung", "ueberbaubare_flaechen", "baugrenzen", "baulinien", "bebauungsplaene"];
