// The maps of the Mängelmelder's pages. Every page works without this script; with it:
// - the report form places the pin on a map (click, drag, keyboard, "my location", address
//   search) and says at once whether the place is inside the city and what was reported nearby;
// - a report's page shows its place on a small map;
// - the public list shows the reports on a map, coloured by status and clustered when zoomed out.
// Only the platform's own tiles and APIs are used.
import maplibregl from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
import "./melden.css";
import { el, makeMap } from "./citymap.js";

const lang = document.documentElement.lang === "en" ? "en" : "de";
const TEXT = {
  de: {
    map: "Karte: Ort des Mangels. Pfeiltasten verschieben die Karte, Eingabetaste setzt die Markierung in die Mitte.",
    here: "Markierung in die Kartenmitte setzen", locate: "Meinen Standort verwenden", locating: "Standort wird ermittelt …",
    noLocation: "Ihr Standort ist nicht verfügbar. Bitte setzen Sie die Markierung auf der Karte oder geben Sie eine Adresse ein.",
    place: "Ort:", checking: "Ort wird geprüft …", nearby: "In der Nähe schon gemeldet:", results: "Adressvorschläge",
    list: "Karte der Meldungen", status: { open: "offen", closed: "abgeschlossen" }, reports: "Meldungen",
  },
  en: {
    map: "Map: place of the problem. Arrow keys move the map, Enter puts the marker in the centre.",
    here: "Put the marker in the centre of the map", locate: "Use my location", locating: "Finding your location …",
    noLocation: "Your location is not available. Please place the marker on the map or enter an address.",
    place: "Place:", checking: "Checking the place …", nearby: "Already reported nearby:", results: "Address suggestions",
    list: "Map of the reports", status: { open: "open", closed: "closed" }, reports: "reports",
  },
};
const t = TEXT[lang];
const COLOURS = {
  // The same colours as the status badges and the server-drawn map (core/static/stadtkarte.css).
  eingegangen: "#b3261e", geprueft: "#9a4a00", in_bearbeitung: "#7a5f00", erledigt: "#1e7a34",
  nicht_loesbar: "#555555", duplikat: "#555555", abgelehnt: "#555555",
};

// ------------------------------------------------------------------------------------------
// The report form, step 1.

function reportForm(node) {
  const form = node.closest("form");
  const lat = form.querySelector("input[name=lat]");
  const lon = form.querySelector("input[name=lon]");
  const address = form.querySelector("input[name=adresse]");
  const district = form.querySelector("select[name=stadtteil]");
  const status = document.getElementById("ort-status");
  const category = () => form.querySelector("input[name=kategorie]:checked")?.value || "";
  const map = makeMap(node);
  const canvas = map.getCanvas();
  canvas.setAttribute("aria-label", t.map);
  canvas.setAttribute("role", "application");
  const marker = new maplibregl.Marker({ draggable: true, color: "#b3261e" });
  let placed = false;

  async function check() {
    if (!placed) return;
    status.textContent = t.checking;
    status.classList.remove("error");
    const q = new URLSearchParams({ lat: lat.value, lon: lon.value, kategorie: category(), lang });
    try {
      const r = await fetch(`/maengel/in-der-naehe?${q}`);
      const data = await r.json();
      status.replaceChildren();
      if (!data.inside) {
        status.classList.add("error");
        status.textContent = data.message;
        return;
      }
      status.append(`${t.place} ${data.label}`);
      if (data.reports?.length) {
        status.append(el("br"), `${t.nearby} `, ...data.reports.map((rep, i) => [i ? ", " : "",
          el("a", { href: `/maengel/${rep.id}?lang=${lang}` }, `Nr. ${rep.id} (${rep.metres} m)`)]).flat());
      }
    } catch (e) {
      status.textContent = "";
    }
  }

  function setPin(lngLat, fly) {
    placed = true;
    marker.setLngLat(lngLat).addTo(map);
    lat.value = lngLat.lat.toFixed(6);
    lon.value = lngLat.lng.toFixed(6);
    if (address) address.value = "";
    if (district) district.value = "";
    if (fly) map.flyTo({ center: lngLat, zoom: Math.max(map.getZoom(), 17) });
    check();
  }

  map.on("click", (e) => setPin(e.lngLat, false));
  marker.on("dragend", () => setPin(marker.getLngLat(), false));
  canvas.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      setPin(map.getCenter(), false);
    }
  });
  form.addEventListener("change", (e) => { if (e.target.name === "kategorie") check(); });

  const tools = el("div", { class: "map-tools" },
    el("button", { type: "button", class: "secondary", onclick: () => setPin(map.getCenter(), false) }, t.here),
    navigator.geolocation ? el("button", { type: "button", class: "secondary", onclick: () => {
      status.textContent = t.locating;
      navigator.geolocation.getCurrentPosition(
        (p) => setPin(new maplibregl.LngLat(p.coords.longitude, p.coords.latitude), true),
        () => { status.textContent = t.noLocation; },
        { enableHighAccuracy: true, timeout: 15000 });
    } }, t.locate) : null);
  node.after(tools);

  if (lat.value && lon.value) setPin(new maplibregl.LngLat(Number(lon.value), Number(lat.value)), true);

  // The address search: suggestions from the city's own addresses.
  if (address) {
    const list = el("ul", { id: "adressen-liste", role: "listbox", class: "suggestions", "aria-label": t.results, hidden: true });
    address.setAttribute("role", "combobox");
    address.setAttribute("aria-autocomplete", "list");
    address.setAttribute("aria-expanded", "false");
    address.setAttribute("aria-controls", "adressen-liste");
    address.setAttribute("autocomplete", "off");
    address.after(list);
    let found = [], active = -1, timer;
    const close = () => { list.hidden = true; address.setAttribute("aria-expanded", "false"); address.removeAttribute("aria-activedescendant"); };
    const choose = (i) => {
      const f = found[i];
      if (!f) return;
      setPin(new maplibregl.LngLat(f.lon, f.lat), true);
      address.value = f.label;
      close();
    };
    const show = () => {
      list.replaceChildren(...found.map((f, i) => el("li", { id: `adresse-${i}`, role: "option", "aria-selected": String(i === active),
        onmousedown: (e) => { e.preventDefault(); choose(i); } }, f.label)));
      list.hidden = found.length === 0;
      address.setAttribute("aria-expanded", String(found.length > 0));
      if (active >= 0) address.setAttribute("aria-activedescendant", `adresse-${active}`);
    };
    address.addEventListener("input", () => {
      // A typed address replaces the pin unless a suggestion is chosen.
      lat.value = ""; lon.value = ""; placed = false; marker.remove(); status.textContent = "";
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const q = address.value.trim();
        if (q.length < 3) { found = []; show(); return; }
        try {
          found = await (await fetch(`/maengel/adressen?q=${encodeURIComponent(q)}`)).json();
        } catch (e) { found = []; }
        active = -1;
        show();
      }, 200);
    });
    address.addEventListener("keydown", (e) => {
      if (list.hidden) return;
      if (e.key === "ArrowDown") { e.preventDefault(); active = Math.min(active + 1, found.length - 1); show(); }
      else if (e.key === "ArrowUp") { e.preventDefault(); active = Math.max(active - 1, 0); show(); }
      else if (e.key === "Enter" && active >= 0) { e.preventDefault(); choose(active); }
      else if (e.key === "Escape") close();
    });
    address.addEventListener("blur", () => setTimeout(close, 150));
  }
}

// ------------------------------------------------------------------------------------------
// A report's page: its place.

function reportPlace(node) {
  const [lonValue, latValue] = node.dataset.punkt.split(",").map(Number);
  const map = makeMap(node, { center: [lonValue, latValue], zoom: 17, bounds: undefined, interactive: true });
  map.getCanvas().setAttribute("aria-label", node.dataset.label || t.map);
  new maplibregl.Marker({ color: COLOURS[node.dataset.status] || "#b3261e" }).setLngLat([lonValue, latValue]).addTo(map);
}

// ------------------------------------------------------------------------------------------
// The public list: all reports on a map, clustered.

function reportsMap(node) {
  const map = makeMap(node);
  // The server-drawn map shows the same reports without a script; one map is enough.
  for (const figure of document.querySelectorAll("figure.svg-map")) figure.hidden = true;
  map.getCanvas().setAttribute("aria-label", node.dataset.label || t.list);
  map.on("load", () => {
    map.addSource("maengel", { type: "geojson", data: node.dataset.quelle, cluster: true, clusterRadius: 40, clusterMaxZoom: 15 });
    map.addLayer({ id: "cluster", type: "circle", source: "maengel", filter: ["has", "point_count"],
      paint: { "circle-color": "#0b4f8a", "circle-opacity": 0.85, "circle-stroke-color": "#fff", "circle-stroke-width": 2,
        "circle-radius": ["step", ["get", "point_count"], 12, 10, 16, 50, 22, 200, 28] } });
    map.addLayer({ id: "punkt", type: "circle", source: "maengel", filter: ["!", ["has", "point_count"]],
      paint: { "circle-color": ["match", ["get", "status"], ...Object.entries(COLOURS).flat(), "#b3261e"],
        "circle-radius": 7, "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
    map.on("click", "cluster", async (e) => {
      const f = e.features[0];
      const zoom = await map.getSource("maengel").getClusterExpansionZoom(f.properties.cluster_id);
      map.easeTo({ center: f.geometry.coordinates, zoom });
    });
    map.on("click", "punkt", (e) => {
      const p = e.features[0].properties;
      new maplibregl.Popup().setLngLat(e.features[0].geometry.coordinates)
        .setDOMContent(el("div", {}, el("a", { href: `/maengel/${p.id}?lang=${lang}` }, `Nr. ${p.id}: ${p.kategorie}`), el("br"), p.status_text))
        .addTo(map);
    });
    for (const layer of ["cluster", "punkt"]) {
      map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
      map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
    }
  });
}

for (const node of document.querySelectorAll("[data-melden-karte]")) reportForm(node);
for (const node of document.querySelectorAll("[data-punkt]")) reportPlace(node);
for (const node of document.querySelectorAll("[data-quelle]")) reportsMap(node);
