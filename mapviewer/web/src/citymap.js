// What the maps on the platform's own pages (Mängelmelder, petitions) share: the city base map
// from the platform's vector tiles, a map in a page's element, a small DOM helper. Each page
// script bundles its own copy; the citizens' map (app.js) has its own, richer style.
import maplibregl from "maplibre-gl";

export const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, "");
    else if (v !== false && v != null) node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null) node.append(c);
  return node;
};

// The city map: districts, streets, buildings. Without the district outlines when a page draws
// them itself (from the OGC API, to name or colour them).
export function baseStyle({ districts = true } = {}) {
  const src = (id) => ({ type: "vector", url: `${location.origin}/tiles/${id}` });
  const sources = { strassen: src("strassen"), gebaeude: src("gebaeude") };
  if (districts) sources.stadtteile = src("stadtteile");
  return {
    version: 8,
    sources,
    layers: [
      { id: "hintergrund", type: "background", paint: { "background-color": "#f3f1ea" } },
      ...(districts ? [{ id: "stadtteile", type: "line", source: "stadtteile", "source-layer": "stadtteile", paint: { "line-color": "#7b5e94", "line-width": 1.5, "line-dasharray": [3, 2] } }] : []),
      { id: "gebaeude", type: "fill", source: "gebaeude", "source-layer": "gebaeude", minzoom: 14, paint: { "fill-color": "#d9c7b3", "fill-outline-color": "#a68b70" } },
      { id: "strassen", type: "line", source: "strassen", "source-layer": "strassen", paint: { "line-color": "#ffffff", "line-width": ["interpolate", ["linear"], ["zoom"], 12, 1, 17, 8] } },
      { id: "strassen-rand", type: "line", source: "strassen", "source-layer": "strassen", paint: { "line-color": "#b9b2a3", "line-width": 0.5, "line-gap-width": ["interpolate", ["linear"], ["zoom"], 12, 1, 17, 8] } },
    ],
  };
}

// The element's data-bbox ("minLon,minLat,maxLon,maxLat"), else the city's rough extent.
export function bboxOf(node) {
  const b = (node.dataset.bbox || "").split(",").map(Number);
  return b.length === 4 && b.every(Number.isFinite) ? [[b[0], b[1]], [b[2], b[3]]] : [[7.5, 50.3], [7.7, 50.4]];
}

// The German names of MapLibre's controls (its own are English).
export const LOCALE_DE = {
  "Map.Title": "Karte", "NavigationControl.ZoomIn": "Hineinzoomen", "NavigationControl.ZoomOut": "Herauszoomen",
  "NavigationControl.ResetBearing": "Nach Norden ausrichten", "Popup.Close": "Schließen",
  "ScaleControl.Meters": "m", "ScaleControl.Kilometers": "km",
};

export function makeMap(node, options = {}) {
  node.hidden = false;
  const map = new maplibregl.Map({
    container: node, style: baseStyle(), bounds: bboxOf(node), fitBoundsOptions: { padding: 10 },
    attributionControl: false, dragRotate: false, pitchWithRotate: false, ...options,
  });
  map.touchZoomRotate.disableRotation();
  map.keyboard.disableRotation();
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
  return map;
}
