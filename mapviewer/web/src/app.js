// The citizens' map: every layer of the catalog, aerial images of several years with a time
// slider and a swipe comparison, development plans, feature information, search through the
// OGC API, a permalink, and a text view of what the map shows. German first, English by switch.
import maplibregl from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import "./app.css";
import { PLANZV_TEXT, PLAN_ORDER, planStyles, zoneLabel } from "./planzv.js";
import "./print.css";

// ------------------------------------------------------------------------------------------
// Texts

const TEXT = {
  de: {
    skip: "Zur Ebenenauswahl springen", home: "Startseite", panel: "Ebenen", "panel.label": "Ebenen und Werkzeuge",
    "search.label": "Suche nach Straße, Stadtteil, Ort oder Bebauungsplan", "search.placeholder": "Straße, Stadtteil, Ort, Plan …",
    "search.results": "Suchergebnisse", "search.none": "Nichts gefunden", base: "Hintergrund", "base.map": "Stadtplan (ohne Luftbild)",
    time: "Zeitreise", "time.slider": "Jahrgang des Luftbilds", compare: "Zwei Jahrgänge vergleichen (Schieberegler)",
    "compare.with": "Vergleichen mit", layers: "Themen", tools: "Werkzeuge", export: "Kartenbild speichern (PNG)", print: "Drucken (PDF) …",
    permalink: "Link zu dieser Ansicht kopieren", "permalink.done": "Link kopiert:", "export.done": "Kartenbild gespeichert.",
    licences: "Lizenzen der Kartensoftware", text: "Karte als Text: Objekte im Ausschnitt", "text.none": "Keine benannten Objekte im Ausschnitt.",
    "map.label": "Karte", swipe: "Trennlinie zwischen den Jahrgängen (Pfeiltasten verschieben)", "info.label": "Objektinformation", close: "Schließen",
    opacity: "Deckkraft", show: "anzeigen", "in.api": "Dieses Objekt in der OGC API", "group.city": "Stadt", "group.plans": "Planung",
    "group.more": "Weitere Daten", "group.reports": "Mängelmelder", "report.open": "Meldung ansehen", "report.new": "Mangel melden",
    "report.legend.open": "offen", "report.legend.work": "in Bearbeitung", "report.legend.done": "erledigt", "report.legend.closed": "anders abgeschlossen",
    "group.petitions": "Bürgerbeteiligung", "petition.open": "Petition ansehen", "petition.status": "Status", "petition.signatures": "Unterschriften",
    "petition.topic": "Thema", "petition.legend.open": "offen", "petition.legend.closed": "abgeschlossen", "petition.legend.rejected": "abgelehnt", plan: "Bebauungsplan", zoning: "Festsetzungen an dieser Stelle", "zoning.none": "Keine Baugebietsfläche an dieser Stelle.",
    documents: "Planunterlagen", "documents.none": "Keine Planunterlagen hinterlegt.", grayscale: "Graustufen", colour: "Farbe",
    "kind.stadtteile": "Stadtteil", "kind.strassen": "Straße", "kind.poi": "Ort", "kind.bebauungsplaene": "Bebauungsplan",
    "kind.gebaeude": "Gebäude", loading: "Lädt …", error: "Die Karte konnte nicht geladen werden:",
    "plan.nummer": "Nummer", "plan.rechtsstand": "Rechtsstand", "plan.planart": "Planart", "plan.aufstellungsbeschluss": "Aufstellungsbeschluss",
    "plan.satzungsbeschluss": "Satzungsbeschluss", "plan.inkrafttreten": "In Kraft seit", "plan.ausfertigung": "Ausfertigung",
    "zone.art": "Art der baulichen Nutzung", "zone.grz": "Grundflächenzahl (GRZ)", "zone.gfz": "Geschossflächenzahl (GFZ)",
    "zone.geschosse": "Vollgeschosse", "zone.bauweise": "Bauweise",
    fill: "Flächen füllen", "fill.hint": "Über einem Luftbild zeigt die Karte Flächen sonst nur als Umriss.",
    "plan.page": "Alles zum Plan (Planseite)", "plan.urkunde": "Planurkunde (PDF)", scan: "Planscan", "scan.show": "Planscan einblenden",
    "scan.opacity": "Deckkraft des Planscans", "scan.hint": "Der eingescannte Originalplan, lagerichtig über der Karte.",
    "plan.all": "Alle Planinhalte auf der Karte zeigen",
    ...PLANZV_TEXT.de,
  },
  en: {
    skip: "Skip to the layer list", home: "Home", panel: "Layers", "panel.label": "Layers and tools",
    "search.label": "Search for a street, district, place or development plan", "search.placeholder": "Street, district, place, plan …",
    "search.results": "Search results", "search.none": "Nothing found", base: "Background", "base.map": "City map (no aerial image)",
    time: "Time travel", "time.slider": "Year of the aerial image", compare: "Compare two years (swipe)",
    "compare.with": "Compare with", layers: "Themes", tools: "Tools", export: "Save map image (PNG)", print: "Print (PDF) …",
    permalink: "Copy link to this view", "permalink.done": "Link copied:", "export.done": "Map image saved.",
    licences: "Licences of the map software", text: "Map as text: features in view", "text.none": "No named features in view.",
    "map.label": "Map", swipe: "Divider between the years (arrow keys move it)", "info.label": "Feature information", close: "Close",
    opacity: "Opacity", show: "show", "in.api": "This feature in the OGC API", "group.city": "City", "group.plans": "Planning",
    "group.more": "More data", "group.reports": "Defect reports", "report.open": "View the report", "report.new": "Report a problem",
    "report.legend.open": "open", "report.legend.work": "in progress", "report.legend.done": "fixed", "report.legend.closed": "closed otherwise",
    "group.petitions": "Citizen participation", "petition.open": "View the petition", "petition.status": "Status", "petition.signatures": "Signatures",
    "petition.topic": "Topic", "petition.legend.open": "open", "petition.legend.closed": "closed", "petition.legend.rejected": "rejected", plan: "Development plan", zoning: "Zoning at this place", "zoning.none": "No building zone at this place.",
    documents: "Plan documents", "documents.none": "No plan documents.", grayscale: "greyscale", colour: "colour",
    "kind.stadtteile": "District", "kind.strassen": "Street", "kind.poi": "Place", "kind.bebauungsplaene": "Development plan",
    "kind.gebaeude": "Building", loading: "Loading …", error: "The map could not be loaded:",
    "plan.nummer": "Number", "plan.rechtsstand": "Legal status", "plan.planart": "Type of plan", "plan.aufstellungsbeschluss": "Decision to draw up",
    "plan.satzungsbeschluss": "Adopted", "plan.inkrafttreten": "In force since", "plan.ausfertigung": "Engrossed",
    "zone.art": "Type of use", "zone.grz": "Site occupancy index (GRZ)", "zone.gfz": "Floor area ratio (GFZ)",
    "zone.geschosse": "Full storeys", "zone.bauweise": "Building style",
    fill: "Fill areas", "fill.hint": "Otherwise, over an aerial image, the map shows areas as outlines only.",
    "plan.page": "Everything about the plan (plan page)", "plan.urkunde": "Plan document (PDF)", scan: "Plan scan", "scan.show": "Show plan scan",
    "scan.opacity": "Opacity of the plan scan", "scan.hint": "The scanned original plan, in place over the map.",
    "plan.all": "Show all contents of the plan on the map",
    ...PLANZV_TEXT.en,
  },
};

const query = new URLSearchParams(location.search);
const hash = new URLSearchParams(location.hash.slice(1));
let lang = (hash.get("lang") || query.get("lang")) === "en" ? "en" : "de";
const t = (key) => TEXT[lang][key] ?? TEXT.de[key] ?? key;
const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    // Through the CSSOM: the page's Content-Security-Policy allows no inline style attributes.
    else if (k === "style") node.style.cssText = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, "");
    else if (v !== false && v != null) node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null) node.append(c);
  return node;
};

function translatePage() {
  document.documentElement.lang = lang;
  document.title = lang === "en" ? "Stadtkarte – Map" : "Stadtkarte – Karte";
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of document.querySelectorAll("[data-i18n-aria-label]")) node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
  for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
  const other = lang === "en" ? "de" : "en";
  $("lang").textContent = other === "en" ? "English" : "Deutsch";
  $("lang").lang = other;
}

// ------------------------------------------------------------------------------------------
// Cartography of the known layers; other collections get a plain style by geometry.

const FONT = ["sans-serif"];
const HALO = { "text-halo-color": "rgba(255,255,255,0.95)", "text-halo-width": 1.5 };
const ROAD = ["match", ["get", "klasse"], "Hauptverkehrsstraße", "#e8a33d", "Sammelstraße", "#f2cf6b", "#ffffff"];
const POI_KINDS = [
  ["Schule", "S", "#1f5fa8"], ["Spielplatz", "Sp", "#2e7d32"], ["Bushaltestelle", "H", "#b8860b"],
  ["Öffentliche Toilette", "WC", "#6a3d9a"],
];

// The Mängelmelder's status colours (as on its own pages).
const REPORT_COLOURS = {
  eingegangen: "#b3261e", geprueft: "#b3261e", in_bearbeitung: "#8a6d00", erledigt: "#1e7a34",
  nicht_loesbar: "#555555", duplikat: "#555555", abgelehnt: "#555555",
};

// The petitions' status colours (as on their own pages).
const PETITION_COLOURS = { open: "#0b61a4", closed: "#a14a00", rejected: "#595959" };
const BY_PETITION_STATUS = ["match", ["get", "status"], ...Object.entries(PETITION_COLOURS).flat(), "#595959"];

const STYLES = {
  stadtteile: {
    group: "city", legend: [["fill", "#efe9dc", "#7b5e94"]],
    layers: (src) => [
      { id: "stadtteile-fill", type: "fill", source: src, "source-layer": "stadtteile", paint: { "fill-color": "#efe9dc", "fill-opacity": 0.6 } },
      { id: "stadtteile-line", type: "line", source: src, "source-layer": "stadtteile", paint: { "line-color": "#7b5e94", "line-width": 1.5, "line-dasharray": [3, 2] } },
    ],
    labels: (src) => [{ id: "stadtteile-label", type: "symbol", source: src, "source-layer": "stadtteile", maxzoom: 15,
      layout: { "text-field": ["get", "name"], "text-font": FONT, "text-size": 13, "text-transform": "uppercase", "text-letter-spacing": 0.08 },
      paint: { "text-color": "#4a3566", ...HALO } }],
  },
  gewaesser: {
    group: "city", legend: [["fill", "#9cc3e0", "#5d93bd"]],
    layers: (src) => [{ id: "gewaesser-fill", type: "fill", source: src, "source-layer": "gewaesser", paint: { "fill-color": "#9cc3e0", "fill-outline-color": "#5d93bd" } }],
    labels: (src) => [{ id: "gewaesser-label", type: "symbol", source: src, "source-layer": "gewaesser",
      layout: { "text-field": ["get", "name"], "text-font": FONT, "text-size": 14, "symbol-placement": "point" }, paint: { "text-color": "#1f4e79", ...HALO } }],
  },
  gebaeude: {
    group: "city", legend: [["fill", "#d9c7b3", "#a68b70"]],
    layers: (src) => [{ id: "gebaeude-fill", type: "fill", source: src, "source-layer": "gebaeude",
      paint: { "fill-color": ["match", ["get", "funktion"], "Schule", "#c9b3d9", "Kirche", "#d7a9a9", "Öffentliches Gebäude", "#c9b3d9", "Gewerbe", "#cfc6bd", "Garage", "#d8d2cb", "#d9c7b3"],
        "fill-outline-color": "#a68b70" } }],
    labels: () => [],
  },
  strassen: {
    group: "city", legend: [["line", "#e8a33d"], ["line", "#f2cf6b"], ["line", "#ffffff"]],
    legendText: ["Hauptverkehrsstraße", "Sammelstraße", "Anliegerstraße"],
    layers: (src) => [
      { id: "strassen-casing", type: "line", source: src, "source-layer": "strassen", layout: { "line-cap": "round", "line-join": "round" },
        paint: { "line-color": "#8a7b6b", "line-width": ["interpolate", ["exponential", 1.6], ["zoom"], 12, 1.5, 18, 22] } },
      { id: "strassen-line", type: "line", source: src, "source-layer": "strassen", layout: { "line-cap": "round", "line-join": "round" },
        paint: { "line-color": ROAD, "line-width": ["interpolate", ["exponential", 1.6], ["zoom"], 12, 0.8, 18, 18] } },
    ],
    labels: (src) => [{ id: "strassen-label", type: "symbol", source: src, "source-layer": "strassen", minzoom: 14,
      layout: { "text-field": ["get", "name"], "text-font": FONT, "text-size": 12, "symbol-placement": "line" }, paint: { "text-color": "#2b2b2b", ...HALO } }],
  },
  poi: {
    group: "city", legend: POI_KINDS.map(([, , c]) => ["point", c, "#ffffff"]), legendText: POI_KINDS.map(([k]) => k),
    layers: () => [],
    labels: (src) => [{ id: "poi-icon", type: "symbol", source: src, "source-layer": "poi",
      layout: { "icon-image": ["match", ["get", "funktion"], ...POI_KINDS.flatMap(([k]) => [k, `poi-${k}`]), "poi-other"],
        "icon-allow-overlap": true, "text-field": ["step", ["zoom"], "", 16, ["get", "name"]], "text-font": FONT, "text-size": 11,
        "text-offset": [0, 1.4], "text-anchor": "top", "text-optional": true },
      paint: { "text-color": "#1d2733", ...HALO } }],
  },
  // The development plans in the signs of the Planzeichenverordnung (planzv.js).
  ...planStyles(),
  // The Mängelmelder's released reports: GeoJSON (not tiles) so that they cluster at low zoom;
  // coloured by status; refreshed every half minute.
  maengel: {
    group: "reports",
    // Fetched once the layer is shown (setVisible), not with every load of the map.
    source: () => ({ type: "geojson", data: state.visible.has("maengel") ? reportsUrl() : EMPTY, cluster: true, clusterRadius: 40, clusterMaxZoom: 15 }),
    legend: [["point", "#b3261e", "#ffffff"], ["point", "#8a6d00", "#ffffff"], ["point", "#1e7a34", "#ffffff"], ["point", "#555555", "#ffffff"]],
    legendText: ["report.legend.open", "report.legend.work", "report.legend.done", "report.legend.closed"],
    layers: (src) => [
      { id: "maengel-cluster", type: "circle", source: src, filter: ["has", "point_count"],
        paint: { "circle-color": "#0b4f8a", "circle-opacity": 0.85, "circle-stroke-color": "#ffffff", "circle-stroke-width": 2,
          "circle-radius": ["step", ["get", "point_count"], 12, 10, 16, 50, 22, 200, 28] } },
      { id: "maengel-point", type: "circle", source: src, filter: ["!", ["has", "point_count"]],
        paint: { "circle-color": ["match", ["get", "status"], ...Object.entries(REPORT_COLOURS).flat(), "#b3261e"],
          "circle-radius": 7, "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 } },
    ],
    labels: () => [],
  },
  // Petitions: their place (a point, an area, or districts), coloured by status; points on top.
  petitionen: {
    group: "petitions",
    legend: Object.values(PETITION_COLOURS).map((c) => ["fill", `${c}33`, c]),
    legendText: ["petition.legend.open", "petition.legend.closed", "petition.legend.rejected"],
    layers: (src) => [
      { id: "petitionen-fill", type: "fill", source: src, "source-layer": "petitionen", filter: ["==", ["geometry-type"], "Polygon"],
        paint: { "fill-color": BY_PETITION_STATUS, "fill-opacity": 0.2 } },
      { id: "petitionen-line", type: "line", source: src, "source-layer": "petitionen", filter: ["==", ["geometry-type"], "Polygon"],
        layout: { "line-join": "round" }, paint: { "line-color": BY_PETITION_STATUS, "line-width": 2.5 } },
      { id: "petitionen-point", type: "circle", source: src, "source-layer": "petitionen", filter: ["==", ["geometry-type"], "Point"],
        paint: { "circle-color": BY_PETITION_STATUS, "circle-radius": 7, "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 } },
    ],
    labels: () => [],
  },
};

function genericStyle(id, index) {
  const colour = ["#00897b", "#5e35b1", "#d81b60", "#6d4c41", "#3949ab"][index % 5];
  return {
    group: "more", legend: [["fill", colour, colour]],
    layers: (src) => [
      { id: `${id}-fill`, type: "fill", source: src, "source-layer": id, filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": colour, "fill-opacity": 0.35 } },
      { id: `${id}-line`, type: "line", source: src, "source-layer": id, filter: ["!=", ["geometry-type"], "Point"], paint: { "line-color": colour, "line-width": 1.5 } },
      { id: `${id}-point`, type: "circle", source: src, "source-layer": id, filter: ["==", ["geometry-type"], "Point"], paint: { "circle-color": colour, "circle-radius": 5, "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } },
    ],
    labels: () => [],
  };
}

const DEFAULT_ON = new Set(["stadtteile", "gewaesser", "strassen", "gebaeude", "poi", "bebauungsplaene"]);
const ORDER = ["stadtteile", "gewaesser", "gebaeude", "strassen", "poi", ...PLAN_ORDER];
// The plan's contents: a click there opens the plan (with the zoning at that place).
const PLAN_PARTS = new Set(PLAN_ORDER);

// ------------------------------------------------------------------------------------------
// State: catalog, what is shown; restored from and written to the URL fragment.

const EMPTY = { type: "FeatureCollection", features: [] };
const reportsUrl = () => `${location.origin}/maengel/karte.geojson?lang=${lang}`;

const state = {
  collections: [], // from /map/katalog.json: {id, title, attribution, license, minzoom, maxzoom, bounds, tiles}, and the style
  epochs: [], // oldest first: {id, title, year, grayscale, attribution, bbox, minzoom, maxzoom, tiles, parts}
  base: "karte",
  fill: false, // areas filled over an aerial image too (else outlines)
  compare: null,
  visible: new Set(DEFAULT_ON),
  opacity: {},
  feature: null, // "collection/id"
  scan: null, // the plan scan shown: {plan, href, coordinates, opacity}
};

function readHash() {
  const view = (hash.get("karte") || "").split("/").map(Number);
  if (hash.has("grund")) state.base = hash.get("grund");
  if (hash.has("ebenen")) state.visible = new Set(hash.get("ebenen").split(",").filter(Boolean));
  if (hash.has("vergleich")) state.compare = hash.get("vergleich");
  if (hash.has("objekt")) state.feature = hash.get("objekt");
  // The plan scan shown: "planscan=<plan id>:<opacity in %>"; its picture and corners come from
  // the plan's document once the map has loaded.
  const scan = hash.get("planscan") || "";
  const colon = scan.lastIndexOf(":");
  if (colon > 0) {
    const opacity = Number(scan.slice(colon + 1));
    state.scan = { plan: scan.slice(0, colon), opacity: Number.isFinite(opacity) ? Math.max(0, Math.min(1, opacity / 100)) : 0.7 };
  }
  state.fill = hash.get("fuellen") === "1";
  for (const part of (hash.get("deckkraft") || "").split(",").filter(Boolean)) {
    const [id, value] = part.split(":");
    state.opacity[id] = Math.max(0, Math.min(1, Number(value) / 100));
  }
  return view.length === 3 && view.every(Number.isFinite) ? { zoom: view[0], center: [view[2], view[1]] } : null;
}

function writeHash() {
  const c = map.getCenter();
  const p = new URLSearchParams();
  p.set("karte", `${map.getZoom().toFixed(2)}/${c.lat.toFixed(5)}/${c.lng.toFixed(5)}`);
  p.set("grund", state.base);
  p.set("ebenen", [...state.visible].join(","));
  const opacities = Object.entries(state.opacity).filter(([, v]) => v < 1).map(([k, v]) => `${k}:${Math.round(v * 100)}`);
  if (opacities.length) p.set("deckkraft", opacities.join(","));
  if (state.compare) p.set("vergleich", state.compare);
  if (state.fill) p.set("fuellen", "1");
  if (state.feature) p.set("objekt", state.feature);
  if (state.scan) p.set("planscan", `${state.scan.plan}:${Math.round(state.scan.opacity * 100)}`);
  if (lang === "en") p.set("lang", "en");
  history.replaceState(null, "", `${location.pathname}${location.search}#${p.toString().replaceAll("%2F", "/").replaceAll("%2C", ",").replaceAll("%3A", ":")}`);
}

async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

// Everything the map needs before its first tile, in one request: the tiled collections and the
// aerial-image epochs with their tile addresses (so MapLibre fetches no TileJSON).
async function loadCatalog() {
  // A plain GET, as index.html preloads it (extra headers would make the preload go unused).
  const response = await fetch("/map/katalog.json");
  if (!response.ok) throw new Error(`/map/katalog.json: ${response.status}`);
  const katalog = await response.json();
  let generic = 0;
  state.collections = katalog.collections
    .map((c) => ({ ...c, style: STYLES[c.id] || genericStyle(c.id, generic++) }))
    .sort((a, b) => {
      const groups = ["city", "plans", "reports", "petitions", "more"];
      const ia = ORDER.indexOf(a.id), ib = ORDER.indexOf(b.id);
      return groups.indexOf(a.style.group) - groups.indexOf(b.style.group)
        || (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.title.localeCompare(b.title);
    });
  state.epochs = katalog.epochs;
  state.city = katalog.city || "";
  if (!hash.has("grund") && state.epochs.length) state.base = state.epochs[state.epochs.length - 1].id;
  if (state.base !== "karte" && !state.epochs.some((e) => e.id === state.base)) state.base = "karte";
  if (state.compare && !state.epochs.some((e) => e.id === state.compare)) state.compare = null;
}

// ------------------------------------------------------------------------------------------
// Style

function imageryLayers(epochId, prefix = "bild") {
  const epoch = state.epochs.find((e) => e.id === epochId);
  if (!epoch) return { sources: {}, layers: [] };
  const sources = {}, layers = [];
  const parts = epoch.parts?.length ? epoch.parts : [{ part: 0, minzoom: epoch.minzoom, maxzoom: epoch.maxzoom, tiles: epoch.tiles }];
  for (const part of parts) {
    const id = `${prefix}-${epoch.id}-${part.part}`;
    sources[id] = { type: "raster", tiles: part.tiles, tileSize: 256, minzoom: part.minzoom, maxzoom: part.maxzoom,
      bounds: epoch.bbox, attribution: epoch.attribution };
    layers.push({ id, type: "raster", source: id, minzoom: part.part === 0 ? 0 : part.minzoom, paint: { "raster-fade-duration": 0 } });
  }
  return { sources, layers };
}

const OPACITY = { fill: "fill-opacity", line: "line-opacity", circle: "circle-opacity", symbol: "icon-opacity" };

// Over an aerial image the city's areas are outlines, so the photo stays visible, unless the
// user switched fills on ("Flächen füllen"); over the city map they are filled.
const outlined = (base) => base !== "karte" && !state.fill;

// A collection whose style draws areas but no lines gets an outline in its fill colour, shown
// only while its areas are outlined.
function withOutlines(layers) {
  if (layers.some((l) => l.type === "line")) return layers;
  return layers.flatMap((l) => l.type !== "fill" ? [l] : [l, {
    id: `${l.id.replace(/-fill$/, "")}-kontur`, type: "line", source: l.source, "source-layer": l["source-layer"],
    ...(l.filter ? { filter: l.filter } : {}), ...(l.minzoom != null ? { minzoom: l.minzoom } : {}),
    layout: { "line-join": "round" }, paint: { "line-color": l.paint["fill-color"], "line-width": 1.5 }, role: "outline",
  }]);
}

// The opacity a layer is drawn with on a map over `base`: its style's, switched by the area
// mode, times the opacity the user chose for its collection.
function opacityOf(layer, base) {
  const m = layer.metadata;
  const own = m.role === "fill" ? (outlined(base) ? 0 : m.opacity) : m.role === "outline" ? (outlined(base) ? 1 : 0) : m.opacity;
  return own * (state.opacity[m.collection] ?? 1);
}

// The city's base collections come as one vector source: one tile request per tile with all
// their layers (the server joins them, /tiles/a,b,c/{z}/{x}/{y}), instead of one per collection —
// a browser asks a host for six at a time, so the view completes in fewer rounds.
const COMBINED = "v-stadt";

function combinedSource(members) {
  const ids = members.map((c) => c.id).join(",");
  const boxes = members.map((c) => c.bounds).filter(Boolean);
  return {
    type: "vector",
    tiles: members[0].tiles.map((t) => t.replace(`/tiles/${members[0].id}/`, `/tiles/${ids}/`)),
    minzoom: Math.min(...members.map((c) => c.minzoom)), maxzoom: Math.max(...members.map((c) => c.maxzoom)),
    ...(boxes.length === members.length ? { bounds: [Math.min(...boxes.map((b) => b[0])), Math.min(...boxes.map((b) => b[1])),
      Math.max(...boxes.map((b) => b[2])), Math.max(...boxes.map((b) => b[3]))] } : {}),
    attribution: [...new Set(members.map((c) => c.attribution).filter(Boolean))].join(" · "),
  };
}

// Whether a collection's tiles travel in the combined source.
const combined = (c) => c.style.group === "city" && !c.style.source && STYLES[c.id] && c.tiles?.[0]?.includes(`/tiles/${c.id}/`);

function buildStyle(base) {
  const sources = {}, below = [], labels = [];
  const members = state.collections.filter(combined);
  if (members.length) sources[COMBINED] = combinedSource(members);
  for (const c of state.collections) {
    const joined = members.includes(c);
    const src = joined ? COMBINED : `v-${c.id}`;
    // The tile addresses inline: MapLibre fetches no TileJSON first.
    if (!joined) sources[src] = c.style.source ? c.style.source() : { type: "vector", tiles: c.tiles, minzoom: c.minzoom, maxzoom: c.maxzoom,
      ...(c.bounds ? { bounds: c.bounds } : {}), attribution: c.attribution };
    const vis = state.visible.has(c.id) ? "visible" : "none";
    for (const [list, make] of [[below, (s) => withOutlines(c.style.layers(s))], [labels, c.style.labels]]) {
      for (const layer of make(src)) {
        layer.layout = { ...(layer.layout || {}), visibility: vis };
        const opacity = layer.paint?.[OPACITY[layer.type]];
        layer.metadata = { collection: c.id, opacity: typeof opacity === "number" ? opacity : 1,
          role: layer.role || (layer.type === "fill" ? "fill" : null) };
        delete layer.role;
        if (layer.type !== "symbol") layer.paint = { ...layer.paint, [OPACITY[layer.type]]: opacityOf(layer, base) };
        list.push(layer);
      }
    }
  }
  const imagery = imageryLayers(base);
  Object.assign(sources, imagery.sources);
  return {
    version: 8,
    sources,
    layers: [{ id: "hintergrund", type: "background", paint: { "background-color": base === "karte" ? "#f3f1ea" : "#d9d9d9" } },
      ...imagery.layers, ...below, ...labels],
  };
}

// The opacities of a map's layers (see opacityOf), after a change of the user's opacity or of
// the area mode.
function applyOpacity(target) {
  const base = target === map2 ? state.compare : state.base;
  for (const layer of target.getStyle().layers) {
    const id = layer.metadata?.collection;
    const prop = OPACITY[layer.type];
    if (!id || !prop) continue;
    target.setPaintProperty(layer.id, prop, opacityOf(layer, base));
    if (layer.type === "symbol") target.setPaintProperty(layer.id, "text-opacity", state.opacity[id] ?? 1);
  }
}

function addIcons(target) {
  const draw = (name, letter, colour) => {
    const size = 48, c = document.createElement("canvas");
    c.width = c.height = size;
    // Read back at once: a canvas kept in memory (no GPU round trip for getImageData).
    const g = c.getContext("2d", { willReadFrequently: true });
    g.fillStyle = colour; g.strokeStyle = "#ffffff"; g.lineWidth = 4;
    g.beginPath(); g.arc(size / 2, size / 2, size / 2 - 3, 0, Math.PI * 2); g.fill(); g.stroke();
    g.fillStyle = "#ffffff"; g.font = `bold ${letter.length > 1 ? 18 : 24}px sans-serif`; g.textAlign = "center"; g.textBaseline = "middle";
    g.fillText(letter, size / 2, size / 2 + 1);
    if (!target.hasImage(name)) target.addImage(name, g.getImageData(0, 0, size, size), { pixelRatio: 2 });
  };
  for (const [kind, letter, colour] of POI_KINDS) draw(`poi-${kind}`, letter, colour);
  draw("poi-other", "•", "#37474f");
}

// ------------------------------------------------------------------------------------------
// Map

const start = readHash();
translatePage();
let map, map2 = null;
try {
  await loadCatalog();
} catch (e) {
  $("maps").append(el("p", { role: "alert", class: "swipe-label" }, `${t("error")} ${e.message}`));
  throw e;
}
const bounds = state.epochs.length ? state.epochs[state.epochs.length - 1].bbox : [7.49, 50.29, 7.69, 50.41];
map = new maplibregl.Map({
  container: "map",
  style: buildStyle(state.base),
  ...(start ? { center: start.center, zoom: start.zoom } : { bounds, fitBoundsOptions: { padding: 20 } }),
  maxZoom: 20,
  // Labels show at once instead of fading in for 300 ms (which also held back the map's idle,
  // the moment the view is complete); the comparison map does the same.
  fadeDuration: 0,
  hash: false,
  attributionControl: { compact: false },
  // No preserveDrawingBuffer: kept, every frame is copied once more (under software GL the z16
  // view over a photo completes ~150 ms later); the PNG export reads the canvas in the frame's
  // own `render` event instead.
  locale: lang === "en" ? {} : {
    "NavigationControl.ZoomIn": "Hineinzoomen", "NavigationControl.ZoomOut": "Herauszoomen",
    "NavigationControl.ResetBearing": "Nach Norden ausrichten", "GeolocateControl.FindMyLocation": "Meinen Standort zeigen",
    "GeolocateControl.LocationNotAvailable": "Standort nicht verfügbar", "ScaleControl.Meters": "m", "ScaleControl.Kilometers": "km",
    "Map.Title": "Karte", "AttributionControl.ToggleAttribution": "Quellenangaben ein/aus",
  },
});
window.stadtkarte = { map, state, get map2() { return map2; } };
// New and changed reports appear without a reload (while the layer is shown).
setInterval(() => {
  if (!state.visible.has("maengel")) return;
  for (const m of [map, map2]) m?.getSource("v-maengel")?.setData(reportsUrl());
}, 30000);
map.addControl(new maplibregl.NavigationControl({ visualizePitch: false }), "top-right");
map.addControl(new maplibregl.GeolocateControl({ positionOptions: { enableHighAccuracy: true }, trackUserLocation: false }), "top-right");
map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
map.on("styleimagemissing", () => addIcons(map));
map.on("style.load", () => { addIcons(map); applyOpacity(map); scanLayer(); });
map.getCanvas().setAttribute("aria-label", t("map.label"));

function setBase(base) {
  state.base = base;
  map.setStyle(buildStyle(base), { diff: false });
  syncControls();
  writeHash();
}

function setVisible(id, on) {
  if (on) state.visible.add(id); else state.visible.delete(id);
  for (const target of [map, map2].filter(Boolean)) {
    if (on && id === "maengel") target.getSource("v-maengel")?.setData(reportsUrl());
    for (const layer of target.getStyle().layers) {
      if (layer.metadata?.collection === id) target.setLayoutProperty(layer.id, "visibility", on ? "visible" : "none");
    }
  }
  writeHash();
}

// ------------------------------------------------------------------------------------------
// Panel: backgrounds, time slider, compare, layers

function epochLabel(e) {
  return `${e.year} · ${e.title}${e.grayscale ? ` (${t("grayscale")})` : ""}`;
}

function buildPanel() {
  const bases = $("bases");
  bases.replaceChildren(el("legend", { class: "sr" }, t("base")));
  const choices = [["karte", t("base.map")], ...[...state.epochs].reverse().map((e) => [e.id, epochLabel(e)])];
  for (const [id, label] of choices) {
    const input = el("input", { type: "radio", name: "base", id: `base-${id}`, value: id, checked: state.base === id,
      onchange: () => setBase(id) });
    bases.append(el("div", { class: "choice" }, input, el("label", { for: `base-${id}` }, label)));
  }
  const time = $("timetravel");
  time.hidden = state.epochs.length === 0;
  const slider = $("epoch");
  slider.max = String(Math.max(0, state.epochs.length - 1));
  slider.oninput = () => setBase(state.epochs[Number(slider.value)].id);
  const select = $("compare-epoch");
  select.replaceChildren(...state.epochs.map((e) => el("option", { value: e.id }, epochLabel(e))));
  $("compare").onchange = (ev) => setCompare(ev.target.checked ? (select.value || state.epochs[0]?.id) : null);
  $("fill").onchange = (ev) => setFill(ev.target.checked);
  select.onchange = () => setCompare(select.value);

  const list = $("layers");
  list.replaceChildren();
  let group = null;
  for (const c of state.collections) {
    if (c.style.group !== group) {
      group = c.style.group;
      list.append(el("p", { class: "group" }, t(`group.${group}`)));
    }
    const checkbox = el("input", { type: "checkbox", id: `layer-${c.id}`, checked: state.visible.has(c.id),
      onchange: (ev) => setVisible(c.id, ev.target.checked) });
    const [kind, fill, stroke] = c.style.legend[0];
    const swatch = el("span", { class: `swatch ${kind}`, "aria-hidden": "true", style: `background:${fill};border-color:${stroke || fill}` });
    const opacity = el("input", { type: "range", min: "0", max: "100", step: "10", value: String(Math.round((state.opacity[c.id] ?? 1) * 100)),
      id: `opacity-${c.id}`, "aria-label": `${t("opacity")}: ${c.title}`,
      oninput: (ev) => { state.opacity[c.id] = Number(ev.target.value) / 100; applyOpacity(map); if (map2) applyOpacity(map2); writeHash(); } });
    const legend = c.style.legendText
      ? el("ul", { class: "legend" }, c.style.legendText.map((text, i) => {
        const [k, f, s] = c.style.legend[i];
        return el("li", {}, el("span", { class: `swatch ${k}`, "aria-hidden": "true", style: `background:${f};border-color:${s || f}` }), t(text));
      }))
      : null;
    list.append(el("div", { class: "layer" },
      el("div", { class: "row" }, checkbox, swatch, el("label", { for: `layer-${c.id}` }, c.title)),
      el("div", { class: "opacity" }, el("span", { "aria-hidden": "true" }, t("opacity")), opacity),
      legend,
      c.attribution ? el("p", { class: "attribution" }, `© ${c.attribution}`) : null));
  }
  syncControls();
}

function setFill(on) {
  state.fill = on;
  for (const target of [map, map2].filter(Boolean)) applyOpacity(target);
  writeHash();
}

function syncControls() {
  for (const input of document.querySelectorAll("input[name=base]")) input.checked = input.value === state.base;
  // The area mode matters only where an aerial image is shown.
  $("fill-choice").hidden = state.base === "karte" && !state.compare;
  $("fill").checked = state.fill;
  const index = state.epochs.findIndex((e) => e.id === state.base);
  $("epoch").value = String(Math.max(0, index));
  $("epoch-label").textContent = index >= 0 ? epochLabel(state.epochs[index]) : t("base.map");
  $("epoch").setAttribute("aria-valuetext", $("epoch-label").textContent);
  $("compare").checked = Boolean(state.compare);
  $("compare-epoch").disabled = !state.compare;
  if (state.compare) $("compare-epoch").value = state.compare;
}

// ------------------------------------------------------------------------------------------
// Swipe comparison: a second map with the other year, clipped at the divider.

let swipeAt = 50;
function setCompare(epochId) {
  state.compare = epochId;
  const on = Boolean(epochId);
  $("map2").hidden = !on;
  $("swipe").hidden = !on;
  $("swipe-left").hidden = !on;
  $("swipe-right").hidden = !on;
  if (on) {
    if (!map2) {
      map2 = new maplibregl.Map({ container: "map2", style: buildStyle(epochId), center: map.getCenter(), zoom: map.getZoom(),
        interactive: false, attributionControl: false, fadeDuration: 0 });
      map2.on("styleimagemissing", () => addIcons(map2));
      map2.on("style.load", () => { addIcons(map2); applyOpacity(map2); });
    } else {
      map2.setStyle(buildStyle(epochId), { diff: false });
    }
    map2.resize();
    map2.jumpTo({ center: map.getCenter(), zoom: map.getZoom(), bearing: map.getBearing(), pitch: map.getPitch() });
    const left = state.epochs.find((e) => e.id === state.base);
    const right = state.epochs.find((e) => e.id === epochId);
    $("swipe-left").textContent = left ? String(left.year) : t("base.map");
    $("swipe-right").textContent = right ? String(right.year) : "";
    moveSwipe(swipeAt);
  }
  syncControls();
  writeHash();
}

function moveSwipe(percent) {
  swipeAt = Math.max(0, Math.min(100, percent));
  $("swipe").style.left = `${swipeAt}%`;
  $("swipe").setAttribute("aria-valuenow", String(Math.round(swipeAt)));
  $("map2").style.clipPath = `inset(0 0 0 ${swipeAt}%)`;
}

map.on("move", () => {
  if (map2) map2.jumpTo({ center: map.getCenter(), zoom: map.getZoom(), bearing: map.getBearing(), pitch: map.getPitch() });
});
const swipe = $("swipe");
swipe.addEventListener("pointerdown", (ev) => {
  swipe.setPointerCapture(ev.pointerId);
  const rect = $("maps").getBoundingClientRect();
  const move = (e) => moveSwipe(((e.clientX - rect.left) / rect.width) * 100);
  swipe.addEventListener("pointermove", move);
  swipe.addEventListener("pointerup", () => swipe.removeEventListener("pointermove", move), { once: true });
});
swipe.addEventListener("keydown", (ev) => {
  const step = ev.shiftKey ? 10 : 2;
  if (ev.key === "ArrowLeft" || ev.key === "ArrowDown") moveSwipe(swipeAt - step);
  else if (ev.key === "ArrowRight" || ev.key === "ArrowUp") moveSwipe(swipeAt + step);
  else if (ev.key === "Home") moveSwipe(0);
  else if (ev.key === "End") moveSwipe(100);
  else return;
  ev.preventDefault();
});

// ------------------------------------------------------------------------------------------
// Feature information and development plans

const HIDDEN_PROPS = new Set(["geom", "geometry", "attribute"]);
const DATE = /^\d{4}-\d{2}-\d{2}/;
const format = (v) => (v == null || v === "" ? "–" : DATE.test(String(v)) ? new Date(String(v).slice(0, 10)).toLocaleDateString(lang === "en" ? "en-GB" : "de-DE") : String(v));

function table(rows) {
  return el("table", {}, el("tbody", {}, rows.filter(([, v]) => v != null && v !== "").map(([k, v]) => el("tr", {}, el("th", { scope: "row" }, k), el("td", {}, format(v))))));
}

function showInfo(...content) {
  $("info-body").replaceChildren(...content);
  $("info").hidden = false;
}

function closeInfo() {
  $("info").hidden = true;
  state.feature = null;
  // The scan belongs to the plan panel: closed with it.
  removeScan();
  state.scan = null;
  writeHash();
}
$("info-close").onclick = closeInfo;
document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && !$("info").hidden) closeInfo(); });

async function openFeature(collection, id, lngLat) {
  const c = state.collections.find((x) => x.id === collection);
  state.feature = `${collection}/${id}`;
  writeHash();
  showInfo(el("p", {}, t("loading")));
  let feature;
  try {
    feature = await getJson(`/collections/${encodeURIComponent(collection)}/items/${encodeURIComponent(id)}?f=json`);
  } catch (e) {
    showInfo(el("p", { role: "alert" }, e.message));
    return;
  }
  const p = feature.properties || {};
  const api = el("p", {}, el("a", { href: `/collections/${encodeURIComponent(collection)}/items/${encodeURIComponent(id)}?f=html` }, t("in.api")));
  if (collection === "bebauungsplaene") {
    showInfo(...await planInfo(feature, lngLat), api);
    return;
  }
  if (collection === "maengel") {
    // A report: its own page tells the story (history, photos); the API link stays.
    const page = el("p", {}, el("a", { href: `/maengel/${encodeURIComponent(id)}?lang=${lang}` }, t("report.open")));
    showInfo(el("h2", {}, `Nr. ${id}: ${p.category_title || ""}`), el("p", {}, p.address || ""), page, api);
    return;
  }
  if (collection === "petitionen") {
    // A petition: its page has the text, the counts per district and the form to sign.
    const page = el("p", {}, el("a", { href: `/petitionen/${encodeURIComponent(id)}?lang=${lang}` }, t("petition.open")));
    const status = TEXT[lang][`petition.legend.${p.status}`] || p.status;
    showInfo(el("h2", {}, p.title || `${c ? c.title : collection} ${id}`),
      table([[t("petition.status"), status], [t("petition.signatures"), p.signatures], [t("petition.topic"), p.topic_title]]), page, api);
    return;
  }
  const title = p.name || p.strasse && `${p.strasse} ${p.hausnummer || ""}`.trim() || `${c ? c.title : collection} ${id}`;
  const titles = await titlesOf(collection);
  const rows = Object.entries(p).filter(([k]) => !HIDDEN_PROPS.has(k)).map(([k, v]) => [titles[k] || k, v]);
  showInfo(el("h2", {}, title), el("p", {}, c ? c.title : collection), table(rows), api);
}

// The names people know the properties by (the source's own column names, from the
// queryables' titles), fetched once per collection.
const titleCache = new Map();
async function titlesOf(collection) {
  if (!titleCache.has(collection)) {
    titleCache.set(collection, getJson(`/collections/${encodeURIComponent(collection)}/queryables?f=json`)
      .then((q) => Object.fromEntries(Object.entries(q.properties || {}).map(([k, v]) => [k, v.title || k])))
      .catch(() => ({})));
  }
  return titleCache.get(collection);
}

async function planInfo(feature, lngLat) {
  const p = feature.properties || {};
  const out = [el("h2", {}, `${t("plan")}: ${p.name || feature.id}`),
    table([[t("plan.nummer"), p.nummer], [t("plan.planart"), p.planart_text || p.planart], [t("plan.rechtsstand"), p.rechtsstand_text || p.rechtsstand],
      [t("plan.aufstellungsbeschluss"), p.aufstellungsbeschluss], [t("plan.satzungsbeschluss"), p.satzungsbeschluss],
      [t("plan.ausfertigung"), p.ausfertigung], [t("plan.inkrafttreten"), p.inkrafttreten]])];
  out.push(el("h3", {}, t("zoning")));
  if (lngLat && state.collections.some((c) => c.id === "baugebiete")) {
    const point = `POINT(${lngLat.lng.toFixed(7)} ${lngLat.lat.toFixed(7)})`;
    const filter = encodeURIComponent(`S_INTERSECTS(geometry, ${point}) AND plan_id = '${String(feature.id).replaceAll("'", "''")}'`);
    try {
      const zones = await getJson(`/collections/baugebiete/items?f=json&limit=5&filter-lang=cql2-text&filter=${filter}`);
      if (zones.features.length === 0) out.push(el("p", {}, t("zoning.none")));
      for (const z of zones.features) {
        const q = z.properties;
        const storeys = q.geschosse_min != null && q.geschosse_max != null && q.geschosse_min !== q.geschosse_max
          ? `${q.geschosse_min}–${q.geschosse_max}` : q.geschosse_max ?? q.geschosse_min;
        out.push(table([[t("zone.art"), [q.besondere_art_text || q.allg_art_text, q.besondere_art || q.allg_art].filter(Boolean).join(" · ")],
          [t("zone.grz"), q.grz], [t("zone.gfz"), q.gfz], [t("zone.geschosse"), storeys], [t("zone.bauweise"), q.bauweise_text || q.bauweise]]));
      }
    } catch (e) {
      out.push(el("p", { role: "alert" }, e.message));
    }
  }
  // The plan's documents and its scan, from the plan's own document (`/plans/{id}`).
  let plan = null;
  try {
    plan = await getJson(`/plans/${encodeURIComponent(feature.id)}?f=json`);
  } catch {
    plan = null;
  }
  out.push(el("p", {}, el("a", { href: `/plans/${encodeURIComponent(feature.id)}?lang=${lang}` }, t("plan.page"))));
  // The plan's contents (zones, building limits, …) are off at first: one button shows them all.
  const parts = state.collections.filter((c) => c.style.group === "plans").map((c) => c.id);
  if (parts.some((id) => !state.visible.has(id))) {
    const button = el("button", { type: "button", id: "plan-all", onclick: () => {
      for (const id of parts) setVisible(id, true);
      buildPanel();
      button.remove();
    } }, t("plan.all"));
    out.push(el("p", {}, button));
  }
  out.push(el("h3", {}, t("documents")));
  const docs = plan ? plan.dokumente : [];
  if (!docs.length) out.push(el("p", {}, t("documents.none")));
  else {
    // The plan document (Planurkunde, a PDF) first.
    const pdf = (d) => d.type === "application/pdf";
    const sorted = [...docs].sort((a, b) => Number(pdf(b)) - Number(pdf(a)));
    out.push(el("ul", {}, sorted.map((d) => el("li", {}, el("a", { href: d.href, ...(pdf(d) ? { class: "urkunde" } : {}) },
      pdf(d) ? `${t("plan.urkunde")}: ${d.name || d.datei}` : `${d.art}: ${d.name || d.datei}`)))));
  }
  if (plan?.scan) out.push(scanControls(plan));
  return out;
}

// ------------------------------------------------------------------------------------------
// The plan scan over the map: a MapLibre image source placed by the four corners the server
// computed from the scan's world file, with an opacity the user sets.

function scanLayer() {
  if (!state.scan?.href || map.getSource("planscan")) return;
  map.addSource("planscan", { type: "image", url: state.scan.href, coordinates: state.scan.coordinates });
  // Under the plan's boundary line, so the boundary stays visible over the scan.
  const before = map.getLayer("bebauungsplaene-casing") ? "bebauungsplaene-casing" : undefined;
  map.addLayer({ id: "planscan", type: "raster", source: "planscan", paint: { "raster-opacity": state.scan.opacity, "raster-fade-duration": 0 } }, before);
}

function removeScan() {
  if (map.getLayer("planscan")) map.removeLayer("planscan");
  if (map.getSource("planscan")) map.removeSource("planscan");
}

function setScan(plan, on, opacity) {
  removeScan();
  state.scan = on ? { plan: plan.id, href: plan.scan.href, coordinates: plan.scan.coordinates, opacity } : null;
  if (on) scanLayer();
  writeHash();
}

function scanControls(plan) {
  const opacity = state.scan?.plan === plan.id ? state.scan.opacity : 0.7;
  const percent = () => `${Math.round(Number(slider.value))} %`;
  const slider = el("input", { type: "range", id: "scan-opacity", min: "0", max: "100", step: "5", value: String(Math.round(opacity * 100)),
    disabled: state.scan?.plan !== plan.id, "aria-valuetext": `${Math.round(opacity * 100)} %`,
    oninput: () => {
      slider.setAttribute("aria-valuetext", percent());
      output.textContent = percent();
      if (state.scan) {
        state.scan.opacity = Number(slider.value) / 100;
        if (map.getLayer("planscan")) map.setPaintProperty("planscan", "raster-opacity", state.scan.opacity);
        writeHash();
      }
    } });
  const output = el("output", { for: "scan-opacity", id: "scan-opacity-value" }, `${Math.round(opacity * 100)} %`);
  const toggle = el("input", { type: "checkbox", id: "scan-toggle", checked: state.scan?.plan === plan.id,
    onchange: (ev) => { setScan(plan, ev.target.checked, Number(slider.value) / 100); slider.disabled = !ev.target.checked; } });
  return el("div", { class: "scan", role: "group", "aria-labelledby": "scan-heading" },
    el("h3", { id: "scan-heading" }, t("scan")),
    el("p", { class: "hint" }, t("scan.hint")),
    el("div", { class: "choice" }, toggle, el("label", { for: "scan-toggle" }, t("scan.show"))),
    el("div", { class: "scan-opacity" }, el("label", { for: "scan-opacity" }, t("scan.opacity")), slider, output));
}

map.on("click", (ev) => {
  // A cluster of reports opens up.
  const cluster = map.getLayer("maengel-cluster") && map.getLayoutProperty("maengel-cluster", "visibility") !== "none"
    ? map.queryRenderedFeatures(ev.point, { layers: ["maengel-cluster"] })[0] : null;
  if (cluster) {
    map.getSource("v-maengel").getClusterExpansionZoom(cluster.properties.cluster_id)
      .then((zoom) => map.easeTo({ center: cluster.geometry.coordinates, zoom }));
    return;
  }
  const layers = map.getStyle().layers.filter((l) => l.metadata?.collection && l.layout?.visibility !== "none").map((l) => l.id);
  const hits = map.queryRenderedFeatures(ev.point, { layers })
    .map((f) => { if (f.id == null && f.properties.id != null) f.id = f.properties.id; return f; })
    .filter((f) => f.id != null);
  // Prefer the most specific: points, then buildings/zones, then plans, districts last.
  // A petition (shown only when chosen) before everything but reports: its point, then its area.
  const kind = (f) => (f.layer.metadata.collection === "petitionen" ? `petitionen-${f.layer.type === "circle" ? "point" : "area"}` : f.layer.metadata.collection);
  const rank = (f) => ["maengel", "petitionen-point", "petitionen-area", "poi", "gebaeude", "strassen", ...PLAN_ORDER, "gewaesser", "stadtteile"].indexOf(kind(f));
  const plan = hits.find((f) => f.layer.metadata.collection === "bebauungsplaene");
  const best = hits.filter((f) => f.layer.metadata.collection !== "stadtteile" || hits.length === 1).sort((a, b) => (rank(a) + 100) % 100 - (rank(b) + 100) % 100)[0];
  const chosen = plan && (!best || PLAN_PARTS.has(best.layer.metadata.collection) || ["stadtteile", "gewaesser"].includes(best.layer.metadata.collection)) ? plan : best;
  if (chosen) openFeature(chosen.layer.metadata.collection, chosen.id, ev.lngLat);
});
map.on("mousemove", (ev) => {
  const layers = map.getStyle().layers.filter((l) => l.metadata?.collection && l.layout?.visibility !== "none").map((l) => l.id);
  map.getCanvas().style.cursor = map.queryRenderedFeatures(ev.point, { layers }).length ? "pointer" : "";
});

// ------------------------------------------------------------------------------------------
// Search through the OGC API (CQL2, case-insensitive)

const SEARCH = [
  ["stadtteile", ["name"]], ["strassen", ["name"]], ["poi", ["name"]], ["bebauungsplaene", ["name", "nummer"]],
];
let searchSeq = 0, active = -1, hitsFound = [];

function bboxOf(geometry) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c) => { if (typeof c[0] === "number") { b[0] = Math.min(b[0], c[0]); b[1] = Math.min(b[1], c[1]); b[2] = Math.max(b[2], c[0]); b[3] = Math.max(b[3], c[1]); } else c.forEach(walk); };
  walk(geometry.coordinates);
  return b;
}

async function search(text) {
  const seq = ++searchSeq;
  const term = text.trim().replaceAll("'", "''").replaceAll("%", "");
  if (term.length < 2) { renderResults([]); return; }
  const available = new Set(state.collections.map((c) => c.id));
  const results = await Promise.all(SEARCH.filter(([id]) => available.has(id)).map(async ([id, fields]) => {
    const filter = fields.map((f) => `CASEI(${f}) LIKE CASEI('%${term}%')`).join(" OR ");
    try {
      const fc = await getJson(`/collections/${id}/items?f=json&limit=${id === "strassen" ? 40 : 6}&filter-lang=cql2-text&filter=${encodeURIComponent(filter)}`);
      const byName = new Map();
      for (const f of fc.features) {
        const name = f.properties.name || f.properties.nummer || String(f.id);
        const b = bboxOf(f.geometry);
        // Streets are segments: one hit per street and district.
        const key = `${name}\u0000${f.properties.stadtteil || ""}`;
        const seen = byName.get(key);
        if (seen) seen.bbox = [Math.min(seen.bbox[0], b[0]), Math.min(seen.bbox[1], b[1]), Math.max(seen.bbox[2], b[2]), Math.max(seen.bbox[3], b[3])];
        else byName.set(key, { collection: id, id: f.id, name, bbox: b, extra: f.properties.stadtteil || f.properties.nummer || "" });
      }
      return [...byName.values()].slice(0, 6);
    } catch {
      return [];
    }
  }));
  if (seq !== searchSeq) return;
  const lower = text.trim().toLowerCase();
  renderResults(results.flat().sort((a, b) => Number(!a.name.toLowerCase().startsWith(lower)) - Number(!b.name.toLowerCase().startsWith(lower))).slice(0, 12));
}

function renderResults(items) {
  hitsFound = items;
  active = -1;
  const list = $("results");
  list.replaceChildren(...(items.length ? items.map((r, i) => el("li", { id: `hit-${i}`, role: "option", "aria-selected": "false",
    onmousedown: (ev) => { ev.preventDefault(); choose(i); } }, r.name, " ", el("small", {}, `${t(`kind.${r.collection}`)}${r.extra && r.extra !== r.name ? ` · ${r.extra}` : ""}`)))
    : [el("li", { role: "option", "aria-disabled": "true", "aria-selected": "false" }, t("search.none"))]));
  const open = $("q").value.trim().length >= 2;
  list.hidden = !open;
  $("q").setAttribute("aria-expanded", String(open));
  $("q").removeAttribute("aria-activedescendant");
}

function highlight(i) {
  active = i;
  for (const [n, li] of [...$("results").children].entries()) li.setAttribute("aria-selected", String(n === i));
  if (i >= 0) { $("q").setAttribute("aria-activedescendant", `hit-${i}`); $(`hit-${i}`)?.scrollIntoView({ block: "nearest" }); }
}

function choose(i) {
  const r = hitsFound[i];
  if (!r) return;
  $("q").value = r.name;
  $("results").hidden = true;
  $("q").setAttribute("aria-expanded", "false");
  const [w, s, e, n] = r.bbox;
  if (w === e && s === n) map.flyTo({ center: [w, s], zoom: 17 });
  else map.fitBounds([[w, s], [e, n]], { padding: 60, maxZoom: 17, duration: 800 });
  map.once("moveend", () => writeHash());
}

let timer;
$("q").addEventListener("input", (ev) => { clearTimeout(timer); timer = setTimeout(() => search(ev.target.value), 200); });
$("q").addEventListener("keydown", (ev) => {
  if (ev.key === "ArrowDown") { highlight(Math.min(hitsFound.length - 1, active + 1)); ev.preventDefault(); }
  else if (ev.key === "ArrowUp") { highlight(Math.max(0, active - 1)); ev.preventDefault(); }
  else if (ev.key === "Enter") { ev.preventDefault(); choose(active >= 0 ? active : 0); }
  else if (ev.key === "Escape") { $("results").hidden = true; $("q").setAttribute("aria-expanded", "false"); }
});
$("search").addEventListener("submit", (ev) => ev.preventDefault());
$("q").addEventListener("blur", () => setTimeout(() => { $("results").hidden = true; $("q").setAttribute("aria-expanded", "false"); }, 150));

// ------------------------------------------------------------------------------------------
// Tools, text view, language, panel

$("export").onclick = () => {
  map.once("render", () => {
    const link = el("a", { href: map.getCanvas().toDataURL("image/png"), download: `stadtkarte-${new Date().toISOString().slice(0, 10)}.png` });
    document.body.append(link);
    link.click();
    link.remove();
    $("tool-status").textContent = t("export.done");
  });
  map.triggerRepaint();
};
$("permalink").onclick = async () => {
  writeHash();
  try { await navigator.clipboard.writeText(location.href); } catch { /* the link is shown below */ }
  $("tool-status").textContent = `${t("permalink.done")} ${location.href}`;
};
$("lang").onclick = () => {
  lang = lang === "en" ? "de" : "en";
  translatePage();
  // The plan labels' decimal sign follows the language.
  for (const m of [map, map2]) if (m?.getLayer("baugebiete-label")) m.setLayoutProperty("baugebiete-label", "text-field", zoneLabel(lang));
  buildPanel();
  updateTextView();
  writeHash();
};
$("panel-toggle").onclick = () => {
  const panel = $("panel");
  panel.hidden = !panel.hidden;
  $("panel-toggle").setAttribute("aria-expanded", String(!panel.hidden));
  map.resize();
  if (map2) map2.resize();
};
if (matchMedia("(max-width: 720px)").matches) {
  $("panel").hidden = true;
  $("panel-toggle").setAttribute("aria-expanded", "false");
}

function updateTextView() {
  if (!map.isStyleLoaded()) return;
  const layers = map.getStyle().layers.filter((l) => l.metadata?.collection && l.layout?.visibility !== "none").map((l) => l.id);
  const byCollection = new Map();
  for (const f of map.queryRenderedFeatures({ layers })) {
    const name = f.properties.name || f.properties.title || (f.properties.strasse ? `${f.properties.strasse} ${f.properties.hausnummer || ""}`.trim() : null);
    if (!name) continue;
    const id = f.layer.metadata.collection;
    if (!byCollection.has(id)) byCollection.set(id, new Set());
    byCollection.get(id).add(name);
  }
  const list = $("textlist");
  list.replaceChildren();
  if (!byCollection.size) { list.append(el("p", {}, t("text.none"))); return; }
  for (const c of state.collections) {
    const names = byCollection.get(c.id);
    if (!names) continue;
    const sorted = [...names].sort((a, b) => a.localeCompare(b, lang));
    list.append(el("h3", {}, `${c.title} (${sorted.length})`), el("ul", {}, sorted.slice(0, 50).map((n) => el("li", {}, n))));
  }
}

map.on("moveend", () => { writeHash(); updateTextView(); });
map.on("idle", updateTextView);
window.addEventListener("hashchange", () => { /* our own replaceState does not fire; a pasted link reloads */ });

buildPanel();
// The print dialog: its own bundle (print.js, with jsPDF), loaded at the first click; it gets
// what it needs of the map: the style per background, the icons, the shown themes' legend.
const printApp = {
  maplibregl, map: () => map, map2: () => map2, state, lang: () => lang, epochLabel, city: () => state.city,
  // The style as shown, with what was added to it since (a plan scan, opacities, visibility).
  style: (side) => (side === "right" && map2 ? map2 : map).getStyle(),
  prepare: (target) => { target.on("styleimagemissing", () => addIcons(target)); target.on("style.load", () => addIcons(target)); },
  legend: () => state.collections.filter((c) => state.visible.has(c.id)).map((c) => ({ title: c.title,
    items: (c.style.legendText || [null]).map((text, i) => {
      const [kind, fill, stroke] = c.style.legend[i];
      return { kind, fill, stroke, label: text ? t(text) : c.title };
    }) })),
};
$("print").onclick = async () => {
  try {
    const { openPrint } = await import(new URL(`druck.js${new URL(import.meta.url).search}`, import.meta.url).href);
    openPrint(printApp, $("print"));
  } catch (e) {
    $("tool-status").textContent = `${t("error")} ${e.message}`;
  }
};
if (state.compare) map.once("load", () => setCompare(state.compare));
if (state.feature) {
  const [collection, ...rest] = state.feature.split("/");
  map.once("load", () => openFeature(collection, rest.join("/"), null));
}
// A scan named in the link: placed by the plan's document (a plan without a scan drops it).
if (state.scan) {
  const wanted = state.scan;
  map.once("load", async () => {
    let plan = null;
    try { plan = await getJson(`/plans/${encodeURIComponent(wanted.plan)}?f=json`); } catch { plan = null; }
    if (state.scan !== wanted) return;
    if (plan?.scan) setScan(plan, true, wanted.opacity);
    else { state.scan = null; writeHash(); }
  });
}
map.once("load", () => { writeHash(); window.stadtkarte.ready = true; });
