// A development plan in headless Chromium: the map draws its layers in the signs of the
// Planzeichenverordnung with a legend; the plan panel links the plan page and the PDF and lays
// the plan scan over the map with an opacity slider; the plan page draws a small map. Prints one
// JSON object with what each step found; the Rust test (tests/tests/it/plans.rs) asserts on it.
//
//   node plans.mjs BASE_URL '{"plan": id, "bbox": [w,s,e,n], "scan": [[lon,lat]×4], "collections": [...]}'
import { launch, axe } from "./common.mjs";

const [base, scenarioText] = process.argv.slice(2);
const scenario = JSON.parse(scenarioText);
const out = { steps: {} };

const browser = await launch();

async function open(url, viewport = { width: 1280, height: 800 }) {
  const page = await browser.newPage({ viewport });
  page.errors = [];
  page.on("console", (m) => { if (m.type() === "error") page.errors.push(`${m.text()} ${m.location().url || ""}`); });
  page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on("response", (r) => { if (r.status() >= 400) page.errors.push(`${r.status()} ${r.url()}`); });
  await page.goto(url);
  await page.waitForFunction(() => window.stadtkarte && window.stadtkarte.ready, null, { timeout: 60000 });
  await idle(page);
  return page;
}

async function idle(page) {
  await page.evaluate(() => new Promise((resolve) => {
    const m = window.stadtkarte.map;
    const done = () => setTimeout(resolve, 200);
    if (m.loaded() && !m.isMoving() && m.areTilesLoaded()) done();
    else m.once("idle", done);
    setTimeout(resolve, 20000);
  }));
}


// The pixels of a screenshot region, decoded in the page: [r, g, b] of the first pixel, the
// mean brightness and saturation, and how many pixels are a clear blue.
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
    let sat = 0, lum = 0, blue = 0, n = 0;
    for (let i = 0; i < d.length; i += 4) {
      sat += Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]);
      lum += (d[i] + d[i + 1] + d[i + 2]) / 3;
      if (d[i + 2] > 150 && d[i + 2] - d[i] > 80 && d[i + 2] - d[i + 1] > 40) blue++;
      n++;
    }
    return { first: [d[0], d[1], d[2]], saturation: sat / n, brightness: lum / n, blue };
  }, png.toString("base64"));
}

try {
  const [w, s, e, n] = scenario.bbox;
  const lon = (w + e) / 2, lat = (s + n) / 2;
  const layers = ["bebauungsplaene", ...scenario.collections].join(",");
  const page = await open(`${base}/map#karte=19/${lat}/${lon}&grund=karte&ebenen=${layers}`);
  out.steps.load = { errors: page.errors.slice() };

  // 1. The styles as set, what is drawn, and a pixel inside a zone away from every line (the
  // labels hidden for it).
  await page.evaluate(() => {
    const m = window.stadtkarte.map;
    for (const l of m.getStyle().layers) if (l.type === "symbol") m.setLayoutProperty(l.id, "visibility", "none");
  });
  await idle(page);
  const styles = await page.evaluate(() => {
    const m = window.stadtkarte.map;
    const g = document.createElement("canvas").getContext("2d");
    const rgb = (value) => {
      g.fillStyle = "#000000";
      g.fillStyle = value;
      const hex = g.fillStyle;
      return hex.startsWith("#") ? [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) : hex.match(/\d+/g).slice(0, 3).map(Number);
    };
    const line = (id) => ({ colour: rgb(m.getPaintProperty(id, "line-color")), dashes: (m.getPaintProperty(id, "line-dasharray") || []).length,
      rendered: m.queryRenderedFeatures({ layers: [id] }).length });
    const size = m.getCanvas().getBoundingClientRect();
    const lines = m.getStyle().layers.filter((l) => l.type === "line" && l.metadata?.collection).map((l) => l.id);
    let spot = null;
    for (let y = 20; y < size.height - 20 && !spot; y += 7) {
      for (let x = 20; x < size.width - 20 && !spot; x += 7) {
        const here = m.queryRenderedFeatures([x, y]).map((f) => f.layer.id);
        if (!here.includes("baugebiete-fill") || here.includes("ueberbaubare_flaechen-fill")) continue;
        if (m.queryRenderedFeatures([[x - 5, y - 5], [x + 5, y + 5]], { layers: lines }).length) continue;
        spot = { x, y, page: { x: x + size.left, y: y + size.top } };
      }
    }
    return { baugrenze: line("baugrenzen-line"), geltungsbereich: line("bebauungsplaene-line"),
      zones: m.queryRenderedFeatures({ layers: ["baugebiete-fill"] }).length, spot,
      canvas: { x: size.left, y: size.top, width: size.width, height: size.height } };
  });
  if (styles.spot) {
    styles.zonePixel = (await pixels(page, { x: styles.spot.page.x, y: styles.spot.page.y, width: 1, height: 1 })).first;
  }
  styles.linePixels = await pixels(page, styles.canvas);
  out.steps.styles = styles;

  // 2. The legend in the layer panel, in German and English; the zones' labels ("WA / GRZ 0,4")
  // as MapLibre evaluates them for a zone on the map, with the language's decimal sign.
  const zoneLabel = () => page.evaluate(() => {
    const m = window.stadtkarte.map;
    const zone = m.queryRenderedFeatures({ layers: ["baugebiete-fill"] }).find((f) => f.properties.grz != null);
    if (!zone) return null;
    const value = m.style.getLayer("baugebiete-label").layout.get("text-field").evaluate(zone, {});
    return { grz: zone.properties.grz, gfz: zone.properties.gfz ?? null, text: value.toString() };
  });
  const legend = { labelDe: await zoneLabel() };
  legend.de = await page.locator("#layers").innerText();
  await page.click("#lang");
  legend.en = await page.locator("#layers").innerText();
  legend.labelEn = await zoneLabel();
  await page.click("#lang");
  out.steps.legend = legend;

  // 3. The plan panel: a click into the plan.
  const spot = styles.spot?.page || { x: styles.canvas.x + styles.canvas.width / 2, y: styles.canvas.y + styles.canvas.height / 2 };
  await page.mouse.click(spot.x, spot.y);
  await page.waitForSelector("#scan-toggle", { timeout: 20000 });
  const hrefs = await page.locator("#info a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
  out.steps.panel = { info: await page.locator("#info").innerText(), hrefs,
    pageLink: hrefs.find((h) => /^\/plans\/[^/]+\?lang=/.test(h)) || null,
    pdf: await page.locator("#info a.urkunde").first().getAttribute("href").catch(() => null) };

  // 3b. With only the boundary shown, the panel's button shows every plan layer.
  const only = await open(`${base}/map#karte=19/${lat}/${lon}&grund=karte&ebenen=bebauungsplaene`);
  await only.mouse.click(spot.x, spot.y);
  await only.waitForSelector("#plan-all", { timeout: 20000 });
  const hidden = await only.evaluate(() => window.stadtkarte.map.getLayoutProperty("baugrenzen-line", "visibility"));
  await only.click("#plan-all");
  await idle(only);
  out.steps.showAll = { hidden, shown: await only.evaluate(() => window.stadtkarte.map.getLayoutProperty("baugrenzen-line", "visibility")),
    checked: await only.isChecked("#layer-baugrenzen"), visible: await only.evaluate(() => [...window.stadtkarte.state.visible]),
    errors: only.errors.slice() };
  await only.close();

  // 4. The scan: on by mouse, then the slider by keyboard; the picture changes where the plan is.
  const planBox = await page.evaluate(([w, s, e, n]) => {
    const m = window.stadtkarte.map, r = m.getCanvas().getBoundingClientRect();
    const a = m.project([w, n]), b = m.project([e, s]);
    return { x: r.left + Math.max(0, a.x), y: r.top + Math.max(0, a.y), width: Math.max(4, b.x - a.x), height: Math.max(4, b.y - a.y) };
  }, scenario.bbox);
  const scan = { before: await page.evaluate(() => window.stadtkarte.map.getLayer("planscan")?.id ?? null) };
  const without = await pixels(page, planBox);
  await page.click("#scan-toggle");
  await page.waitForFunction(() => window.stadtkarte.map.getSource("planscan") && window.stadtkarte.map.isSourceLoaded("planscan"), null, { timeout: 20000 });
  await idle(page);
  const opacity = () => page.evaluate(() => window.stadtkarte.map.getPaintProperty("planscan", "raster-opacity"));
  scan.shown = await opacity();
  scan.coordinates = await page.evaluate(() => window.stadtkarte.map.getSource("planscan").coordinates);
  const withScan = await pixels(page, planBox);
  scan.changed = Math.abs(withScan.brightness - without.brightness) + Math.abs(withScan.saturation - without.saturation);
  scan.label = await page.locator("label[for=scan-opacity]").innerText();
  await page.focus("#scan-opacity");
  for (let i = 0; i < 4; i++) await page.keyboard.press("ArrowLeft");
  scan.keyboard = await opacity();
  scan.valuetext = await page.getAttribute("#scan-opacity", "aria-valuetext");
  await page.keyboard.press("End");
  scan.end = await opacity();
  // The link keeps the scan: a page opened from it shows the scan at the opacity set.
  await page.keyboard.press("Home");
  for (let i = 0; i < 8; i++) await page.keyboard.press("ArrowRight");
  scan.link = await page.evaluate(() => location.hash);
  const linked = await open(`${base}/map${scan.link}`);
  await linked.waitForFunction(() => window.stadtkarte.map.getSource("planscan") && window.stadtkarte.map.isSourceLoaded("planscan"), null, { timeout: 20000 });
  scan.linked = {
    opacity: await linked.evaluate(() => window.stadtkarte.map.getPaintProperty("planscan", "raster-opacity")),
    coordinates: await linked.evaluate(() => window.stadtkarte.map.getSource("planscan").coordinates),
    errors: linked.errors.slice(),
  };
  await linked.close();
  out.steps.axeMap = await axe(page);
  await page.click("#scan-toggle");
  scan.off = await page.evaluate(() => window.stadtkarte.map.getLayer("planscan")?.id ?? null);
  scan.offLink = await page.evaluate(() => location.hash);
  scan.errors = page.errors.slice();
  out.steps.scan = scan;
  await page.close();

  // 5. The plan page with its small map, in both languages and on a phone.
  const planPage = await open(`${base}/plans/${encodeURIComponent(scenario.plan)}`);
  const pageOut = {
    drawn: await planPage.evaluate(() => {
      const m = window.stadtkarte.map;
      return m.queryRenderedFeatures({ layers: m.getStyle().layers.filter((l) => l.source?.startsWith("p-")).map((l) => l.id) }).length;
    }),
    legend: await planPage.locator(".plan-legend").innerText(),
    axe: await axe(planPage),
    errors: planPage.errors.slice(),
  };
  await planPage.close();
  const english = await open(`${base}/plans/${encodeURIComponent(scenario.plan)}?lang=en`);
  pageOut.axeEn = await axe(english);
  pageOut.legendEn = await english.locator(".plan-legend").innerText();
  await english.close();
  const phone = await open(`${base}/plans/${encodeURIComponent(scenario.plan)}`, { width: 360, height: 740 });
  pageOut.phoneWidth = await phone.evaluate(() => document.documentElement.scrollWidth);
  pageOut.axePhone = await axe(phone);
  await phone.close();
  out.steps.page = pageOut;
} catch (e) {
  out.error = `${e.message}\n${e.stack}`;
} finally {
  console.log(JSON.stringify(out));
  await browser.close();
}
