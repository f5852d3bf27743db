// The petitions map end to end in headless Chromium: a citizen starts a petition about an area
// drawn on the map (by keyboard and mouse), confirms it from the mail, a moderator publishes it,
// another citizen signs and confirms from the mail, and the petition's page follows: the count,
// the table per district and the choropleth. Then axe-core and a 360-pixel phone on every page
// of the way. The Rust test (tests/it/petitions_browser.rs) drives it and asserts on it.
//
//   node petitionen.mjs BASE_URL SCENARIO_JSON
//
// SCENARIO_JSON: {"title", "text", "topic", "creatorName", "creatorEmail", "signerName",
//   "signerEmail", "postcode", "district", "staffEmail", "staffPassword", "minFillSecs"}
//
// What only the test can know (the mail's links, the database) the script asks for on stdout,
// one JSON line {"ask": what, …}, and reads the answer as one JSON line on stdin:
//   creatorLink        → {"link": path of the creator's confirmation link, "id": petition}
//   creatorPageSeen    → {} (the test checked that opening the link confirmed nothing)
//   signatureLink      → {"link": path of the signer's confirmation link}
//   signaturePageSeen  → {} (likewise for the signature)
// At the end it prints one JSON object {"steps": …, "audits": […], "error"?}.
import crypto from "node:crypto";
import readline from "node:readline";
import { launch, axe } from "./common.mjs";

const [base, scenarioText] = process.argv.slice(2);
const s = JSON.parse(scenarioText);
const out = { steps: {}, audits: [] };
const steps = out.steps;

// Questions to the test and its answers.
const answers = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(what, data = {}) {
  console.log(JSON.stringify({ ask: what, ...data }));
  const { value, done } = await answers.next();
  if (done) throw new Error(`the test gave no answer to ${what}`);
  return JSON.parse(value);
}

const browser = await launch();

const DESK = { viewport: { width: 1280, height: 800 }, locale: "de-DE" };
const PHONE = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, locale: "de-DE" };

async function tab(context) {
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
  return page;
}


const scrollWidth = (page) => page.evaluate(() => document.documentElement.scrollWidth);

// Waits until the page's maps (if any) have their canvas, and a moment for their legends.
async function settle(page) {
  const maps = await page.locator("#petition-draw:not([hidden]), #petitions-map, #petition-place, #petition-choropleth").count();
  if (maps > 0) {
    await page.waitForSelector(".maplibregl-canvas", { state: "attached", timeout: 30000 });
    await page.waitForTimeout(1500);
  }
}

// The page as it is now (a POST's answer cannot be loaded again): axe at its width, then at
// the phone's width, and back.
async function auditHere(page, label) {
  const result = { url: `${label}: ${page.url()}` };
  await page.evaluate(() => document.activeElement?.blur());
  result.desk = { violations: await axe(page), scrollWidth: await scrollWidth(page) };
  const size = page.viewportSize();
  await page.setViewportSize({ width: 360, height: 740 });
  await page.waitForTimeout(500);
  result.phone = { violations: await axe(page), scrollWidth: await scrollWidth(page) };
  await page.setViewportSize(size);
  out.audits.push(result);
}

// A page loaded at 1280 and at 360 pixels (the phone with touch), with `cookies`: its status,
// axe's violations and its width; script errors.
async function audit(url, cookies = []) {
  const result = { url };
  for (const [name, options] of [["desk", DESK], ["phone", PHONE]]) {
    const context = await browser.newContext(options);
    if (cookies.length) await context.addCookies(cookies);
    const page = await tab(context);
    const response = await page.goto(url, { waitUntil: "load" });
    await settle(page);
    result[name] = {
      status: response.status(),
      violations: await axe(page),
      scrollWidth: await scrollWidth(page),
      errors: page.errors,
    };
    await context.close();
  }
  out.audits.push(result);
}

// RFC 6238 (SHA-1, 6 digits, 30 s), from the base32 secret of the enrolment page.
function totp(secret, unix = Date.now() / 1000) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/[\s=]/g, "").toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  }
  const key = Buffer.from((bits.match(/.{8}/g) || []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unix / 30)));
  const mac = crypto.createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, "0");
}

// The form's stamp refuses forms sent faster than the minimum fill time (as bots do).
async function fillTime(since) {
  const wait = (s.minFillSecs + 1) * 1000 - (Date.now() - since);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

// A notice page (after a form or a mail's link): heading, text, its button.
const notice = (page) => page.evaluate(() => ({
  url: location.pathname,
  heading: document.querySelector("h1")?.textContent.trim() ?? "",
  text: document.querySelector("main .notice")?.innerText.trim() ?? "",
  button: document.querySelector("main form button[type=submit]")?.textContent.trim() ?? null,
  errors: [...document.querySelectorAll("main .error, main .field-error")].map((e) => e.innerText.trim()),
}));

// Presses Tab (or Shift+Tab) until `test(activeElement)` holds; how many presses, or -1.
async function tabTo(page, test, back = false) {
  for (let i = 1; i <= 10; i++) {
    await page.keyboard.press(back ? "Shift+Tab" : "Tab");
    if (await page.evaluate(test)) return i;
  }
  return -1;
}

// The drawing's state: the status the script says, the hidden field.
const drawn = (page) => page.evaluate(() => ({
  status: document.querySelector(".petition-draw-status")?.textContent ?? null,
  geometrie: document.getElementById("geometrie").value,
  focus: document.activeElement?.tagName.toLowerCase() + (document.activeElement?.className ? `.${document.activeElement.className}` : ""),
}));

// The choropleth as the user meets it: the district under the mouse is named with its count in
// the tooltip. Looks (with synthetic moves over the canvas, fast) for a point inside `district`,
// then moves the real mouse there and reads the tooltip; retries until the map has drawn.
async function choroplethAt(page, district) {
  const deadline = Date.now() + 20000;
  let found = null;
  while (Date.now() < deadline) {
    await page.locator("#petition-choropleth canvas").scrollIntoViewIfNeeded();
    found = await page.evaluate((name) => {
      const node = document.getElementById("petition-choropleth");
      const canvas = node?.querySelector("canvas.maplibregl-canvas");
      const tip = node?.querySelector(".petition-tooltip");
      if (!canvas || !tip) return { found: false, reason: "no map or no tooltip" };
      const box = canvas.getBoundingClientRect();
      const seen = new Set();
      for (let y = 3; y < box.height - 3; y += 5) {
        for (let x = 3; x < box.width - 3; x += 5) {
          canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: box.left + x, clientY: box.top + y, bubbles: true }));
          const text = tip.hidden ? "" : tip.textContent;
          if (text) seen.add(text);
          if (text.startsWith(`${name}:`)) {
            canvas.dispatchEvent(new MouseEvent("mouseout", { bubbles: true }));
            return { found: true, x, y, synthetic: text };
          }
        }
      }
      return { found: false, reason: "district not under any point", seen: [...seen].slice(0, 40) };
    }, district);
    if (found.found) break;
    await page.waitForTimeout(1000);
  }
  if (!found?.found) return found;
  const box = await page.locator("#petition-choropleth canvas").boundingBox();
  await page.mouse.move(box.x + found.x, box.y + found.y);
  await page.waitForTimeout(300);
  found.tooltip = await page.evaluate(() => {
    const tip = document.querySelector("#petition-choropleth .petition-tooltip");
    return tip && !tip.hidden ? tip.textContent : null;
  });
  // Away from the map again (the tooltip and the highlight go).
  await page.mouse.move(1, 1);
  await page.waitForTimeout(300);
  return found;
}

// How many pixels of the choropleth's canvas have each class's colour (0, then 1–4), counted in
// a screenshot (what the user sees), decoded in a blank page.
const CLASS_COLOURS = ["#f7f7f7", "#c6dbef", "#6baed6", "#2171b5", "#08306b"];
let blank = null;
async function classPixels(page) {
  const png = await page.locator("#petition-choropleth canvas").screenshot();
  blank ??= await browser.newPage();
  return blank.evaluate(async ({ data, colours }) => {
    const img = new Image();
    img.src = `data:image/png;base64,${data}`;
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = img.width;
    canvas.height = img.height;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, img.width, img.height).data;
    const rgb = colours.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)));
    const counts = colours.map(() => 0);
    for (let i = 0; i < px.length; i += 4) {
      rgb.forEach(([r, g, b], k) => {
        if (Math.abs(px[i] - r) <= 3 && Math.abs(px[i + 1] - g) <= 3 && Math.abs(px[i + 2] - b) <= 3) counts[k]++;
      });
    }
    return counts;
  }, { data: png.toString("base64"), colours: CLASS_COLOURS });
}

// What a petition's page shows of the counts.
const counts = (page, district) => page.evaluate((name) => ({
  signatures: document.querySelector("[data-live=signatures]")?.textContent.trim() ?? null,
  residents: document.querySelector("[data-live=residents]")?.textContent.trim() ?? null,
  district: document.querySelector(`[data-live-district="${CSS.escape(name)}"]`)?.textContent.trim() ?? null,
  legend: document.querySelector("#petition-choropleth ~ .petition-legend")?.innerText ?? null,
}), district);

try {
  // ---------------------------------------------------------------------------------------
  // 1. The citizen starts a petition about an area.
  const citizen = await browser.newContext(DESK);
  const page = await tab(citizen);
  await page.goto(`${base}/petitionen/neu`, { waitUntil: "load" });
  const formLoaded = Date.now();
  await page.fill("#feld-titel", s.title);
  await page.fill("#feld-text", s.text);
  await page.selectOption("#feld-thema", s.topic);

  // The area: "Fläche" chosen by keyboard, the map reached with Tab.
  const draw = { visibleBefore: await page.isVisible("#ort-flaeche") };
  steps.draw = draw;
  // Tab reaches the group at its checked radio ("Stadtteile"); an arrow moves the choice.
  await page.focus("#ort-stadtteile");
  await page.keyboard.press("ArrowUp");
  draw.areaChecked = await page.isChecked("#ort-flaeche");
  await page.waitForSelector("#petition-draw canvas.maplibregl-canvas", { state: "visible", timeout: 30000 });
  draw.hint = await page.evaluate(() => document.querySelector("#petition-draw")?.previousElementSibling?.textContent ?? null);
  const isCanvas = () => document.activeElement?.matches("#petition-draw canvas") ?? false;
  draw.tabsToMap = await tabTo(page, isCanvas);
  await page.waitForTimeout(2000); // the map's style and the districts
  draw.steps = [await drawn(page)];
  // Closer in (two steps of "+"), then the corners: the centre by Enter, then moving with the
  // arrow keys and the button "Eckpunkt hier hinzufügen" reached with Tab.
  for (let i = 0; i < 2; i++) {
    await page.keyboard.press("Equal");
    await page.waitForTimeout(1200);
  }
  await page.keyboard.press("Enter");
  draw.steps.push(await drawn(page));
  const isAddButton = () => document.activeElement?.textContent === "Eckpunkt hier hinzufügen";
  for (const arrow of ["ArrowRight", "ArrowDown"]) {
    if (!(await page.evaluate(isCanvas))) draw.backToMap = await tabTo(page, isCanvas, true);
    await page.keyboard.press(arrow);
    await page.waitForTimeout(1200); // MapLibre eases the map 100 pixels in 300 ms
    draw.tabsToButton = await tabTo(page, isAddButton);
    await page.keyboard.press("Enter");
    draw.steps.push(await drawn(page));
  }
  // The fourth corner by a click: 100 pixels (one arrow step) left of the centre, below the first.
  const mapBox = await page.locator("#petition-draw canvas").boundingBox();
  await page.mouse.click(mapBox.x + mapBox.width / 2 - 100, mapBox.y + mapBox.height / 2);
  draw.steps.push(await drawn(page));
  draw.geometry = JSON.parse((await drawn(page)).geometrie || "null");

  await page.fill("#feld-name", s.creatorName);
  await page.fill("#feld-email", s.creatorEmail);
  await page.check("#feld-name_oeffentlich");
  await page.check("#feld-datenschutz");
  await auditHere(page, "the start form with the area drawn");
  await fillTime(formLoaded);
  const [sent] = await Promise.all([page.waitForNavigation({ timeout: 60000 }),
    page.click("form.petition-form button[type=submit]")]);
  steps.started = { status: sent.status(), ...(await notice(page)) };
  await auditHere(page, "the petition's 'check your mail'");
  steps.citizenErrors = [...page.errors];

  // ---------------------------------------------------------------------------------------
  // 2. The creator's mail: its link opens a page (changing nothing), the button confirms.
  if (steps.started.status !== 200) throw new Error(`the petition was not taken: ${JSON.stringify(steps)}`);
  const creator = await ask("creatorLink");
  const id = creator.id;
  out.id = id;
  const opened = await page.goto(`${base}${creator.link}`, { waitUntil: "load" });
  steps.creatorPage = { status: opened?.status() ?? null, ...(await notice(page)) };
  await audit(`${base}${creator.link}`);
  await audit(`${base}${creator.link}?lang=en`);
  await ask("creatorPageSeen");
  const [confirmed] = await Promise.all([page.waitForNavigation(), page.click("main form button[type=submit]")]);
  steps.creatorConfirmed = { status: confirmed.status(), ...(await notice(page)) };
  await auditHere(page, "the petition confirmed");

  // ---------------------------------------------------------------------------------------
  // 3. The moderator: signs in (with the second factor), finds the petition in the queue,
  //    publishes it.
  const office = await browser.newContext(DESK);
  const staff = await tab(office);
  await staff.goto(`${base}/admin/login?next=${encodeURIComponent("/admin/petitionen")}`);
  await staff.fill("#email", s.staffEmail);
  await staff.fill("#password", s.staffPassword);
  await Promise.all([staff.waitForNavigation(), staff.click("main button[type=submit]")]);
  steps.signIn = { after: new URL(staff.url()).pathname };
  if (/\/admin\/login\/einrichten/.test(staff.url())) {
    const secret = (await staff.innerText("main code")).trim();
    await staff.fill("#code", totp(secret));
    await Promise.all([staff.waitForNavigation(), staff.click("main button[type=submit]")]);
    steps.signIn.recoveryCodes = await staff.locator(".codes li").count();
    await Promise.all([staff.waitForNavigation(), staff.click("main a.button")]);
  }
  steps.queue = {
    url: new URL(staff.url()).pathname,
    heading: await staff.innerText("h1"),
    row: await staff.locator(`a[href^="/admin/petitionen/${id}?"]`).first().evaluate((a) => a.closest("tr").innerText)
      .catch((e) => `no row: ${e.message.split("\n")[0]}`),
  };
  await Promise.all([staff.waitForNavigation(), staff.click(`a[href^="/admin/petitionen/${id}?"]`)]);
  steps.detail = await staff.evaluate(() => ({
    heading: document.querySelector("h1")?.textContent.trim(),
    status: document.querySelector(".facts .status")?.textContent.trim(),
    preview: document.querySelector("#vorschau")?.closest("section")?.innerText ?? "",
    drawnShape: document.querySelector("figure.svg-map path[fill-opacity]")?.getAttribute("d") ?? "",
  }));
  await Promise.all([staff.waitForNavigation(),
    staff.click(`form[action^="/admin/petitionen/${id}/veroeffentlichen"] button[type=submit]`)]);
  steps.published = await staff.evaluate(() => ({
    notice: document.querySelector("main .notice")?.textContent.trim() ?? null,
    status: document.querySelector(".facts .status")?.textContent.trim(),
    publicLink: document.querySelector(`main a[href^="/petitionen/"]`)?.getAttribute("href") ?? null,
  }));
  steps.staffErrors = [...staff.errors];
  const staffCookies = await office.cookies();

  // ---------------------------------------------------------------------------------------
  // 4. The petition's page is watched (in a tab of its own) while another citizen signs.
  const watching = await browser.newContext(DESK);
  const watcher = await tab(watching);
  await watcher.goto(`${base}/petitionen/${id}`, { waitUntil: "load" });
  await watcher.waitForSelector("#petition-choropleth canvas.maplibregl-canvas", { timeout: 30000 });
  await watcher.waitForSelector("#petition-place canvas.maplibregl-canvas", { timeout: 30000 });
  steps.before = {
    counts: await counts(watcher, s.district),
    choropleth: await choroplethAt(watcher, s.district),
    pixels: await classPixels(watcher),
  };
  // A mark on the watched page: it is still there after the update, so no reload happened.
  await watcher.evaluate(() => { window.petitionenWatched = true; });

  const signing = await browser.newContext(DESK);
  const signer = await tab(signing);
  await signer.goto(`${base}/petitionen/${id}`, { waitUntil: "load" });
  const signLoaded = Date.now();
  steps.petitionPage = await signer.evaluate(() => ({
    heading: document.querySelector("h1")?.textContent.trim(),
    status: document.querySelector(".facts .status")?.textContent.trim(),
    main: document.querySelector("main").innerText,
  }));
  await signer.fill("#feld-name", s.signerName);
  await signer.fill("#feld-email", s.signerEmail);
  await signer.fill("#feld-plz", s.postcode);
  await signer.selectOption("#feld-stadtteil", s.district);
  await signer.check("#sichtbarkeit-stadtteil");
  await signer.check("#feld-datenschutz");
  await fillTime(signLoaded);
  const [signed] = await Promise.all([signer.waitForNavigation({ timeout: 60000 }),
    signer.click("form.sign-form button[type=submit]")]);
  steps.signed = { status: signed.status(), ...(await notice(signer)) };
  await auditHere(signer, "the signature's 'check your mail'");

  if (steps.signed.status !== 200) throw new Error(`the signature was not taken: ${JSON.stringify(steps.signed)}`);
  const signature = await ask("signatureLink");
  const linkOpened = await signer.goto(`${base}${signature.link}`, { waitUntil: "load" });
  steps.signaturePage = { status: linkOpened?.status() ?? null, ...(await notice(signer)) };
  await audit(`${base}${signature.link}`);
  await audit(`${base}${signature.link}?lang=en`);
  await ask("signaturePageSeen");
  const [counted] = await Promise.all([signer.waitForNavigation(), signer.click("main form button[type=submit]")]);
  steps.signatureConfirmed = { status: counted.status(), ...(await notice(signer)) };
  await auditHere(signer, "the signature confirmed");
  steps.signerErrors = [...signer.errors];

  // ---------------------------------------------------------------------------------------
  // 5. The watched page follows by itself (it asks every 15 s), then once more loaded.
  const visibility = await watcher.evaluate(() => document.visibilityState);
  await watcher.bringToFront();
  const waitFrom = Date.now();
  const live = await watcher.waitForFunction(
    () => document.querySelector("[data-live=signatures]")?.textContent.trim() === "1",
    null, { timeout: 40000 },
  ).then(() => true, () => false);
  steps.after = {
    live,
    visibility,
    sameDocument: await watcher.evaluate(() => window.petitionenWatched === true),
    seconds: (Date.now() - waitFrom) / 1000,
    counts: await counts(watcher, s.district),
    choropleth: await choroplethAt(watcher, s.district),
    pixels: await classPixels(watcher),
  };
  steps.watcherErrors = [...watcher.errors];
  await watcher.reload({ waitUntil: "load" });
  steps.reloaded = {
    counts: await counts(watcher, s.district),
    signers: await watcher.evaluate(() => document.querySelector("ul.signers")?.innerText ?? null),
    main: await watcher.evaluate(() => document.querySelector("main").innerText),
  };

  // ---------------------------------------------------------------------------------------
  // 6. Every page of the way, in German and English, at 1280 and 360 pixels.
  for (const lang of ["de", "en"]) {
    for (const p of ["/petitionen", "/petitionen/neu", `/petitionen/${id}`]) {
      await audit(`${base}${p}?lang=${lang}`);
    }
    // The links of the mails once used.
    await audit(`${base}${creator.link}?lang=${lang}`);
    await audit(`${base}${signature.link}?lang=${lang}`);
    for (const p of ["/admin/petitionen", `/admin/petitionen/${id}`]) {
      await audit(`${base}${p}?lang=${lang}`, staffCookies);
    }
  }
} catch (e) {
  out.error = String(e.stack || e);
} finally {
  console.log(JSON.stringify(out));
  await browser.close();
  process.exit(0);
}
