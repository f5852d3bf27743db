// The map's print dialog end to end in headless Chromium: opened by keyboard, paper and
// orientation chosen, the PDF created and downloaded, as a citizen does it; axe on the open
// dialog; focus kept inside and given back; English; a 360-pixel phone. The PDFs are saved in
// OUT_DIR; the Rust test reads them with poppler (pdfinfo, pdftoppm, pdftotext).
//
//   node print.mjs BASE_URL SCENARIO_JSON OUT_DIR
//
// SCENARIO_JSON: {"center":[lon,lat], "zoom":z, "newEpoch":"id", "oldEpoch":"id"}
import path from "node:path";
import { launch, axeSource } from "./common.mjs";

const [base, scenarioText, outDir] = process.argv.slice(2);
const scenario = JSON.parse(scenarioText);
const out = { prints: {} };

const browser = await launch();

async function open(hash, viewport = { width: 1280, height: 800 }) {
  const page = await browser.newPage({ viewport, acceptDownloads: true });
  page.errors = [];
  page.on("console", (m) => { if (m.type() === "error") page.errors.push(m.text()); });
  page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
  await page.goto(`${base}/map#${hash}`);
  await page.waitForFunction(() => window.stadtkarte && window.stadtkarte.ready, null, { timeout: 60000 });
  await page.evaluate(() => new Promise((resolve) => {
    const m = window.stadtkarte.map;
    if (m.loaded() && m.areTilesLoaded()) resolve();
    else m.once("idle", resolve);
    setTimeout(resolve, 20000);
  }));
  return page;
}

/** Opens the dialog with the keyboard: Tab from the PNG export to "Drucken", then Enter. */
async function openDialog(page) {
  await page.focus("#export");
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement.id);
  await page.keyboard.press("Enter");
  await page.waitForSelector("dialog#print-dialog[open]", { timeout: 15000 });
  return { tabbedTo: focused, focusInside: await page.evaluate(() => document.activeElement.closest("dialog")?.id || null) };
}

/** Chooses with the keyboard (Space on a radio button, arrow keys in the select). */
async function choose(page, { paper, orientation, scale }) {
  await page.focus(`#print-paper-${paper}`);
  await page.keyboard.press("Space");
  await page.focus(`#print-orientation-${orientation}`);
  await page.keyboard.press("Space");
  await page.selectOption("#print-scale", scale);
}

/** Presses "PDF erstellen" and saves the download; the dialog's progress state on the way. */
async function create(page, name, file) {
  await page.focus("#print-create");
  const [download] = await Promise.all([
    page.waitForEvent("download", { timeout: 180000 }),
    (async () => {
      await page.keyboard.press("Enter");
      return page.evaluate(() => ({ disabled: document.getElementById("print-create").disabled,
        busy: document.getElementById("print-dialog").getAttribute("aria-busy"),
        status: document.getElementById("print-status").textContent }));
    })().then((s) => { out.prints[`${name}Busy`] = s; }),
  ]);
  const saved = path.join(outDir, `${file}.pdf`);
  await download.saveAs(saved);
  await page.waitForFunction(() => !document.getElementById("print-create").disabled, null, { timeout: 30000 });
  return {
    file: saved, suggested: download.suggestedFilename(),
    status: await page.locator("#print-status").innerText(),
    trueScale: await page.locator("#print-true-scale").innerText(),
    timing: await page.evaluate(() => window.stadtkarte.lastPrint),
  };
}

/** Tab through the dialog: focus must never reach the page behind it. */
async function tabAround(page) {
  const seen = [];
  for (let i = 0; i < 14; i++) {
    await page.keyboard.press("Tab");
    seen.push(await page.evaluate(() => {
      const a = document.activeElement;
      if (!a || a === document.body) return "(none)";
      return a.closest("dialog#print-dialog") ? `dialog:${a.id || a.tagName}` : `outside:${a.id || a.tagName}`;
    }));
  }
  return seen;
}

try {
  const [lon, lat] = scenario.center;
  const view = `karte=${scenario.zoom}/${lat}/${lon}`;

  // A4 landscape at 1 : 1000 over the newest aerial image, with the default themes.
  const page = await open(`${view}&grund=${scenario.newEpoch}`);
  const opened = await openDialog(page);
  out.dialog = { ...opened, heading: await page.locator("#print-heading").innerText(),
    title: await page.inputValue("#print-title"), tabs: await tabAround(page) };
  await page.evaluate(axeSource);
  out.dialog.axe = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  await choose(page, { paper: "a4", orientation: "landscape", scale: "1000" });
  out.prints.a4 = await create(page, "a4", "a4-quer");
  // Escape closes the dialog and gives the focus back to its button.
  await page.keyboard.press("Escape");
  await page.waitForSelector("dialog#print-dialog", { state: "detached", timeout: 5000 });
  out.dialog.focusAfter = await page.evaluate(() => document.activeElement.id);

  // A3 portrait of the current view.
  await openDialog(page);
  await choose(page, { paper: "a3", orientation: "portrait", scale: "current" });
  out.prints.a3 = await create(page, "a3", "a3-hoch");
  await page.keyboard.press("Escape");
  out.errors = page.errors.slice();
  await page.close();

  // Comparison mode: both years, A4 landscape.
  const cmp = await open(`${view}&grund=${scenario.newEpoch}&vergleich=${scenario.oldEpoch}`);
  await cmp.waitForFunction(() => window.stadtkarte.map2, null, { timeout: 20000 });
  await openDialog(cmp);
  await choose(cmp, { paper: "a4", orientation: "landscape", scale: "current" });
  out.prints.compare = await create(cmp, "compare", "vergleich");
  out.errors.push(...cmp.errors);
  await cmp.close();

  // A 360-pixel phone, in English: the dialog fits and its button is reachable.
  const phone = await open(`${view}&grund=${scenario.newEpoch}&lang=en`, { width: 360, height: 740 });
  await phone.click("#panel-toggle");
  await phone.locator("#print").scrollIntoViewIfNeeded();
  await phone.click("#print");
  await phone.waitForSelector("dialog#print-dialog[open]", { timeout: 15000 });
  const box = await phone.locator("#print-dialog").boundingBox();
  await phone.locator("#print-create").scrollIntoViewIfNeeded();
  const button = await phone.locator("#print-create").boundingBox();
  out.phone = { box, button, heading: await phone.locator("#print-heading").innerText(),
    create: await phone.locator("#print-create").innerText(), scrollWidth: await phone.evaluate(() => document.getElementById("print-dialog").scrollWidth),
    clientWidth: await phone.evaluate(() => document.getElementById("print-dialog").clientWidth) };
  out.errors.push(...phone.errors);
  await phone.close();
} catch (e) {
  out.error = `${e.message}\n${e.stack}`;
} finally {
  console.log(JSON.stringify(out));
  await browser.close();
}
