// The maps of the petitions' pages. Every page works without this script; with it:
// - the start form draws the petition's place on a map, a point or an area, by mouse, touch or
//   keyboard, into its hidden field `geometrie` (a GeoJSON geometry in WGS84);
// - the list shows the petitions on a map, coloured by status;
// - a petition's page shows its place, and its signatures per district as a choropleth that
//   follows new signatures (every 15 s while the tab is visible), with the page's counts.
// Only the platform's own tiles and APIs are used. The hooks (ids and data-* attributes) are
// named at the end of this file.
import maplibregl from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import "./petitionen.css";
import { LOCALE_DE, baseStyle, bboxOf, el, makeMap } from "./citymap.js";

const TEXT = {
  de: {
    locale: LOCALE_DE, numbers: "de-DE",
    drawRegion: "Ort der Petition einzeichnen",
    drawMap: "Karte zum Einzeichnen. Pfeiltasten verschieben die Karte, Plus und Minus zoomen, die Eingabetaste setzt in der Kartenmitte einen Punkt.",
    hint: {
      punkt: "Klicken oder tippen Sie auf die Karte, um den Punkt zu setzen. Mit der Tastatur: Verschieben Sie die Karte mit den Pfeiltasten, bis das Fadenkreuz auf dem Ort liegt, und wählen Sie „Punkt hier setzen“.",
      flaeche: "Klicken oder tippen Sie nacheinander auf die Eckpunkte der Fläche; ab drei Eckpunkten ist sie geschlossen. Mit der Tastatur: Verschieben Sie die Karte mit den Pfeiltasten, bis das Fadenkreuz auf einem Eckpunkt liegt, und wählen Sie „Eckpunkt hier hinzufügen“.",
    },
    setPoint: "Punkt hier setzen", addVertex: "Eckpunkt hier hinzufügen", undo: "Letzten Eckpunkt entfernen", reset: "Neu beginnen",
    noPoint: "Noch kein Punkt gesetzt.", point: "Punkt gesetzt.", pointIn: (d) => `Punkt gesetzt, im Stadtteil ${d}.`,
    pointOutside: "Punkt gesetzt – er liegt außerhalb der Stadtteile.",
    vertices: (n) => (n === 0 ? "Noch kein Eckpunkt gesetzt." : n === 1 ? "1 Eckpunkt – noch 2 bis zur Fläche"
      : n === 2 ? "2 Eckpunkte – noch 1 bis zur Fläche" : `${n} Eckpunkte – die Fläche ist geschlossen`),
    crossing: "Achtung: Die Umrisslinie kreuzt sich selbst. Bitte entfernen Sie Eckpunkte oder beginnen Sie neu.",
    listRegion: "Karte der Petitionen",
    listMap: "Karte der Petitionen. Pfeiltasten verschieben die Karte, die Eingabetaste zeigt die Petitionen in der Kartenmitte.",
    legend: "Legende", status: { open: "offen", closed: "abgeschlossen", rejected: "abgelehnt" },
    signatures: (n, s) => (n === 1 ? "1 Unterschrift" : `${s} Unterschriften`),
    placeRegion: "Ort der Petition", placeMap: "Karte: Ort der Petition",
    choroRegion: "Unterschriften nach Stadtteil",
    choroMap: "Karte der Unterschriften nach Stadtteil. Pfeiltasten verschieben die Karte; der Stadtteil in der Kartenmitte wird genannt.",
    choroLegend: "Unterschriften je Stadtteil", outside: "Außerhalb der Stadtteile", error: "Die Petitionen konnten nicht geladen werden.",
  },
  en: {
    locale: {}, numbers: "en-GB",
    drawRegion: "Draw the place of the petition",
    drawMap: "Map for drawing. Arrow keys move the map, plus and minus zoom, Enter puts a point in the centre of the map.",
    hint: {
      punkt: "Click or tap the map to set the point. With the keyboard: move the map with the arrow keys until the crosshair is on the place, then choose “Put the point here”.",
      flaeche: "Click or tap the corners of the area one after the other; from three corners on, it is closed. With the keyboard: move the map with the arrow keys until the crosshair is on a corner, then choose “Add a corner here”.",
    },
    setPoint: "Put the point here", addVertex: "Add a corner here", undo: "Remove the last corner", reset: "Start again",
    noPoint: "No point set yet.", point: "Point set.", pointIn: (d) => `Point set, in the district ${d}.`,
    pointOutside: "Point set – it lies outside the districts.",
    vertices: (n) => (n === 0 ? "No corner set yet." : n === 1 ? "1 corner – 2 more for an area"
      : n === 2 ? "2 corners – 1 more for an area" : `${n} corners – the area is closed`),
    crossing: "Note: the outline crosses itself. Please remove corners or start again.",
    listRegion: "Map of the petitions",
    listMap: "Map of the petitions. Arrow keys move the map, Enter shows the petitions in the centre of the map.",
    legend: "Legend", status: { open: "open", closed: "closed", rejected: "rejected" },
    signatures: (n, s) => (n === 1 ? "1 signature" : `${s} signatures`),
    placeRegion: "Place of the petition", placeMap: "Map: place of the petition",
    choroRegion: "Signatures by district",
    choroMap: "Map of the signatures by district. Arrow keys move the map; the district in the centre of the map is named.",
    choroLegend: "Signatures per district", outside: "Outside the districts", error: "The petitions could not be loaded.",
  },
};

// The language of a hook: its data-lang, else the page's.
function textOf(node) {
  const t = TEXT[(node.dataset.lang || document.documentElement.lang) === "en" ? "en" : "de"];
  const numbers = new Intl.NumberFormat(t.numbers);
  return { ...t, number: (n) => numbers.format(n), count: (n) => t.signatures(n, numbers.format(n)) };
}

// By status; each keeps at least 4.5:1 against white (legend swatches, outlines, points).
const STATUS_COLOURS = { open: "#0b61a4", closed: "#a14a00", rejected: "#595959" };
const BY_STATUS = ["match", ["get", "status"], ...Object.entries(STATUS_COLOURS).flat(), "#595959"];
// One petition's own place: the site's blue.
const PLACE_COLOUR = "#0b4f8a";
// The choropleth: "0" and four classes of a single-hue sequential blue (readable with every
// kind of colour blindness; lightness alone orders the classes).
const CLASS_COLOURS = ["#f7f7f7", "#c6dbef", "#6baed6", "#2171b5", "#08306b"];

const EMPTY = { type: "FeatureCollection", features: [] };
const POLYGON = ["==", ["geometry-type"], "Polygon"];
const POINT = ["==", ["geometry-type"], "Point"];
const REFRESH_MS = 15000;

async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: "application/geo+json, application/json" } });
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

// Without WebGL there is no map: the page stays as it is without a script. Asked once, by the
// first hook.
let webglAvailable = null;
function webgl() {
  if (webglAvailable === null) {
    try {
      const gl = document.createElement("canvas").getContext("webgl2") || document.createElement("canvas").getContext("webgl");
      gl?.getExtension("WEBGL_lose_context")?.loseContext();
      webglAvailable = Boolean(gl);
    } catch {
      webglAvailable = false;
    }
  }
  return webglAvailable;
}

// ------------------------------------------------------------------------------------------
// Geometry

function eachPosition(coordinates, visit) {
  if (typeof coordinates[0] === "number") visit(coordinates);
  else for (const c of coordinates) eachPosition(c, visit);
}

// [[west, south], [east, north]] of some geometries, or null when they are empty.
function boundsOf(geometries) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  for (const g of geometries) {
    if (!g?.coordinates) continue;
    eachPosition(g.coordinates, ([x, y]) => {
      b[0] = Math.min(b[0], x); b[1] = Math.min(b[1], y); b[2] = Math.max(b[2], x); b[3] = Math.max(b[3], y);
    });
  }
  return Number.isFinite(b[0]) ? [[b[0], b[1]], [b[2], b[3]]] : null;
}

// Twice the signed area of a ring (positive: counter-clockwise).
function signedArea(ring) {
  let sum = 0;
  for (let i = 0; i < ring.length; i++) {
    const [x1, y1] = ring[i], [x2, y2] = ring[(i + 1) % ring.length];
    sum += x1 * y2 - x2 * y1;
  }
  return sum;
}

// Whether a point lies inside a (Multi)Polygon: even-odd over all rings, so holes count.
function contains(geometry, [x, y]) {
  const polygons = geometry?.type === "Polygon" ? [geometry.coordinates] : geometry?.type === "MultiPolygon" ? geometry.coordinates : [];
  let inside = false;
  for (const ring of polygons.flat()) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i], [xj, yj] = ring[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

// Whether the closed outline through these vertices crosses itself (two edges that do not
// share a vertex meet).
function crossesItself(vertices) {
  const n = vertices.length;
  const side = (a, b, c) => Math.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]));
  for (let i = 0; i < n; i++) {
    for (let j = i + 2; j < n; j++) {
      if (i === 0 && j === n - 1) continue; // the closing edge touches the first
      const [a, b, c, d] = [vertices[i], vertices[(i + 1) % n], vertices[j], vertices[(j + 1) % n]];
      if (side(a, b, c) * side(a, b, d) <= 0 && side(c, d, a) * side(c, d, b) <= 0) return true;
    }
  }
  return false;
}

const round = ([x, y]) => [Math.round(x * 1e6) / 1e6, Math.round(y * 1e6) / 1e6];

// ------------------------------------------------------------------------------------------
// What the maps share: the districts from the OGC API (fetched once per page), a map in a
// hook's element, a crosshair in its centre, the petitions' layers.

let districtsRequest = null;
function districts() {
  districtsRequest ??= getJson("/collections/stadtteile/items?f=json&limit=1000").catch(() => EMPTY);
  return districtsRequest;
}

function districtAt(fc, position) {
  return fc.features.find((f) => contains(f.geometry, position))?.properties?.name ?? null;
}

function petitionMap(node, t, region, label, options = {}) {
  node.classList.add("petition-map");
  node.setAttribute("role", "region");
  node.setAttribute("aria-label", region);
  const map = makeMap(node, { style: baseStyle({ districts: false }), locale: t.locale, ...options });
  map.getCanvas().setAttribute("aria-label", label);
  return map;
}

// The crosshair marks the map's centre, where the keyboard acts; `always` or only while the map
// has the keyboard's focus.
function addCrosshair(map, always) {
  const container = map.getContainer();
  container.append(el("div", { class: always ? "petition-crosshair" : "petition-crosshair on-focus", "aria-hidden": "true" }));
  const canvas = map.getCanvas();
  canvas.addEventListener("focus", () => container.classList.toggle("petition-map-focus", canvas.matches(":focus-visible")));
  canvas.addEventListener("blur", () => container.classList.remove("petition-map-focus"));
}

function addDistrictOutlines(map) {
  map.addSource("stadtteile", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "stadtteile-linie", type: "line", source: "stadtteile",
    paint: { "line-color": "#7b5e94", "line-width": 1.5, "line-dasharray": [3, 2] } });
  districts().then((fc) => map.getSource("stadtteile")?.setData(fc));
}

// Areas as fill and outline (smaller areas above larger ones), points as circles.
function addPlaceLayers(map, source, colour) {
  map.addLayer({ id: `${source}-flaeche`, type: "fill", source, filter: POLYGON,
    layout: { "fill-sort-key": ["-", ["coalesce", ["get", "flaeche"], 0]] },
    paint: { "fill-color": colour, "fill-opacity": 0.2 } });
  map.addLayer({ id: `${source}-linie`, type: "line", source, filter: POLYGON,
    layout: { "line-join": "round" }, paint: { "line-color": colour, "line-width": 2.5 } });
  map.addLayer({ id: `${source}-punkt`, type: "circle", source, filter: POINT,
    paint: { "circle-color": colour, "circle-radius": 8, "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 } });
}

let legends = 0;
function legendList(title, items) {
  const id = `petition-legende-${++legends}`;
  return [el("p", { class: "petition-legend-title", id }, title),
    el("ul", { "aria-labelledby": id }, items.map(([swatch, text]) => el("li", {}, swatch, text)))];
}

function swatch(fill, border) {
  const node = el("span", { class: "petition-swatch", "aria-hidden": "true" });
  // Through the CSSOM: the pages' Content-Security-Policy allows no inline style attributes.
  node.style.backgroundColor = fill;
  node.style.borderColor = border;
  return node;
}

// ------------------------------------------------------------------------------------------
// The start form: the place as a point or an area.

function drawForm(node) {
  const form = node.closest("form");
  const output = form?.querySelector("#geometrie, input[name=geometrie]");
  if (!output || !webgl()) return;
  const t = textOf(node);
  const radios = [...form.querySelectorAll("input[name=ort]")];
  for (const hidden of form.querySelectorAll(".needs-js")) hidden.hidden = false;

  let mode = null; // "punkt", "flaeche" or null (districts: no drawing)
  let vertices = []; // [lon, lat]; a point is one vertex
  let map = null, ready = false, districtFc = null;

  const hint = el("p", { class: "hint", id: `${node.id || "petition-draw"}-hinweis`, hidden: true });
  const place = el("button", { type: "button", onclick: () => add(map.getCenter()) });
  const undo = el("button", { type: "button", class: "secondary", onclick: () => { vertices.pop(); update(); } }, t.undo);
  const reset = el("button", { type: "button", class: "secondary", onclick: () => { vertices = []; update(); } }, t.reset);
  const tools = el("div", { class: "petition-tools", hidden: true }, place, undo, reset);
  const status = el("p", { class: "petition-draw-status", role: "status", "aria-live": "polite" });
  node.before(hint);
  node.after(tools, status);

  function geometry() {
    if (mode === "punkt" && vertices.length) return { type: "Point", coordinates: round(vertices[0]) };
    if (mode !== "flaeche" || vertices.length < 3) return null;
    // Closed, and counter-clockwise as RFC 7946 asks of an outer ring.
    const ring = vertices.map(round);
    if (signedArea(ring) < 0) ring.reverse();
    return { type: "Polygon", coordinates: [[...ring, ring[0]]] };
  }

  function describe() {
    if (mode === "punkt") {
      if (!vertices.length) return t.noPoint;
      if (!districtFc?.features.length) return t.point;
      const name = districtAt(districtFc, vertices[0]);
      return name ? t.pointIn(name) : t.pointOutside;
    }
    if (mode === "flaeche") {
      const n = vertices.length;
      return n >= 4 && crossesItself(vertices) ? `${t.vertices(n)}. ${t.crossing}` : t.vertices(n);
    }
    return "";
  }

  function render() {
    if (!ready) return;
    const features = [];
    if (mode === "flaeche" && vertices.length >= 3) {
      features.push({ type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates: [[...vertices, vertices[0]]] } });
    } else if (mode === "flaeche" && vertices.length === 2) {
      features.push({ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: vertices } });
    }
    for (const v of vertices) features.push({ type: "Feature", properties: { art: mode }, geometry: { type: "Point", coordinates: v } });
    map.getSource("entwurf").setData({ type: "FeatureCollection", features });
  }

  function update() {
    const g = geometry();
    output.value = g ? JSON.stringify(g) : "";
    render();
    status.textContent = describe();
  }

  function add(lngLat) {
    if (!mode) return;
    const v = [lngLat.lng, lngLat.lat];
    if (mode === "punkt") vertices = [v];
    else vertices.push(v);
    update();
  }

  function ensureMap(bounds) {
    if (map) {
      map.resize();
      return;
    }
    map = petitionMap(node, t, t.drawRegion, t.drawMap, {
      doubleClickZoom: false, ...(bounds ? { bounds, fitBoundsOptions: { padding: 40, maxZoom: 17 } } : {}),
    });
    node.classList.add("petition-draw-map");
    const canvas = map.getCanvas();
    canvas.setAttribute("role", "application");
    canvas.setAttribute("aria-describedby", hint.id);
    addCrosshair(map, true);
    map.on("load", () => {
      addDistrictOutlines(map);
      map.addSource("entwurf", { type: "geojson", data: EMPTY });
      map.addLayer({ id: "entwurf-flaeche", type: "fill", source: "entwurf", filter: POLYGON,
        paint: { "fill-color": PLACE_COLOUR, "fill-opacity": 0.2 } });
      map.addLayer({ id: "entwurf-linie", type: "line", source: "entwurf", filter: ["!", POINT],
        layout: { "line-join": "round" }, paint: { "line-color": PLACE_COLOUR, "line-width": 3 } });
      map.addLayer({ id: "entwurf-ecken", type: "circle", source: "entwurf", filter: POINT,
        paint: { "circle-radius": ["match", ["get", "art"], "punkt", 9, 6], "circle-stroke-width": 2.5,
          "circle-color": ["match", ["get", "art"], "punkt", PLACE_COLOUR, "#ffffff"],
          "circle-stroke-color": ["match", ["get", "art"], "punkt", "#ffffff", PLACE_COLOUR] } });
      ready = true;
      render();
    });
    map.on("click", (e) => add(e.lngLat));
    canvas.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        add(map.getCenter());
      }
    });
    districts().then((fc) => {
      districtFc = fc;
      if (mode === "punkt" && vertices.length) status.textContent = describe();
    });
  }

  // `keep`: the vertices stay (a geometry restored from the field).
  function setMode(value, keep = false, bounds = null) {
    mode = value === "punkt" || value === "flaeche" ? value : null;
    if (!keep) vertices = [];
    const drawing = mode !== null;
    hint.hidden = !drawing;
    tools.hidden = !drawing;
    node.hidden = !drawing;
    if (drawing) {
      hint.textContent = t.hint[mode];
      place.textContent = mode === "punkt" ? t.setPoint : t.addVertex;
      undo.hidden = mode === "punkt";
      ensureMap(bounds);
    }
    update();
  }

  for (const radio of radios) radio.addEventListener("change", () => { if (radio.checked) setMode(radio.value); });

  // A form shown again (after an error) brings the geometry drawn before.
  let restored = null;
  try {
    restored = output.value ? JSON.parse(output.value) : null;
  } catch {
    restored = null;
  }
  const kind = restored?.type === "Point" ? "punkt" : restored?.type === "Polygon" ? "flaeche" : null;
  const checked = radios.find((r) => r.checked);
  if (kind && (!checked || checked.value === kind)) {
    vertices = kind === "punkt" ? [restored.coordinates.slice(0, 2)] : restored.coordinates[0].slice(0, -1).map((p) => p.slice(0, 2));
    const radio = radios.find((r) => r.value === kind);
    if (radio) radio.checked = true;
    setMode(kind, true, boundsOf([restored]));
  } else {
    setMode(checked?.value);
  }
}

// ------------------------------------------------------------------------------------------
// The list: all petitions on a map, by status. Keyboard users have the page's list as well.

function petitionsMap(node) {
  if (!node.dataset.src || !webgl()) return;
  const t = textOf(node);
  const request = getJson(node.dataset.src);
  const map = petitionMap(node, t, t.listRegion, t.listMap);
  addCrosshair(map, false);
  const legend = el("div", { class: "petition-legend" }, legendList(t.legend,
    Object.entries(STATUS_COLOURS).map(([status, colour]) => [swatch(`${colour}33`, colour), t.status[status] || status])));
  node.after(legend);
  const layers = ["petitionen-flaeche", "petitionen-linie", "petitionen-punkt"];

  // The petitions at a place: points first, then the smaller areas. Escape closes the popup;
  // the keyboard's focus goes back to the map.
  function open(point, lngLat) {
    const seen = new Set();
    const hits = map.queryRenderedFeatures([[point.x - 8, point.y - 8], [point.x + 8, point.y + 8]], { layers })
      .filter((f) => !seen.has(f.properties.id) && seen.add(f.properties.id))
      .sort((a, b) => (a.layer.type === "circle" ? -1 : a.properties.flaeche) - (b.layer.type === "circle" ? -1 : b.properties.flaeche));
    if (!hits.length) return;
    const entry = (p) => [el("a", { href: p.url || `/petitionen/${p.id}` }, p.title || `#${p.id}`), el("br"),
      [t.status[p.status] || p.status, t.count(Number(p.signatures) || 0)].filter(Boolean).join(" · ")];
    const content = hits.length === 1
      ? el("div", { class: "petition-popup" }, entry(hits[0].properties))
      : el("ul", { class: "petition-popup" }, hits.slice(0, 8).map((f) => el("li", {}, entry(f.properties))));
    const popup = new maplibregl.Popup({ maxWidth: "20rem" }).setLngLat(lngLat).setDOMContent(content).addTo(map);
    popup.getElement().addEventListener("keydown", (e) => { if (e.key === "Escape") popup.remove(); });
    popup.on("close", () => { if (document.activeElement === document.body) map.getCanvas().focus(); });
  }

  map.on("load", async () => {
    addDistrictOutlines(map);
    let data = EMPTY;
    try {
      data = await request;
    } catch {
      legend.append(el("p", { class: "error", role: "alert" }, t.error));
    }
    for (const f of data.features) {
      const b = boundsOf([f.geometry]);
      f.properties = { ...f.properties, flaeche: b ? (b[1][0] - b[0][0]) * (b[1][1] - b[0][1]) : 0 };
    }
    map.addSource("petitionen", { type: "geojson", data });
    addPlaceLayers(map, "petitionen", BY_STATUS);
    const bounds = boundsOf(data.features.map((f) => f.geometry));
    if (bounds) map.fitBounds(bounds, { padding: 40, maxZoom: 16, duration: 0 });
  });
  map.on("click", (e) => open(e.point, e.lngLat));
  map.getCanvas().addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    open(map.project(map.getCenter()), map.getCenter());
  });
  map.on("mousemove", (e) => {
    const over = map.getLayer(layers[0]) && map.queryRenderedFeatures(e.point, { layers }).length > 0;
    map.getCanvas().style.cursor = over ? "pointer" : "";
  });
}

// ------------------------------------------------------------------------------------------
// A petition's page: its place.

function placeMap(node) {
  if (!webgl()) return;
  let geometry = null;
  try {
    geometry = JSON.parse(node.dataset.geometry);
  } catch {
    return;
  }
  const bounds = boundsOf([geometry]);
  if (!bounds) return;
  const t = textOf(node);
  node.classList.add("petition-map-small");
  const map = petitionMap(node, t, t.placeRegion, t.placeMap, { bounds, fitBoundsOptions: { padding: 40, maxZoom: 17 } });
  map.on("load", () => {
    addDistrictOutlines(map);
    map.addSource("ort", { type: "geojson", data: { type: "Feature", properties: {}, geometry } });
    addPlaceLayers(map, "ort", PLACE_COLOUR);
  });
}

// ------------------------------------------------------------------------------------------
// A petition's page: signatures per district, live.

// The classes of a count: 0, then four ranges ending in 2, 5, 10, 20, 50, … that reach the
// largest count (so the legend stays put while signatures come in).
function classBounds(max) {
  const ladder = [];
  for (let scale = 1; ladder.length < 4 || ladder[ladder.length - 1] < max; scale *= 10) ladder.push(2 * scale, 5 * scale, 10 * scale);
  let i = 0;
  while (ladder[i + 3] < max) i++;
  return ladder.slice(i, i + 4);
}

function classOf(n, bounds) {
  if (n <= 0) return 0;
  const i = bounds.findIndex((upper) => n <= upper);
  return i < 0 ? 4 : i + 1;
}

// Sets a page's number unless it says that number already (in whatever format the server wrote).
function setCount(node, n, t) {
  const shown = node.textContent.replace(/\D/g, "");
  if (shown === "" || Number(shown) !== n) node.textContent = t.number(n);
}

function choropleth(node) {
  const id = node.dataset.id;
  if (!id) return;
  const t = textOf(node);
  const url = `/petitionen/${encodeURIComponent(id)}.json`;
  let counts = new Map(); // district name → signatures
  let fc = null; // the districts
  let bounds = null; // of the classes
  let map = null, ready = false;
  const legend = el("div", { class: "petition-legend" });
  const spoken = el("p", { class: "visually-hidden", role: "status", "aria-live": "polite" });

  function drawLegend() {
    const labels = ["0", ...bounds.map((upper, i) => {
      const lower = i === 0 ? 1 : bounds[i - 1] + 1;
      return lower === upper ? t.number(upper) : `${t.number(lower)}–${t.number(upper)}`;
    })];
    legend.replaceChildren(...legendList(t.choroLegend, labels.map((label, i) => [swatch(CLASS_COLOURS[i], "#6b6b6b"), label])));
  }

  function paint() {
    if (!fc || !map) return;
    const next = classBounds(Math.max(0, ...counts.values()));
    if (!bounds || next.join() !== bounds.join()) {
      bounds = next;
      drawLegend();
    }
    const features = fc.features.filter((f) => f.properties?.name != null).map((f) => {
      const n = counts.get(String(f.properties.name).trim()) ?? 0;
      return { type: "Feature", geometry: f.geometry, properties: { name: f.properties.name, signatures: n, klasse: classOf(n, bounds) } };
    });
    if (ready) map.getSource("choropleth").setData({ type: "FeatureCollection", features });
  }

  function apply(data) {
    for (const n of document.querySelectorAll("[data-live=signatures]")) setCount(n, Number(data.signatures) || 0, t);
    for (const n of document.querySelectorAll("[data-live=residents]")) setCount(n, Number(data.residents) || 0, t);
    // The table also has the residents without a known district (""); the map only districts.
    const all = new Map((data.signatures_by_district || [])
      .map((d) => [String(d.district ?? "").trim(), Number(d.signatures) || 0]));
    for (const cell of document.querySelectorAll("[data-live-district]")) {
      setCount(cell, all.get(cell.dataset.liveDistrict.trim()) ?? 0, t);
    }
    counts = new Map([...all].filter(([district]) => district !== ""));
    // The progress towards the threshold: residents or everybody, as the petition counts.
    const counting = data.residents_only ? Number(data.residents) || 0 : Number(data.signatures) || 0;
    for (const bar of document.querySelectorAll("progress[data-live=progress]")) {
      bar.value = counting;
      const label = bar.id ? document.querySelector(`label[for="${bar.id}"][data-pattern]`) : null;
      if (label) {
        const threshold = Number(data.threshold) || Number(bar.max) || 0;
        label.textContent = label.dataset.pattern
          .replace("{}", counting.toLocaleString(t.numbers))
          .replace("{}", threshold.toLocaleString(t.numbers));
      }
    }
    paint();
  }

  // Every 15 s while the tab is visible, at once when it becomes visible again; no more once the
  // petition is closed.
  let timer = null, busy = false, last = 0, done = false;
  async function refresh() {
    clearTimeout(timer);
    if (busy || done || document.hidden) return;
    busy = true;
    last = Date.now();
    try {
      const data = await getJson(url);
      apply(data);
      done = data.status === "closed" || data.status === "rejected";
    } catch {
      // The next round tries again; the page keeps its numbers.
    }
    busy = false;
    if (!done && !document.hidden) timer = setTimeout(refresh, REFRESH_MS);
  }
  document.addEventListener("visibilitychange", () => {
    if (document.hidden || done) return;
    clearTimeout(timer);
    timer = setTimeout(refresh, Math.max(0, REFRESH_MS - (Date.now() - last)));
  });

  if (webgl()) {
    map = petitionMap(node, t, t.choroRegion, t.choroMap);
    node.after(legend, spoken);
    addCrosshair(map, false);
    const tip = el("div", { class: "petition-tooltip", "aria-hidden": "true", hidden: true });
    map.getContainer().append(tip);
    const canvas = map.getCanvas();
    let hovered = null, keyboard = false;

    // The district at a point of the map: highlighted, named in the tooltip, and said aloud
    // when the keyboard moved there.
    const show = (point) => {
      const f = ready ? map.queryRenderedFeatures(point, { layers: ["choropleth-flaeche"] })[0] : null;
      const name = f?.properties.name ?? null;
      if (hovered !== name) {
        if (hovered != null) map.setFeatureState({ source: "choropleth", id: hovered }, { hover: false });
        if (name != null) map.setFeatureState({ source: "choropleth", id: name }, { hover: true });
        hovered = name;
      }
      if (!f) {
        tip.hidden = true;
        if (keyboard) spoken.textContent = t.outside;
        return;
      }
      const text = `${name}: ${t.count(f.properties.signatures)}`;
      tip.textContent = text;
      tip.hidden = false;
      const x = Math.min(point.x + 14, canvas.clientWidth - tip.offsetWidth - 4);
      const y = point.y + 14 + tip.offsetHeight > canvas.clientHeight ? point.y - tip.offsetHeight - 14 : point.y + 14;
      tip.style.left = `${Math.max(4, x)}px`;
      tip.style.top = `${Math.max(4, y)}px`;
      if (keyboard && spoken.textContent !== text) spoken.textContent = text;
    };
    const hide = () => {
      if (hovered != null) map.setFeatureState({ source: "choropleth", id: hovered }, { hover: false });
      hovered = null;
      tip.hidden = true;
    };
    const centre = () => map.project(map.getCenter());
    map.on("mousemove", (e) => { keyboard = false; show(e.point); });
    map.on("mouseout", hide);
    canvas.addEventListener("focus", () => {
      keyboard = canvas.matches(":focus-visible");
      if (keyboard) show(centre());
    });
    canvas.addEventListener("blur", () => { keyboard = false; hide(); });
    map.on("moveend", () => { if (keyboard) show(centre()); });

    map.on("load", () => {
      map.addSource("choropleth", { type: "geojson", data: EMPTY, promoteId: "name" });
      // Below the streets, so that they still show where one is.
      map.addLayer({ id: "choropleth-flaeche", type: "fill", source: "choropleth",
        paint: { "fill-color": ["match", ["get", "klasse"], ...CLASS_COLOURS.flatMap((c, i) => [i, c]), CLASS_COLOURS[0]] } }, "gebaeude");
      map.addLayer({ id: "choropleth-linie", type: "line", source: "choropleth",
        paint: { "line-color": ["case", ["boolean", ["feature-state", "hover"], false], "#1a1a1a", "#5f5f5f"],
          "line-width": ["case", ["boolean", ["feature-state", "hover"], false], 3.5, 1] } });
      ready = true;
      paint();
    });
    districts().then((districtFc) => {
      fc = districtFc;
      const b = boundsOf(fc.features.map((f) => f.geometry));
      if (b) map.fitBounds(b, { padding: 20, duration: 0 });
      paint();
    });
  }
  refresh();
}

// ------------------------------------------------------------------------------------------
// The hooks, as the petitions' pages write them.

const hooks = [
  ["petition-draw", drawForm], // the start form's place: data-bbox, data-lang
  ["petitions-map", petitionsMap], // the list: data-src (GeoJSON), data-bbox, data-lang
  ["petition-place", placeMap], // a petition's place: data-geometry (GeoJSON geometry), data-bbox
  ["petition-choropleth", choropleth], // its signatures by district: data-id, data-lang
];
for (const [id, start] of hooks) {
  const node = document.getElementById(id);
  if (!node) continue;
  try {
    start(node);
  } catch (e) {
    // One map that cannot start leaves the others and the page as they are.
    console.error(`${id}:`, e);
  }
}
