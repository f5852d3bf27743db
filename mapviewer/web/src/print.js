// Printing the map as a PDF (A4/A3, portrait/landscape), as people print a map section for a
// building application: title, date, the map at a true scale with scale bar and numeric scale,
// a north arrow, the legend of the shown themes and the sources' attributions. In comparison
// mode both years are printed, each labelled.
//
// The map is drawn again, off screen, at the size of the paper's map frame and at print
// resolution (a second MapLibre map with the same style; its canvas becomes a JPEG in the PDF),
// so the print does not depend on the size of the screen. The PDF itself is written by jsPDF in
// the browser: the server sees only the tile requests it sees anyway.
//
// A bundle of its own (/map/druck.js), loaded by the map app at the first click on "Drucken":
// jsPDF is not part of every visit to the map. MapLibre comes from the app (`app.maplibregl`),
// the dialog's styles are in the app's stylesheet (print.css).
import { jsPDF } from "jspdf";

const TEXT = {
  de: {
    heading: "Karte drucken", paper: "Papierformat", orientation: "Ausrichtung",
    portrait: "Hochformat", landscape: "Querformat", title: "Titel", scale: "Maßstab",
    "scale.current": "Aktueller Ausschnitt", "scale.true": "Maßstab auf dem Papier", "scale.extent": "Ausschnitt",
    create: "PDF erstellen", cancel: "Schließen", busy: "PDF wird erstellt …", "busy.map": "Karte wird gezeichnet …",
    done: "PDF gespeichert:", failed: "Das PDF konnte nicht erstellt werden:", timeout: "Die Karte wurde nicht rechtzeitig fertig gezeichnet.",
    date: "Stand", legend: "Legende", sources: "Quellen", north: "N", base: "Hintergrund", "base.map": "Stadtplan",
    hint: "Maßstabsgetreu nur bei Druck in Originalgröße (100 %, nicht „an Seite anpassen“).",
    left: "links", right: "rechts", top: "oben", bottom: "unten", more: "weitere Themen", compare: "Vergleich zweier Jahrgänge",
  },
  en: {
    heading: "Print the map", paper: "Paper size", orientation: "Orientation",
    portrait: "Portrait", landscape: "Landscape", title: "Title", scale: "Scale",
    "scale.current": "Current view", "scale.true": "Scale on paper", "scale.extent": "Area shown",
    create: "Create PDF", cancel: "Close", busy: "Creating the PDF …", "busy.map": "Drawing the map …",
    done: "PDF saved:", failed: "The PDF could not be created:", timeout: "The map did not finish drawing in time.",
    date: "Date", legend: "Legend", sources: "Sources", north: "N", base: "Background", "base.map": "City map",
    hint: "True to scale only when printed at actual size (100 %, not “fit to page”).",
    left: "left", right: "right", top: "top", bottom: "bottom", more: "more themes", compare: "Comparison of two years",
  },
};

/** Paper sizes in millimetres (portrait). */
const PAPER = { a4: [210, 297], a3: [297, 420] };
/** The scales offered besides the current view's. */
const SCALES = [500, 1000, 2500, 5000, 10000];
/** Print resolution of the map image; the canvas stays below MapLibre's limit. */
const DPI = 180;
const MAX_CANVAS = 4096;
/** CSS pixels are 1/96 inch: the off-screen map is laid out in them, as the screen map is. */
const CSS_DPI = 96;
const METRES_PER_CSS_PX_PER_SCALE = 0.0254 / CSS_DPI;
/** Web Mercator: metres per pixel at zoom 0 on the equator (MapLibre's 512-pixel world). */
const EQUATOR_M_PER_PX = 40075016.686 / 512;
/** Time a map section may take to draw before the print gives up. */
const DRAW_TIMEOUT_MS = 90000;
const MARGIN = 10;

// ------------------------------------------------------------------------------------------
// The dialog

/**
 * Opens the print dialog; focus returns to `opener` when it closes. `app` gives what the map
 * app knows: `maplibregl`, `map()`, `map2()` (the comparison map or null), `state` (base,
 * compare, epochs), `lang()`, `style(side)` (the style of the map shown on the "left" or "right"), `prepare(map)`
 * (icons), `legend()` (the shown themes: `{title, items: [{kind, fill, stroke, label}]}`),
 * `epochLabel(epoch)`, `city()`.
 */
export function openPrint(app, opener) {
  const lang = app.lang();
  const t = (key) => TEXT[lang][key] ?? TEXT.de[key];
  const dialog = build(lang, t, app);
  document.body.append(dialog);
  const form = dialog.querySelector("form");
  const update = () => showScale(dialog, app, t, readChoice(form));
  form.addEventListener("change", update);
  update();
  dialog.addEventListener("close", () => {
    dialog.remove();
    opener.focus();
  });
  // While the PDF is being made the dialog stays: closing it would not stop the download.
  dialog.addEventListener("cancel", (ev) => { if (dialog.hasAttribute("aria-busy")) ev.preventDefault(); });
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    create(dialog, app, t, readChoice(form));
  });
  // A modal <dialog>: the rest of the page is inert, Escape closes it, focus stays inside.
  dialog.showModal();
  dialog.querySelector("#print-title").select();
}

function node(tag, props = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") n.className = v;
    else if (v === true) n.setAttribute(k, "");
    else if (v !== false && v != null) n.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null) n.append(c);
  return n;
}

function radios(name, legend, choices, checked) {
  return node("fieldset", { class: "print-choices" }, node("legend", {}, legend),
    choices.map(([value, label]) => node("div", { class: "print-choice" },
      node("input", { type: "radio", name, id: `print-${name}-${value}`, value, checked: value === checked }),
      node("label", { for: `print-${name}-${value}` }, label))));
}

function build(lang, t, app) {
  const title = app.city() ? `Stadtkarte ${app.city()}` : "Stadtkarte";
  const scale = node("select", { id: "print-scale", name: "scale" },
    node("option", { value: "current" }, t("scale.current")),
    SCALES.map((s) => node("option", { value: String(s) }, `1 : ${group(s, lang)}`)));
  return node("dialog", { id: "print-dialog", class: "print-dialog", "aria-labelledby": "print-heading" },
    node("form", { method: "dialog" },
      node("h2", { id: "print-heading" }, t("heading")),
      radios("paper", t("paper"), [["a4", "A4"], ["a3", "A3"]], "a4"),
      radios("orientation", t("orientation"), [["portrait", t("portrait")], ["landscape", t("landscape")]], "landscape"),
      node("div", { class: "print-field" }, node("label", { for: "print-title" }, t("title")),
        node("input", { id: "print-title", name: "title", type: "text", value: title, maxlength: "120", autocomplete: "off" })),
      node("div", { class: "print-field" }, node("label", { for: "print-scale" }, t("scale")), scale),
      node("p", { id: "print-true-scale", class: "print-true-scale", "aria-live": "polite" }),
      node("p", { class: "print-hint" }, t("hint")),
      node("div", { class: "print-actions" },
        node("button", { type: "submit", id: "print-create", class: "print-create" }, t("create")),
        node("button", { type: "button", "data-close": true }, t("cancel"))),
      node("p", { id: "print-status", role: "status", class: "print-status" })));
}

function readChoice(form) {
  const data = new FormData(form);
  return {
    paper: data.get("paper") === "a3" ? "a3" : "a4",
    landscape: data.get("orientation") !== "portrait",
    title: String(data.get("title") || "").trim(),
    scale: data.get("scale") === "current" ? null : Number(data.get("scale")),
  };
}

/** The true scale and the ground covered, shown before printing. */
function showScale(dialog, app, t, choice) {
  const lang = app.lang();
  const plan = layout(choice, app);
  const view = printView(app, plan, choice.scale);
  const [w, h] = plan.frames[0].size;
  const metres = (mm) => Math.round((mm * view.scale) / 1000);
  dialog.querySelector("#print-true-scale").textContent =
    `${t("scale.true")}: 1 : ${group(view.scale, lang)} · ${t("scale.extent")}: ${group(metres(w), lang)} m × ${group(metres(h), lang)} m`;
}

async function create(dialog, app, t, choice) {
  const button = dialog.querySelector("#print-create");
  const status = dialog.querySelector("#print-status");
  const close = dialog.querySelector("[data-close]");
  if (button.disabled) return;
  button.disabled = true;
  close.disabled = true;
  dialog.setAttribute("aria-busy", "true");
  status.textContent = t("busy.map");
  const began = performance.now();
  try {
    const { blob, name } = await makePdf(app, choice, t);
    download(blob, name);
    const seconds = ((performance.now() - began) / 1000).toFixed(1);
    status.textContent = `${t("done")} ${name} (${Math.round(blob.size / 1024)} KB, ${seconds} s)`;
    window.stadtkarte.lastPrint = { name, bytes: blob.size, ms: Math.round(performance.now() - began) };
  } catch (e) {
    status.textContent = `${t("failed")} ${e.message}`;
  } finally {
    button.disabled = false;
    close.disabled = false;
    dialog.removeAttribute("aria-busy");
  }
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = node("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** Thousands grouped as people read scales: 1 : 2.500 (German), 1 : 2,500 (English). */
function group(n, lang) {
  return Math.round(n).toLocaleString(lang === "en" ? "en-GB" : "de-DE");
}

// ------------------------------------------------------------------------------------------
// Page layout (millimetres, origin top left)

/**
 * Where everything goes on the page: the header, the map frame(s) (two in comparison mode:
 * side by side in landscape, one above the other in portrait), the legend (a column on the
 * right in landscape, a band below the map in portrait) and the footer.
 */
function layout(choice, app) {
  const [pw, ph] = choice.landscape ? [...PAPER[choice.paper]].reverse() : PAPER[choice.paper];
  const headerBottom = MARGIN + 13;
  const footer = 24;
  const legendW = choice.landscape ? 62 : 0;
  const legendH = choice.landscape ? 0 : 48;
  const map = { x: MARGIN, y: headerBottom, w: pw - 2 * MARGIN - (legendW ? legendW + 4 : 0), h: ph - headerBottom - MARGIN - footer - (legendH ? legendH + 3 : 0) };
  const legend = legendW
    ? { x: map.x + map.w + 4, y: map.y, w: legendW, h: map.h }
    : { x: MARGIN, y: map.y + map.h + 3, w: map.w, h: legendH };
  const footerBox = { x: MARGIN, y: ph - MARGIN - footer, w: pw - 2 * MARGIN, h: footer };
  const compare = Boolean(app.state.compare && app.map2());
  const gap = 3;
  const frames = !compare
    ? [{ x: map.x, y: map.y, size: [map.w, map.h] }]
    : choice.landscape
      ? [{ x: map.x, y: map.y, size: [(map.w - gap) / 2, map.h] }, { x: map.x + (map.w + gap) / 2, y: map.y, size: [(map.w - gap) / 2, map.h] }]
      : [{ x: map.x, y: map.y, size: [map.w, (map.h - gap) / 2] }, { x: map.x, y: map.y + (map.h + gap) / 2, size: [map.w, (map.h - gap) / 2] }];
  return { page: [pw, ph], map, legend, footer: footerBox, frames, compare, format: choice.paper, landscape: choice.landscape };
}

// ------------------------------------------------------------------------------------------
// The view on paper: zoom from the scale

const metresPerPx = (zoom, lat) => (EQUATOR_M_PER_PX * Math.cos((lat * Math.PI) / 180)) / 2 ** zoom;

/**
 * The camera of the print and its scale. A chosen scale gives the zoom at the centre's
 * latitude; "current" fits the screen's section into the frame and reports the scale that
 * results (1 : N with N = metres on the ground per metre on paper).
 */
function printView(app, plan, chosen) {
  const map = app.map();
  const center = map.getCenter();
  const [wMm, hMm] = plan.frames[0].size;
  const wPx = (wMm / 25.4) * CSS_DPI, hPx = (hMm / 25.4) * CSS_DPI;
  let mPerPx;
  if (chosen) {
    mPerPx = chosen * METRES_PER_CSS_PX_PER_SCALE;
  } else {
    const screen = map.getContainer();
    const screenM = metresPerPx(map.getZoom(), center.lat);
    mPerPx = Math.max((screen.clientWidth * screenM) / wPx, (screen.clientHeight * screenM) / hPx);
  }
  const zoom = Math.log2((EQUATOR_M_PER_PX * Math.cos((center.lat * Math.PI) / 180)) / mPerPx);
  return { center: [center.lng, center.lat], zoom, bearing: map.getBearing(), scale: mPerPx / METRES_PER_CSS_PX_PER_SCALE, cssSize: [wPx, hPx] };
}

// ------------------------------------------------------------------------------------------
// Drawing the map off screen

/** One map section (the "left" or "right" map) as a JPEG data URL, drawn at print
 * resolution, and its sources' credits. */
async function drawSection(app, side, view, t) {
  const [w, h] = view.cssSize.map(Math.round);
  const ratio = Math.min(DPI / CSS_DPI, MAX_CANVAS / Math.max(w, h));
  const box = node("div", { class: "print-offscreen", "aria-hidden": "true" });
  // Through the CSSOM: the page's Content-Security-Policy allows no inline style attributes.
  box.style.width = `${w}px`;
  box.style.height = `${h}px`;
  document.body.append(box);
  const style = app.style(side);
  const map = new app.maplibregl.Map({
    container: box, style, center: view.center, zoom: view.zoom, bearing: view.bearing, pitch: 0,
    interactive: false, attributionControl: false, fadeDuration: 0, pixelRatio: ratio,
    maxCanvasSize: [MAX_CANVAS, MAX_CANVAS], canvasContextAttributes: { preserveDrawingBuffer: true },
  });
  try {
    app.prepare(map);
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(t("timeout"))), DRAW_TIMEOUT_MS);
      map.once("idle", () => { clearTimeout(timer); resolve(); });
    });
    return { image: map.getCanvas().toDataURL("image/jpeg", 0.9), credits: credits(map) };
  } finally {
    map.remove();
    box.remove();
  }
}

/** The attributions of the sources the drawn map's visible layers use. */
function credits(map) {
  const style = map.getStyle();
  const used = new Set(style.layers.filter((l) => l.source && l.layout?.visibility !== "none").map((l) => l.source));
  const out = new Set();
  for (const id of used) {
    const text = String(style.sources[id]?.attribution || "").replace(/<[^>]*>/g, "").trim();
    if (text) out.add(text);
  }
  return [...out];
}

// ------------------------------------------------------------------------------------------
// The PDF

async function makePdf(app, choice, t) {
  const lang = app.lang();
  const plan = layout(choice, app);
  const view = printView(app, plan, choice.scale);
  const bases = plan.compare ? [app.state.base, app.state.compare] : [app.state.base];
  const sections = [];
  for (const side of ["left", "right"].slice(0, bases.length)) sections.push(await drawSection(app, side, view, t));

  const doc = new jsPDF({ orientation: plan.landscape ? "landscape" : "portrait", unit: "mm", format: plan.format, compress: true });
  const title = choice.title || TEXT[lang].heading;
  doc.setProperties({ title, creator: "Stadtkarte", subject: `1 : ${Math.round(view.scale)}` });
  const today = new Date();
  header(doc, plan, title, `${t("date")}: ${today.toLocaleDateString(lang === "en" ? "en-GB" : "de-DE", { day: "numeric", month: "long", year: "numeric" })}`);
  sections.forEach((s, i) => {
    const f = plan.frames[i];
    doc.addImage(s.image, "JPEG", f.x, f.y, f.size[0], f.size[1], undefined, "FAST");
    doc.setDrawColor(40);
    doc.setLineWidth(0.3);
    doc.rect(f.x, f.y, f.size[0], f.size[1]);
    if (plan.compare) frameLabel(doc, f, baseLabel(app, bases[i], t), i === 0 ? t(plan.landscape ? "left" : "top") : t(plan.landscape ? "right" : "bottom"));
  });
  for (const f of plan.frames.slice(0, sections.length)) northArrow(doc, f, view.bearing);
  legend(doc, plan, app, bases, t);
  footer(doc, plan, view, [...new Set(sections.flatMap((s) => s.credits))], t, lang);
  return { blob: doc.output("blob"), name: `stadtkarte-${today.toISOString().slice(0, 10)}.pdf` };
}

function baseLabel(app, base, t) {
  const epoch = app.state.epochs.find((e) => e.id === base);
  return epoch ? app.epochLabel(epoch) : t("base.map");
}

function header(doc, plan, title, date) {
  const [pw] = plan.page;
  doc.setTextColor(20);
  doc.setFont("helvetica", "bold");
  doc.setFontSize(16);
  const dateW = doc.setFont("helvetica", "normal").setFontSize(10).getTextWidth(date);
  doc.setFont("helvetica", "bold").setFontSize(16);
  const lines = doc.splitTextToSize(title, pw - 2 * MARGIN - dateW - 6);
  doc.text(lines[0], MARGIN, MARGIN + 6);
  doc.setFont("helvetica", "normal").setFontSize(10);
  doc.text(date, pw - MARGIN, MARGIN + 6, { align: "right" });
  doc.setDrawColor(120);
  doc.setLineWidth(0.2);
  doc.line(MARGIN, MARGIN + 10, pw - MARGIN, MARGIN + 10);
}

function frameLabel(doc, frame, text, where) {
  const label = `${text} (${where})`;
  doc.setFont("helvetica", "bold").setFontSize(9);
  const w = doc.getTextWidth(label) + 4;
  doc.setFillColor(255, 255, 255);
  doc.setDrawColor(40);
  doc.setLineWidth(0.2);
  doc.rect(frame.x + 2, frame.y + 2, w, 6, "FD");
  doc.setTextColor(20);
  doc.text(label, frame.x + 4, frame.y + 6.2);
}

/** A north arrow in the frame's top right corner, turned with the map's bearing. */
function northArrow(doc, frame, bearing) {
  const cx = frame.x + frame.size[0] - 9, cy = frame.y + 10, r = 6.5;
  doc.setFillColor(255, 255, 255);
  doc.setDrawColor(60);
  doc.setLineWidth(0.2);
  doc.circle(cx, cy, r, "FD");
  const a = (-bearing * Math.PI) / 180;
  const at = (x, y) => [cx + x * Math.cos(a) - y * Math.sin(a), cy + x * Math.sin(a) + y * Math.cos(a)];
  const tip = at(0, -4.5), left = at(-2.2, 3), right = at(2.2, 3), notch = at(0, 1.5);
  doc.setFillColor(20, 20, 20);
  doc.triangle(...tip, ...left, ...notch, "F");
  doc.setFillColor(150, 150, 150);
  doc.triangle(...tip, ...right, ...notch, "F");
  const n = at(0, -4.5 - 2.6);
  doc.setFont("helvetica", "bold").setFontSize(7).setTextColor(20);
  doc.text("N", n[0], n[1] + 1.2, { align: "center" });
}

/** A colour of the app's styles (#rgb, #rrggbb, #rrggbbaa, rgb(), rgba()) over white paper. */
function paperColour(colour) {
  let r = 0, g = 0, b = 0, a = 1;
  const c = String(colour || "").trim();
  const hex = c.match(/^#([0-9a-f]{3,8})$/i);
  if (hex) {
    let h = hex[1];
    if (h.length === 3) h = [...h].map((x) => x + x).join("");
    [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
    if (h.length === 8) a = parseInt(h.slice(6, 8), 16) / 255;
  } else {
    const m = c.match(/^rgba?\(([^)]+)\)$/i);
    if (m) {
      const parts = m[1].split(",").map((x) => Number(x.trim()));
      [r, g, b] = parts;
      if (parts.length > 3) a = parts[3];
    }
  }
  return [r, g, b].map((v) => Math.round(a * v + (1 - a) * 255));
}

function swatch(doc, kind, fill, stroke, x, y) {
  doc.setLineWidth(0.3);
  doc.setDrawColor(...paperColour(stroke || fill));
  doc.setFillColor(...paperColour(fill));
  if (kind === "line") {
    doc.setLineWidth(1.4);
    doc.setDrawColor(120);
    doc.line(x, y, x + 7, y);
    doc.setLineWidth(1);
    doc.setDrawColor(...paperColour(fill));
    doc.line(x, y, x + 7, y);
  } else if (kind === "point") {
    doc.circle(x + 3.5, y, 1.6, "FD");
  } else {
    doc.rect(x, y - 1.8, 7, 3.6, "FD");
  }
}

/** The legend: the background(s), then each shown theme with its symbols. */
function legend(doc, plan, app, bases, t) {
  const box = plan.legend;
  const rows = [];
  rows.push({ heading: t("base") });
  for (const b of bases) rows.push({ text: baseLabel(app, b, t) });
  for (const theme of app.legend()) {
    rows.push({ heading: theme.title });
    for (const item of theme.items) rows.push({ item, text: item.label || theme.title });
  }
  const lineH = 4.2, colW = plan.landscape ? box.w : 60;
  let x = box.x, y = box.y + 4;
  doc.setFont("helvetica", "bold").setFontSize(10).setTextColor(20);
  doc.text(t("legend"), x, y);
  y += lineH + 1;
  const top = y, bottom = box.y + box.h - 1;
  for (const [i, row] of rows.entries()) {
    if (y > bottom) {
      x += colW;
      y = top;
      if (x + colW > box.x + box.w + 0.1) {
        doc.setFont("helvetica", "italic").setFontSize(7.5);
        doc.text(`… ${rows.length - i} ${t("more")}`, box.x + box.w, box.y + 4, { align: "right" });
        return;
      }
    }
    if (row.heading) {
      doc.setFont("helvetica", "bold").setFontSize(8);
      doc.text(doc.splitTextToSize(row.heading, colW - 2)[0], x, y);
    } else {
      const indent = row.item ? 9 : 0;
      if (row.item) swatch(doc, row.item.kind, row.item.fill, row.item.stroke, x, y - 1.1);
      doc.setFont("helvetica", "normal").setFontSize(7.5).setTextColor(20);
      doc.text(doc.splitTextToSize(row.text, colW - indent - 2)[0], x + indent, y);
    }
    y += lineH;
  }
}

/** A nice length for the scale bar: 1, 2 or 5 times a power of ten, at most `most` metres. */
function niceLength(most) {
  const p = 10 ** Math.floor(Math.log10(most));
  return [5, 2, 1].map((f) => f * p).find((v) => v <= most) || p;
}

/** Scale bar, numeric scale, the note on printing at actual size, and the sources. */
function footer(doc, plan, view, sources, t, lang) {
  const box = plan.footer;
  // On paper, 1 mm is scale/1000 metres (at the centre's latitude; Web Mercator's change of
  // scale over a city's section is far below the width of the bar's line).
  const metresPerMm = view.scale / 1000;
  const metres = niceLength(Math.min(60, plan.frames[0].size[0] / 3) * metresPerMm);
  const length = metres / metresPerMm;
  const x = box.x, y = box.y + 6;
  doc.setLineWidth(0.2);
  doc.setDrawColor(20);
  for (let i = 0; i < 4; i++) {
    const c = i % 2 ? 255 : 20;
    doc.setFillColor(c, c, c);
    doc.rect(x + (i * length) / 4, y, length / 4, 1.6, "FD");
  }
  doc.setFont("helvetica", "normal").setFontSize(7).setTextColor(20);
  const unit = (m) => (m >= 1000 ? `${group(m / 1000, lang)} km` : `${group(m, lang)} m`);
  doc.text("0", x, y + 4.6, { align: "center" });
  doc.text(unit(metres / 2), x + length / 2, y + 4.6, { align: "center" });
  doc.text(unit(metres), x + length, y + 4.6, { align: "center" });
  doc.setFont("helvetica", "bold").setFontSize(10);
  doc.text(`${t("scale")} 1 : ${group(view.scale, lang)}`, x + length + 8, y + 2);
  doc.setFont("helvetica", "normal").setFontSize(6.5).setTextColor(80);
  doc.text(t("hint"), x + length + 8, y + 5.5);
  doc.setFontSize(6.5).setTextColor(40);
  const credit = `${t("sources")}: ${sources.length ? sources.map((s) => (s.startsWith("©") ? s : `© ${s}`)).join(" · ") : "–"}`;
  const lines = doc.splitTextToSize(credit, box.w);
  doc.text(lines.slice(0, 3), x, y + 10);
}
