// Loads a MapLibre GL JS map in headless Chromium with a style whose vector source is the
// TileJSON given on the command line, waits until the map is idle, and prints what a person
// would check: whether the canvas shows something, and which features are rendered.
// With LAYER "@raster" the TileJSON is a raster (imagery) source shown as a raster layer.
//
//   node maplibre.mjs TILEJSON_URL LAYER LON LAT ZOOM
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launch } from "./common.mjs";

const [tilejson, layer, lon, lat, zoom] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, "node_modules", "maplibre-gl", "dist");
const page = `<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/maplibre-gl.css"><script src="/maplibre-gl.js"></script>
<style>html,body,#map{margin:0;width:512px;height:512px}</style></head><body><div id="map"></div><script>
window.errors = [];
const map = new maplibregl.Map({
  container: "map", center: [${Number(lon)}, ${Number(lat)}], zoom: ${Number(zoom)},
  canvasContextAttributes: { preserveDrawingBuffer: true },
  style: ${layer === "@raster" ? `{ version: 8,
    sources: { data: { type: "raster", url: ${JSON.stringify(tilejson)}, tileSize: 256 } },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#ffffff" } },
      { id: "fill", type: "raster", source: "data" } ] }` : `{ version: 8,
    sources: { data: { type: "vector", url: ${JSON.stringify(tilejson)} } },
    layers: [
      { id: "background", type: "background", paint: { "background-color": "#ffffff" } },
      { id: "fill", type: "fill", source: "data", "source-layer": ${JSON.stringify(layer)},
        paint: { "fill-color": "#b5533c" } } ] }`} });
map.on("error", (e) => window.errors.push(String(e.error && e.error.message || e)));
window.done = new Promise((resolve) => map.once("idle", resolve));
window.map = map;
</script></body></html>`;

const server = http.createServer((req, res) => {
  if (req.url === "/") {
    res.writeHead(200, { "content-type": "text/html" });
    return res.end(page);
  }
  const file = path.join(dist, path.basename(req.url));
  if (!fs.existsSync(file)) {
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
  tab.on("console", (m) => { if (m.type() === "error") console_errors.push(m.text()); });
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
    const raster = window.map.getLayer("fill").type === "raster";
    const features = raster ? [] : window.map.queryRenderedFeatures({ layers: ["fill"] });
    return {
      coloured,
      features: features.length,
      ids: features.slice(0, 20).map((f) => f.id),
      properties: features.length ? features[0].properties : null,
      errors: window.errors,
    };
  });
  result.console_errors = console_errors;
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  server.close();
}
