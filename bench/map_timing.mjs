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
const views = {
  default: `${base}/map`,
  z16: `${base}/map#karte=16/${((s + n) / 2).toFixed(5)}/${((w + e) / 2).toFixed(5)}&grund=${newest.id}`,
};

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
}
console.log(JSON.stringify(out));
