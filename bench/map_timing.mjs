// The citizens' map, cold, in headless Chromium: how long until the view is complete. Run by
// map_timing.py (which starts the server); on its own:
//
//   node bench/map_timing.mjs BASE_URL [RUNS]
//
// Two views: the default view (/map, no fragment) and zoom 16 at the centre of the newest aerial
// image over that image. Each run is a fresh browser context with the cache disabled; 1280×800,
// device pixel ratio 1. Per run: requests and bytes transferred (headers and encoded bodies,
// workers' requests included), the first tile (navigation start → the end of the first vector or
// imagery tile response) and complete (navigation start → the map's last `idle` event, once no
// request has been in flight for QUIET ms). Prints one JSON object.
//
// The floor, measured the same way in the same run: bare MapLibre GL JS pages (the same version,
// bundled here with esbuild from mapviewer/web's packages, served by a static server in this
// process, tiles from BASE_URL) with no app, no panel and a map over the whole window:
// "bare-default" and "bare-z16" draw only the newest aerial image (its parts as the map has them),
// at the same two views; "bare-z16-buildings" adds the buildings as one line layer. What the
// map needs beyond these is ours; what they need is MapLibre's under this machine's software GL.
import http from "node:http";
import path from "node:path";
import zlib from "node:zlib";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { launch } from "../tests/browser/common.mjs";

const [base, runsText] = process.argv.slice(2);
const RUNS = Number(runsText || 5);
const QUIET = 500;
const TILE = /\/(tiles|imagery)\/[^/]+\/\d+\/\d+\/\d+/;

const browser = await launch();

// The centre of the newest epoch, from the public imagery list (the same for any version).
const imagery = await (await fetch(`${base}/imagery`)).json();
const newest = imagery.epochs[imagery.epochs.length - 1];
const [w, s, e, n] = newest.bbox;
const floor = await floorServer();
const views = {
  default: `${base}/map`,
  z16: `${base}/map#karte=16/${((s + n) / 2).toFixed(5)}/${((w + e) / 2).toFixed(5)}&grund=${newest.id}`,
  "bare-default": `${floor.url}/?api=${encodeURIComponent(base)}`,
  "bare-z16": `${floor.url}/?api=${encodeURIComponent(base)}&z=16`,
  "bare-z16-buildings": `${floor.url}/?api=${encodeURIComponent(base)}&z=16&gebaeude=1`,
};

// The bare page: MapLibre, the newest epoch's parts as raster layers (as the map's
// imageryLayers makes them), optionally the buildings' outlines, nothing else.
async function floorServer() {
  const web = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "mapviewer", "web");
  const esbuild = createRequire(path.join(web, "package.json"))("esbuild");
  const page = `import maplibregl from "maplibre-gl";
import "maplibre-gl/dist/maplibre-gl.css";
const q = new URLSearchParams(location.search);
const api = q.get("api");
const katalog = await (await fetch(api + "/map/katalog.json")).json();
const epoch = katalog.epochs[katalog.epochs.length - 1];
const style = { version: 8, sources: {}, layers: [{ id: "bg", type: "background", paint: { "background-color": "#d9d9d9" } }] };
for (const part of epoch.parts) {
  const id = "bild-" + part.part;
  style.sources[id] = { type: "raster", tiles: part.tiles, tileSize: 256, minzoom: part.minzoom, maxzoom: part.maxzoom, bounds: epoch.bbox };
  style.layers.push({ id, type: "raster", source: id, minzoom: part.part === 0 ? 0 : part.minzoom, paint: { "raster-fade-duration": 0 } });
}
if (q.get("gebaeude")) {
  const c = katalog.collections.find((c) => c.id === "gebaeude");
  style.sources.gebaeude = { type: "vector", tiles: c.tiles, minzoom: c.minzoom, maxzoom: c.maxzoom };
  style.layers.push({ id: "gebaeude", type: "line", source: "gebaeude", "source-layer": "gebaeude", paint: { "line-color": "#ff8c00", "line-width": 1.5 } });
}
const [w, s, e, n] = epoch.bbox;
const view = q.get("z") ? { center: [(w + e) / 2, (s + n) / 2], zoom: Number(q.get("z")) } : { bounds: epoch.bbox, fitBoundsOptions: { padding: 20 } };
window.stadtkarte = { map: new maplibregl.Map({ container: "map", style, ...view, maxZoom: 20, fadeDuration: 0 }) };
`;
  const built = await esbuild.build({ stdin: { contents: page, resolveDir: web, loader: "js" }, bundle: true, minify: true,
    format: "esm", target: ["es2022"], outdir: "/floor", write: false, logLevel: "warning" });
  const files = { "/": ["text/html; charset=utf-8", `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bare</title>
<link rel="stylesheet" href="/stdin.css"><style>html,body,#map{margin:0;height:100%}</style></head>
<body><div id="map"></div><script type="module" src="/stdin.js"></script></body></html>`] };
  for (const f of built.outputFiles) files[`/${path.basename(f.path)}`] = [f.path.endsWith(".css") ? "text/css" : "text/javascript", f.contents];
  // Gzipped, as the platform serves its bundle.
  for (const f of Object.values(files)) f[1] = zlib.gzipSync(f[1]);
  const server = http.createServer((req, res) => {
    const file = files[new URL(req.url, "http://x").pathname];
    if (!file) return res.writeHead(404).end();
    res.writeHead(200, { "Content-Type": file[0], "Content-Encoding": "gzip" }).end(file[1]);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

async function once(url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  // The map's idle events, with their time since navigation start: app.js assigns
  // window.stadtkarte once the map exists.
  await context.addInitScript(() => {
    window.__idles = [];
    let value;
    Object.defineProperty(window, "stadtkarte", {
      configurable: true,
      get: () => value,
      set: (v) => { value = v; v.map.on("idle", () => window.__idles.push(performance.now())); },
    });
  });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  // Bytes on the wire as the network stack counts them (headers and encoded bodies).
  let wire = 0;
  cdp.on("Network.loadingFinished", (e) => { wire += e.encodedDataLength; });
  const inflight = new Set();
  const done = [];
  let requests = 0, lastChange = Date.now();
  page.on("request", (r) => { requests++; inflight.add(r); lastChange = Date.now(); });
  const finish = (r) => { inflight.delete(r); lastChange = Date.now(); done.push(r); };
  page.on("requestfinished", finish);
  page.on("requestfailed", finish);
  await page.goto(url);
  const deadline = Date.now() + 30000;
  for (;;) {
    await page.waitForTimeout(50);
    const quiet = inflight.size === 0 && Date.now() - lastChange >= QUIET;
    const idle = await page.evaluate(() => window.__idles.length > 0 && window.stadtkarte?.map.loaded());
    if ((quiet && idle) || Date.now() > deadline) break;
  }
  const origin = await page.evaluate(() => performance.timeOrigin);
  const idles = await page.evaluate(() => window.__idles);
  let bytes = 0, firstTile = Infinity;
  for (const r of done) {
    const sizes = await r.sizes().catch(() => null);
    if (sizes) bytes += sizes.responseBodySize + sizes.responseHeadersSize;
    const t = r.timing();
    if (TILE.test(r.url()) && t.responseEnd > 0) firstTile = Math.min(firstTile, t.startTime + t.responseEnd - origin);
  }
  await context.close();
  return { requests, bytes: Math.max(bytes, wire), firstTileMs: Math.round(firstTile), completeMs: Math.round(idles[idles.length - 1] ?? NaN) };
}

const out = { base, runs: RUNS, views: {} };
try {
  for (const [name, url] of Object.entries(views)) {
    await once(url); // warms the server's caches (tiles, catalog), not the browser's
    out.views[name] = { url, runs: [] };
    for (let i = 0; i < RUNS; i++) out.views[name].runs.push(await once(url));
  }
} finally {
  await browser.close();
  floor.close();
}
console.log(JSON.stringify(out));
