// Loads a MapLibre GL JS map in headless Chromium whose vector source is a PMTiles archive read
// with the `pmtiles` package's protocol (byte ranges over HTTP, no tile server), waits until the
// map is idle, and prints what is rendered: the city map taken away, as a hackathon participant
// would host it. MapLibre and pmtiles come from node_modules (no CDN); the archive from the URL.
//
//   node pmtiles.mjs ARCHIVE_URL LAYER LON LAT ZOOM
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launch } from "./common.mjs";

const [archive, layer, lon, lat, zoom] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const assets = {
  "/maplibre-gl.js": path.join(here, "node_modules", "maplibre-gl", "dist", "maplibre-gl.js"),
  "/maplibre-gl.css": path.join(here, "node_modules", "maplibre-gl", "dist", "maplibre-gl.css"),
  "/pmtiles.js": path.join(here, "node_modules", "pmtiles", "dist", "pmtiles.js"),
};
const page = `<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/maplibre-gl.css"><script src="/maplibre-gl.js"></script>
<script src="/pmtiles.js"></script>
<style>html,body,#map{margin:0;width:512px;height:512px}</style></head><body><div id="map"></div><script>
window.errors = [];
const protocol = new pmtiles.Protocol();
maplibregl.addProtocol("pmtiles", protocol.tile);
const map = new maplibregl.Map({
  container: "map", center: [${Number(lon)}, ${Number(lat)}], zoom: ${Number(zoom)},
  canvasContextAttributes: { preserveDrawingBuffer: true },
  style: { version: 8,
    sources: { data: { type: "vector", url: ${JSON.stringify("pmtiles://" + archive)} } },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#ffffff" } },
      { id: "fill", type: "fill", source: "data", "source-layer": ${JSON.stringify(layer)},
        paint: { "fill-color": "#b5533c" } } ] } });
map.on("error", (e) => window.errors.push(String(e.error && e.error.message || e)));
window.done = new Promise((resolve) => map.once("idle", resolve));
window.map = map;
</script></body></html>`;

const server = http.createServer((req, res) => {
  if (req.url === "/") {
    res.writeHead(200, { "content-type": "text/html" });
    return res.end(page);
  }
  const file = assets[req.url];
  if (!file || !fs.existsSync(file)) {
    res.writeHead(404);
    return res.end();
  }
  res.writeHead(200, { "content-type": file.endsWith(".css") ? "text/css" : "text/javascript" });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const browser = await launch();
try {
  const tab = await browser.newPage();
  const console_errors = [];
  const ranges = [];
  tab.on("console", (m) => { if (m.type() === "error") console_errors.push(m.text()); });
  tab.on("request", (r) => { if (r.url() === archive) ranges.push(r.headers()["range"] || null); });
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  await tab.evaluate(() => Promise.race([window.done, new Promise((r) => setTimeout(r, 20000))]));
  const result = await tab.evaluate(() => {
    const canvas = window.map.getCanvas();
    const gl = canvas.getContext("webgl2") || canvas.getContext("webgl");
    const pixels = new Uint8Array(canvas.width * canvas.height * 4);
    gl.readPixels(0, 0, canvas.width, canvas.height, gl.RGBA, gl.UNSIGNED_BYTE, pixels);
    let coloured = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      if (pixels[i] < 240 || pixels[i + 1] < 240 || pixels[i + 2] < 240) coloured++;
    }
    const features = window.map.queryRenderedFeatures({ layers: ["fill"] });
    return {
      coloured,
      features: features.length,
      properties: features.length ? features[0].properties : null,
      errors: window.errors,
    };
  });
  result.console_errors = console_errors;
  result.ranges = ranges;
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  server.close();
}
