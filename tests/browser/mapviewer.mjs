// End-to-end checks of the citizens' map (/map) in headless Chromium, as a citizen would use it.
// Prints one JSON object with what each step found; the Rust test asserts on it.
//
//   node mapviewer.mjs BASE_URL SCENARIO_JSON
//
// SCENARIO_JSON: {"center":[lon,lat], "zoom":z, "newEpoch":"id", "oldEpoch":"id",
//   "plan":{"lon":..,"lat":..}, "street":"Name", "streetBbox":[w,s,e,n], "reports":{"lon":..,"lat":..}}
import fs from "node:fs";
import { launch, axe } from "./common.mjs";

const [base, scenarioText] = process.argv.slice(2);
const scenario = JSON.parse(scenarioText);
const out = { steps: {} };

const browser = await launch();

async function open(url, viewport = { width: 1280, height: 800 }) {
  const page = await browser.newPage({ viewport });
  page.errors = [];
  page.requests = [];
  page.on("request", (r) => page.requests.push(r.url()));
  page.on("console", (m) => { if (m.type() === "error") page.errors.push(m.text()); });
  page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.stadtkarte && window.stadtkarte.ready, null, { timeout: 60000 });
  await idle(page);
  return page;
}

async function idle(page, which = "map") {
  await page.evaluate((which) => new Promise((resolve) => {
    const m = window.stadtkarte[which];
    const done = () => setTimeout(resolve, 150);
    if (m.loaded() && !m.isMoving() && m.areTilesLoaded()) done();
    else m.once("idle", done);
    setTimeout(resolve, 20000);
  }), which);
}


const rendered = (page, layer) => page.evaluate((layer) => {
  const m = window.stadtkarte.map;
  return m.getLayer(layer) ? m.queryRenderedFeatures({ layers: [layer] }).length : -1;
}, layer);

// Pixel statistics of a screenshot region: mean saturation and mean brightness.
async function pixels(page, clip) {
  const png = await page.screenshot({ clip });
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.width; c.height = img.height;
    const g = c.getContext("2d");
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let sat = 0, lum = 0, n = 0, lumSq = 0;
    for (let i = 0; i < d.length; i += 4) {
      const mx = Math.max(d[i], d[i + 1], d[i + 2]), mn = Math.min(d[i], d[i + 1], d[i + 2]);
      sat += mx - mn; const l = (d[i] + d[i + 1] + d[i + 2]) / 3; lum += l; lumSq += l * l; n++;
    }
    return { saturation: sat / n, brightness: lum / n, spread: Math.sqrt(lumSq / n - (lum / n) ** 2) };
  }, png.toString("base64"));
}

try {
  const [lon, lat] = scenario.center;
  const start = `${base}/map#karte=${scenario.zoom}/${lat}/${lon}&grund=${scenario.newEpoch}`;

  // 1. Load: no console errors, the canvas is not blank.
  const t0 = Date.now();
  const page = await open(start);
  // What the load asked for: one catalog document, no TileJSON (/tiles/{id}, /imagery/{id}) and
  // no catalog lists (/collections, /imagery) before the tiles.
  const paths = page.requests.map((u) => new URL(u).pathname);
  out.steps.load = { ms: Date.now() - t0, errors: page.errors.slice(),
    katalog: paths.filter((p) => p === "/map/katalog.json").length,
    metadata: paths.filter((p) => /^\/(tiles|imagery)\/[^/]+\/?$/.test(p) || /^\/(collections|imagery|tiles)\/?$/.test(p)),
    tiles: paths.filter((p) => /^\/(tiles|imagery)\/[^/]+\/\d+\/\d+\/\d+/.test(p)).length,
    // The vector collections each tile was asked for with (one request may carry several).
    vectorTiles: [...new Set(paths.filter((p) => /^\/tiles\/[^/]+\/\d+\/\d+\/\d+/.test(p)).map((p) => decodeURIComponent(p.split("/")[2])))] };
  const box = await page.locator("#map").boundingBox();
  out.steps.canvas = await pixels(page, box);

  // 1b. Over the aerial image areas are outlines; "Flächen füllen" fills them (mouse), the
  // permalink keeps it, the keyboard switches back. Over the city map they are filled.
  const areas = (p) => p.evaluate(() => {
    const m = window.stadtkarte.map;
    return { fill: m.getPaintProperty("gebaeude-fill", "fill-opacity"), outline: m.getPaintProperty("gebaeude-kontur", "line-opacity"),
      control: !document.getElementById("fill-choice").hidden, checked: document.getElementById("fill").checked, hash: location.hash };
  });
  out.steps.areas = { aerial: await areas(page) };
  await page.click("#fill");
  out.steps.areas.filled = await areas(page);
  const filledPage = await open(await page.evaluate(() => location.href));
  out.steps.areas.restored = await areas(filledPage);
  await filledPage.close();
  await page.focus("#fill");
  await page.keyboard.press("Space");
  out.steps.areas.keyboard = await areas(page);
  const cityPage = await open(`${base}/map#karte=${scenario.zoom}/${lat}/${lon}&grund=karte&ebenen=gebaeude,baugebiete`);
  out.steps.areas.map = await cityPage.evaluate(() => ({ fill: window.stadtkarte.map.getPaintProperty("baugebiete-fill", "fill-opacity"),
    control: !document.getElementById("fill-choice").hidden }));
  out.steps.areas.errors = [...page.errors, ...cityPage.errors];
  await cityPage.close();

  // 2. Toggling a layer changes what is rendered.
  const before = await rendered(page, "gebaeude-fill");
  await page.click("#layer-gebaeude");
  await idle(page);
  const off = await rendered(page, "gebaeude-fill");
  await page.click("#layer-gebaeude");
  await idle(page);
  out.steps.toggle = { before, off, after: await rendered(page, "gebaeude-fill"), hash: await page.evaluate(() => location.hash) };

  // 2b. The Mängelmelder's reports: off at first; shown, they are clustered at city zoom and
  // points coloured by status up close; a click names the report and links its page.
  if (scenario.reports) {
    const { lon: rlon, lat: rlat } = scenario.reports;
    const rp = await open(`${base}/map#karte=12/${rlat}/${rlon}`);
    const hidden = await rp.evaluate(() => window.stadtkarte.map.getLayoutProperty("maengel-point", "visibility"));
    await rp.click("#layer-maengel");
    await rp.waitForFunction(() => window.stadtkarte.map.isSourceLoaded("v-maengel"), null, { timeout: 20000 });
    await idle(rp);
    const clusters = await rendered(rp, "maengel-cluster");
    await rp.evaluate(([x, y]) => window.stadtkarte.map.jumpTo({ center: [x, y], zoom: 19 }), [rlon, rlat]);
    await idle(rp);
    await rp.waitForTimeout(500);
    const points = await rendered(rp, "maengel-point");
    const colours = await rp.evaluate(() => [...new Set(window.stadtkarte.map.queryRenderedFeatures({ layers: ["maengel-point"] })
      .map((f) => f.properties.status))]);
    const at = await rp.evaluate(() => {
      const m = window.stadtkarte.map;
      const f = m.queryRenderedFeatures({ layers: ["maengel-point"] })[0];
      return f ? m.project(f.geometry.coordinates) : null;
    });
    let info = null, link = null;
    if (at) {
      const b = await rp.locator("#map").boundingBox();
      await rp.mouse.click(b.x + at.x, b.y + at.y);
      await rp.waitForSelector("#info:not([hidden])", { timeout: 10000 });
      await rp.waitForSelector('#info a[href^="/maengel/"]', { timeout: 10000 }).catch(() => null);
      info = await rp.locator("#info").innerText();
      link = await rp.locator('#info a[href^="/maengel/"]').first().getAttribute("href").catch(() => null);
    }
    out.steps.reports = { hidden, clusters, points, colours, info, link, errors: rp.errors.slice() };
    await rp.close();
  }

  // 3. Clicking a building opens its attributes.
  const target = await page.evaluate(() => {
    const m = window.stadtkarte.map;
    const size = m.getCanvas().getBoundingClientRect();
    const centre = [size.width / 2, size.height / 2];
    const hits = m.queryRenderedFeatures([[centre[0] - 150, centre[1] - 150], [centre[0] + 150, centre[1] + 150]], { layers: ["gebaeude-fill"] });
    for (const f of hits) {
      const ring = f.geometry.type === "Polygon" ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
      const xs = ring.map((c) => m.project(c));
      const cx = xs.reduce((a, p) => a + p.x, 0) / xs.length, cy = xs.reduce((a, p) => a + p.y, 0) / xs.length;
      const at = m.queryRenderedFeatures([cx, cy], { layers: ["gebaeude-fill"] });
      if (at.length && at[0].id === f.id && !m.queryRenderedFeatures([cx, cy], { layers: ["poi-icon", "strassen-line", "strassen-casing"] }).length) {
        return { x: cx + size.left, y: cy + size.top, id: f.id, props: f.properties };
      }
    }
    return null;
  });
  if (target) {
    await page.mouse.click(target.x, target.y);
    await page.waitForSelector("#info:not([hidden]) table", { timeout: 15000 });
    out.steps.building = { id: target.id, props: target.props, info: await page.locator("#info").innerText(),
      hash: await page.evaluate(() => location.hash) };
  } else {
    out.steps.building = { error: "no building found near the centre" };
  }

  // The text alternative lists what the map shows.
  await page.click("#textview summary");
  out.steps.textView = await page.locator("#textlist").innerText();

  // Export of the current view as PNG.
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 15000 }), page.click("#export")]);
  const file = await download.path();
  const head = fs.readFileSync(file).subarray(0, 8).toString("hex");
  out.steps.png = { name: download.suggestedFilename(), head, bytes: fs.statSync(file).size };

  // Accessibility of /map with the layer panel and a popup open.
  out.steps.axeMap = await axe(page);

  // English by switch, and back.
  await page.click("#lang");
  out.steps.english = { lang: await page.evaluate(() => document.documentElement.lang),
    layers: await page.innerText("#h-layers"), search: await page.getAttribute("#q", "placeholder"), fill: await page.innerText("label[for=fill]"),
    hash: await page.evaluate(() => location.hash) };
  await page.click("#lang");
  out.steps.german = { lang: await page.evaluate(() => document.documentElement.lang), layers: await page.innerText("#h-layers"),
    fill: await page.innerText("label[for=fill]") };

  // 4. Permalink restores view, background and layers.
  await page.click("#layer-strassen");
  await page.click(`#base-${scenario.oldEpoch}`);
  await idle(page);
  const link = await page.evaluate(() => location.href);
  const state1 = await page.evaluate(() => ({ c: window.stadtkarte.map.getCenter(), z: window.stadtkarte.map.getZoom(),
    base: window.stadtkarte.state.base, visible: [...window.stadtkarte.state.visible].sort() }));
  const again = await open(link);
  // The restored feature's panel fills once its data has arrived.
  await again.waitForFunction(() => {
    const info = document.getElementById("info");
    return !info.hidden && !/Lädt|Loading/.test(info.innerText);
  }, null, { timeout: 20000 }).catch(() => null);
  const state2 = await again.evaluate(() => ({ c: window.stadtkarte.map.getCenter(), z: window.stadtkarte.map.getZoom(),
    base: window.stadtkarte.state.base, visible: [...window.stadtkarte.state.visible].sort(),
    strassenShown: window.stadtkarte.map.getLayoutProperty("strassen-line", "visibility"),
    info: document.getElementById("info").hidden ? null : document.getElementById("info").innerText }));
  out.steps.permalink = { link, state1, state2, errors: again.errors.slice() };
  await again.close();

  // 5. Swipe: two epochs side by side; only the images (all themes off).
  const swipePage = await open(`${base}/map#karte=${scenario.zoom}/${lat}/${lon}&grund=${scenario.newEpoch}&ebenen=`);
  await swipePage.selectOption("#compare-epoch", scenario.oldEpoch).catch(() => {});
  await swipePage.check("#compare");
  await swipePage.selectOption("#compare-epoch", scenario.oldEpoch);
  await idle(swipePage);
  await idle(swipePage, "map2");
  await swipePage.waitForTimeout(500);
  const mbox = await swipePage.locator("#maps").boundingBox();
  const strip = (from, to) => ({ x: mbox.x + mbox.width * from, y: mbox.y + 40, width: mbox.width * (to - from), height: mbox.height - 80 });
  const left = await pixels(swipePage, strip(0.05, 0.45));
  const right = await pixels(swipePage, strip(0.55, 0.95));
  // Keyboard moves the divider.
  await swipePage.focus("#swipe");
  await swipePage.keyboard.press("Shift+ArrowLeft");
  const moved = await swipePage.getAttribute("#swipe", "aria-valuenow");
  // The mouse drags the divider.
  const handle = await swipePage.locator("#swipe span").boundingBox();
  await swipePage.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
  await swipePage.mouse.down();
  await swipePage.mouse.move(mbox.x + mbox.width * 0.25, handle.y + handle.height / 2, { steps: 5 });
  await swipePage.mouse.up();
  const dragged = Number(await swipePage.getAttribute("#swipe", "aria-valuenow"));
  out.steps.swipe = { left, right, moved, dragged, labels: [await swipePage.innerText("#swipe-left"), await swipePage.innerText("#swipe-right")],
    errors: swipePage.errors.slice() };
  await swipePage.close();

  // Touch drags the divider too; locate-me centres the map on the device's position.
  const touch = await browser.newContext({ hasTouch: true, viewport: { width: 1280, height: 800 },
    geolocation: { latitude: lat + 0.002, longitude: lon - 0.003 }, permissions: ["geolocation"] });
  const tp = await touch.newPage();
  await tp.goto(`${base}/map#karte=${scenario.zoom}/${lat}/${lon}&grund=${scenario.newEpoch}&vergleich=${scenario.oldEpoch}`);
  await tp.waitForFunction(() => window.stadtkarte && window.stadtkarte.ready && window.stadtkarte.map2, null, { timeout: 60000 });
  const th = await tp.locator("#swipe span").boundingBox();
  const tbox = await tp.locator("#maps").boundingBox();
  const cdpTouch = await touch.newCDPSession(tp);
  const point = (x, y) => ({ touchPoints: [{ x, y, id: 1 }] });
  const y0 = th.y + th.height / 2;
  await cdpTouch.send("Input.dispatchTouchEvent", { type: "touchStart", ...point(th.x + th.width / 2, y0) });
  for (let i = 1; i <= 5; i++) {
    await cdpTouch.send("Input.dispatchTouchEvent", { type: "touchMove", ...point(th.x + th.width / 2 + (tbox.width * 0.3 * i) / 5, y0) });
  }
  await cdpTouch.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  const touched = Number(await tp.getAttribute("#swipe", "aria-valuenow"));
  await tp.click(".maplibregl-ctrl-geolocate");
  await tp.waitForTimeout(3000);
  const located = await tp.evaluate(() => window.stadtkarte.map.getCenter());
  out.steps.touch = { touched, located, expected: { lng: lon - 0.003, lat: lat + 0.002 } };
  await touch.close();

  // 6. A plan: click inside a building zone, the panel shows the plan and its zoning.
  if (scenario.plan) {
    const planPage = await open(`${base}/map#karte=18/${scenario.plan.lat}/${scenario.plan.lon}&grund=karte&ebenen=bebauungsplaene,baugebiete`);
    const at = await planPage.evaluate(([plon, plat]) => {
      const m = window.stadtkarte.map;
      const p = m.project([plon, plat]);
      const r = m.getCanvas().getBoundingClientRect();
      return { x: p.x + r.left, y: p.y + r.top };
    }, [scenario.plan.lon, scenario.plan.lat]);
    await planPage.mouse.click(at.x, at.y);
    await planPage.waitForFunction(() => /GRZ|Grundfläche|zone at this place|Festsetzungen/.test(document.getElementById("info").innerText)
      && !/Lädt/.test(document.getElementById("info").innerText), null, { timeout: 15000 }).catch(() => {});
    out.steps.plan = { info: await planPage.locator("#info").innerText(), errors: planPage.errors.slice() };
    await planPage.close();
  }

  // 7. Search finds a street and centres it (keyboard only).
  const searchPage = await open(`${base}/map#karte=13/${lat}/${lon}&grund=karte`);
  await searchPage.focus("#q");
  await searchPage.keyboard.type(scenario.street.slice(0, Math.max(4, scenario.street.length - 2)), { delay: 20 });
  await searchPage.waitForSelector("#results li[role=option]:not([aria-disabled])", { timeout: 15000 });
  const options = await searchPage.locator("#results li").allInnerTexts();
  const index = options.findIndex((o) => o.startsWith(scenario.street));
  for (let i = 0; i <= index; i++) await searchPage.keyboard.press("ArrowDown");
  await searchPage.keyboard.press("Enter");
  await searchPage.waitForTimeout(1500);
  await idle(searchPage);
  out.steps.search = { options, index, centre: await searchPage.evaluate(() => window.stadtkarte.map.getCenter()),
    zoom: await searchPage.evaluate(() => window.stadtkarte.map.getZoom()) };
  await searchPage.close();

  // 8. A 360-pixel phone: every control is on screen.
  const phone = await open(start, { width: 360, height: 740 });
  const visible = async (selector) => {
    const b = await phone.locator(selector).first().boundingBox();
    return Boolean(b && b.width > 0 && b.height > 0 && b.x >= 0 && b.y >= 0 && b.x + b.width <= 361 && b.y + b.height <= 741);
  };
  const closed = {};
  for (const s of ["#q", "#panel-toggle", "#lang", ".maplibregl-ctrl-zoom-in", ".maplibregl-ctrl-zoom-out", ".maplibregl-ctrl-geolocate", ".maplibregl-ctrl-scale"]) closed[s] = await visible(s);
  await phone.click("#panel-toggle");
  const opened = {};
  for (const s of [`#base-${scenario.newEpoch}`, "#epoch", "#compare", "#layer-gebaeude", "#export", "#permalink"]) {
    await phone.locator(s).scrollIntoViewIfNeeded();
    opened[s] = await visible(s);
  }
  out.steps.phone = { closed, opened, errors: phone.errors.slice() };
  await phone.close();

  // 9. The landing page passes axe too.
  const landing = await browser.newPage();
  await landing.goto(`${base}/`);
  out.steps.axeLanding = await axe(landing);
  out.steps.landingLinksMap = await landing.locator('a[href$="/map"]').count();
  await landing.close();

  // The open-data pages (list, a vector dataset with its embedded map, the aerial images) pass
  // axe too; the embedded map shows the dataset's layer.
  out.steps.opendata = {};
  for (const path of ["/opendata", "/opendata/gebaeude", "/opendata/luftbilder", "/opendata?lang=en"]) {
    const p = await browser.newPage();
    await p.goto(`${base}${path}`, { waitUntil: "networkidle" });
    const frame = await p.locator("iframe").first().getAttribute("src").catch(() => null);
    let embedded = null;
    if (frame) {
      const f = p.frames().find((x) => x.url().includes("/map"));
      await f.waitForFunction(() => window.stadtkarte && window.stadtkarte.ready, null, { timeout: 60000 });
      await f.waitForTimeout(2000);
      embedded = await f.evaluate(() => ({ base: window.stadtkarte.state.base, visible: [...window.stadtkarte.state.visible],
        buildings: window.stadtkarte.map.getLayer("gebaeude-fill") ? window.stadtkarte.map.queryRenderedFeatures({ layers: ["gebaeude-fill"] }).length : -1 }));
    }
    out.steps.opendata[path] = { frame, embedded, axe: await axe(p) };
    await p.close();
  }

  // 10. Cold load: bytes over the wire and time until the first tiles show.
  const cold = await browser.newContext();
  const coldPage = await cold.newPage({ viewport: { width: 1280, height: 800 } });
  const cdp = await cold.newCDPSession(coldPage);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  let bytes = 0, firstTile = null;
  const began = Date.now();
  cdp.on("Network.loadingFinished", (e) => { bytes += e.encodedDataLength; });
  coldPage.on("response", (r) => { if (firstTile === null && /\/(tiles|imagery)\/[^/]+\/\d+\/\d+\/\d+/.test(r.url())) firstTile = Date.now() - began; });
  await coldPage.goto(start);
  await coldPage.waitForFunction(() => window.stadtkarte && window.stadtkarte.ready, null, { timeout: 60000 });
  const firstRender = await coldPage.evaluate(() => new Promise((resolve) => {
    const m = window.stadtkarte.map;
    if (m.areTilesLoaded()) resolve(performance.now());
    else m.once("idle", () => resolve(performance.now()));
  }));
  out.steps.cold = { bytes, firstTileMs: firstTile, idleMs: Math.round(firstRender) };
  await cold.close();
} catch (e) {
  out.error = `${e.message}\n${e.stack}`;
} finally {
  console.log(JSON.stringify(out));
  await browser.close();
}
