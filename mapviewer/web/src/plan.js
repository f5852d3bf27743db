// The small map of a plan's page (/plans/{id}): the plan's boundary and contents in the signs of
// the Planzeichenverordnung (the same table as the citizens' map, planzv.js), over the city map
// when the platform has one, with a legend of what is drawn. The page is complete without this
// script (facts, zoning and documents are in its tables); the map is an addition.
//
// Hook: <div id="planmap" data-plan="/plans/{id}?f=json" data-label="…" data-legend="…">. The
// plan's JSON names the OGC API items of each of its collections; they are drawn as GeoJSON.
import maplibregl from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import "./plan.css";
import { LOCALE_DE, el } from "./citymap.js";
import { PLANZV_TEXT, PLAN_ORDER, planStyles } from "./planzv.js";

const node = document.getElementById("planmap");
const lang = document.documentElement.lang === "en" ? "en" : "de";

async function getJson(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

// The city map underneath, from the catalog the citizens' map reads: buildings and streets,
// when they are there.
function cityLayers(katalog) {
  const have = new Map(katalog.collections.map((c) => [c.id, c]));
  const sources = {}, layers = [];
  const vector = (c) => ({ type: "vector", tiles: c.tiles, minzoom: c.minzoom, maxzoom: c.maxzoom, ...(c.bounds ? { bounds: c.bounds } : {}) });
  if (have.has("gebaeude")) {
    sources.gebaeude = vector(have.get("gebaeude"));
    layers.push({ id: "gebaeude", type: "fill", source: "gebaeude", "source-layer": "gebaeude", paint: { "fill-color": "#ddd6cc", "fill-outline-color": "#b5a999" } });
  }
  if (have.has("strassen")) {
    sources.strassen = vector(have.get("strassen"));
    layers.push({ id: "strassen", type: "line", source: "strassen", "source-layer": "strassen", paint: { "line-color": "#ffffff", "line-width": 3 } });
  }
  return { sources, layers };
}

async function draw() {
  if (!node) return;
  const plan = await getJson(node.dataset.plan);
  const katalog = await getJson("/map/katalog.json").catch(() => ({ collections: [] }));
  const city = cityLayers(katalog);
  const styles = planStyles();
  const collections = ["bebauungsplaene", ...plan.objekte.map((o) => o.collection)]
    .filter((id, i, all) => styles[id] && all.indexOf(id) === i)
    .sort((a, b) => PLAN_ORDER.indexOf(a) - PLAN_ORDER.indexOf(b));
  const data = await Promise.all(collections.map((id) => {
    const objects = plan.objekte.find((o) => o.collection === id);
    const url = id === "bebauungsplaene" ? plan.links.find((l) => l.rel === "item").href : objects.href;
    return getJson(url).catch(() => ({ type: "FeatureCollection", features: [] }));
  }));
  const sources = { ...city.sources }, layers = [{ id: "hintergrund", type: "background", paint: { "background-color": "#f3f1ea" } }, ...city.layers];
  const labels = [];
  collections.forEach((id, i) => {
    sources[`p-${id}`] = { type: "geojson", data: data[i] };
    const strip = (l) => { const { "source-layer": _, minzoom: __, ...rest } = l; return rest; };
    layers.push(...styles[id].layers(`p-${id}`).map(strip));
    labels.push(...styles[id].labels(`p-${id}`).map(strip));
  });
  node.classList.add("plan-map-live");
  const [w, s, e, n] = plan.bbox || [7.5, 50.3, 7.7, 50.4];
  const map = new maplibregl.Map({
    container: node, style: { version: 8, sources, layers: [...layers, ...labels] },
    bounds: [[w, s], [e, n]], fitBoundsOptions: { padding: 20 }, attributionControl: false, dragRotate: false,
    pitchWithRotate: false, fadeDuration: 0, locale: lang === "en" ? {} : LOCALE_DE, cooperativeGestures: false,
  });
  map.touchZoomRotate.disableRotation();
  map.keyboard.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  map.getCanvas().setAttribute("aria-label", node.dataset.label || "");
  window.stadtkarte = { map, ready: false };
  map.once("idle", () => { window.stadtkarte.ready = true; });

  // The legend: what is drawn, with its sign.
  const text = (key) => PLANZV_TEXT[lang][key] || key;
  const items = collections.flatMap((id) => styles[id].legendText.map((key, i) => {
    const [kind, fill, stroke] = styles[id].legend[i];
    const swatch = el("span", { class: `plan-swatch ${kind}`, "aria-hidden": "true" });
    swatch.style.background = fill;
    swatch.style.borderColor = stroke || fill;
    return el("li", {}, swatch, text(key));
  }));
  node.after(el("div", { class: "plan-legend" }, el("p", { class: "plan-legend-title" }, node.dataset.legend || ""), el("ul", {}, items)));
}

draw().catch((e) => {
  // The page stays complete without the map; say why it is missing.
  if (node) node.replaceChildren(el("p", { role: "status" }, e.message));
});
