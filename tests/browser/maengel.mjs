// The Mängelmelder end to end in headless Chromium, as a citizen and a member of staff use it.
// Prints one JSON object with what each step found; the Rust test (tests/it/maengel_browser.rs)
// asserts on it.
//
//   node maengel.mjs BASE_URL SCENARIO_JSON
//
// SCENARIO_JSON: {"category": code, "answer": [field, value], "description": text,
//   "photo": path of a JPEG, "email": reporter, "staffEmail": e-mail, "staffPassword": password,
//   "status": new status, "note": public note}
//
// 1. The citizen opens /maengel/melden, picks the category, places the pin by clicking the map
//    (trying a few points until the server says the place is inside the city), goes on to
//    step 2, answers the category's question, describes, attaches the photo, gives an e-mail
//    address, accepts the privacy notice, sends, and reads the number on the confirmation.
// 2. The member of staff signs in (password, then enrols the second factor: the code is
//    computed here from the secret the page shows, as an authenticator app would), opens the
//    report in the back office, sets the status with a public note, and releases the report.
// 3. The citizen's tracking page before and after the release.
// 4. The staff pages with every <details> opened (their forms): axe and the phone's width.
import crypto from "node:crypto";
import { launch, axe } from "./common.mjs";

const [base, scenarioText] = process.argv.slice(2);
const scenario = JSON.parse(scenarioText);
const out = { steps: {} };

const browser = await launch();

async function tab(context) {
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") page.errors.push(`console: ${m.text()}`); });
  return page;
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

// The public tracking page as the citizen sees it.
async function tracking(page, id) {
  await page.goto(`${base}/maengel/${id}`, { waitUntil: "load" });
  return page.evaluate(async () => {
    const imgs = [...document.querySelectorAll(".photos img")];
    await Promise.all(imgs.map((i) => (i.complete ? null : i.decode().catch(() => null))));
    return {
      status: document.querySelector(".facts .status")?.textContent.trim() ?? null,
      main: document.querySelector("main").innerText,
      photos: imgs.map((i) => ({ src: i.getAttribute("src"), alt: i.alt, width: i.naturalWidth })),
    };
  });
}

try {
  // ---------------------------------------------------------------------------------------
  // 1. The citizen's report.
  const citizen = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "de-DE" });
  const page = await tab(citizen);
  await page.goto(`${base}/maengel/melden`, { waitUntil: "load" });
  await page.check(`#kategorie-${scenario.category}`);
  const pin = { usable: false, tries: [] };
  out.steps.pin = pin;
  try {
    await page.waitForSelector(".melden-karte canvas.maplibregl-canvas", { state: "visible", timeout: 30000 });
    pin.usable = true;
  } catch (e) {
    pin.error = String(e.message || e).split("\n")[0];
  }
  if (pin.usable) {
    // The map fits the city's districts; its middle is usually inside the city, else a point nearby.
    await page.locator(".melden-karte canvas").scrollIntoViewIfNeeded();
    const box = await page.locator(".melden-karte canvas").boundingBox();
    const offsets = [[0, 0], [-0.1, 0], [0.1, 0], [0, -0.1], [0, 0.1], [-0.2, -0.2], [0.2, 0.2], [-0.2, 0.2], [0.2, -0.2]];
    for (const [dx, dy] of offsets) {
      const x = box.x + box.width * (0.5 + dx);
      const y = box.y + box.height * (0.5 + dy);
      await page.mouse.click(x, y);
      // The script asks the server about the place; it answers with the place or an error.
      await page.waitForFunction(() => {
        const s = document.getElementById("ort-status");
        return s.textContent && !/prüft|Checking/.test(s.textContent);
      }, null, { timeout: 15000 });
      const found = await page.evaluate(() => ({
        lat: document.querySelector("input[name=lat]").value,
        lon: document.querySelector("input[name=lon]").value,
        status: document.getElementById("ort-status").textContent,
        error: document.getElementById("ort-status").classList.contains("error"),
        marker: !!document.querySelector(".melden-karte .maplibregl-marker"),
      }));
      pin.tries.push(found);
      if (!found.error) break;
    }
  }
  const placed = pin.tries.at(-1);
  if (!placed || placed.error) {
    // Without a usable map: the address field (the form's way without JavaScript).
    await page.fill("#feld-address", scenario.address || "");
  }
  out.steps.pin = pin;
  await Promise.all([page.waitForURL(/kategorie=/), page.click("form.report-form button[type=submit]")]);
  out.steps.step2 = {
    url: page.url(),
    heading: await page.innerText("h1"),
    updatesChecked: await page.isChecked("#feld-updates"),
  };
  const [field, value] = scenario.answer;
  await page.check(`input[name="${field}"][value="${value}"]`);
  await page.fill("#feld-description", scenario.description);
  await page.setInputFiles("#feld-photos", scenario.photo);
  await page.fill("#feld-email", scenario.email);
  await page.check("#feld-datenschutz");
  await Promise.all([page.waitForURL(/\/eingegangen/, { timeout: 60000 }),
    page.click("form.report-form button[type=submit]")]);
  const confirmation = await page.evaluate(() => ({
    number: document.querySelector(".notice strong")?.textContent ?? "",
    tracking: document.querySelector(".facts a")?.getAttribute("href") ?? "",
    main: document.querySelector("main").innerText,
  }));
  const id = Number((confirmation.number.match(/\d+/) || [])[0]);
  out.steps.confirmation = { ...confirmation, url: page.url(), id };
  out.id = id;
  out.steps.citizenErrors = page.errors.filter((e) => e.startsWith("pageerror"));
  if (!id) throw new Error(`no report number on the confirmation page: ${confirmation.main}`);

  out.steps.before = await tracking(page, id);

  // ---------------------------------------------------------------------------------------
  // 2. Staff: sign in with the second factor, set the status, release.
  const office = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "de-DE" });
  const staff = await tab(office);
  await staff.goto(`${base}/admin/login?next=${encodeURIComponent(`/admin/maengel/${id}`)}`);
  await staff.fill("#email", scenario.staffEmail);
  await staff.fill("#password", scenario.staffPassword);
  await Promise.all([staff.waitForURL(/\/admin\/login\/einrichten/), staff.click("main button[type=submit]")]);
  const secret = (await staff.innerText("main code")).trim();
  await staff.fill("#code", totp(secret));
  await Promise.all([staff.waitForLoadState("load"), staff.click("main button[type=submit]")]);
  out.steps.recovery = { codes: await staff.locator(".codes li").count() };
  await Promise.all([staff.waitForURL(new RegExp(`/admin/maengel/${id}`)), staff.click("main a.button")]);
  out.steps.detail = { heading: await staff.innerText("h1") };
  await staff.selectOption("#a-status", scenario.status);
  await staff.fill("#a-notiz", scenario.note);
  await Promise.all([staff.waitForLoadState("load"),
    staff.click(`form[action^="/admin/maengel/${id}/status"] button[type=submit]`)]);
  out.steps.statusSet = {
    url: staff.url(),
    notice: await staff.locator("main .notice").first().textContent().catch(() => null),
    status: await staff.locator(".facts .status").first().textContent(),
  };

  out.steps.afterStatus = await tracking(page, id);

  await Promise.all([staff.waitForLoadState("load"), staff.click('button[value="beschreibung_freigeben"]')]);
  out.steps.released = {
    notice: await staff.locator("main .notice").first().textContent().catch(() => null),
  };
  out.steps.staffErrors = staff.errors.filter((e) => e.startsWith("pageerror"));

  out.steps.afterRelease = await tracking(page, id);

  const cookie = (await office.cookies()).find((c) => /sitzung/.test(c.name));
  out.cookie = cookie ? `${cookie.name}=${cookie.value}` : null;

  // ---------------------------------------------------------------------------------------
  // 4. The staff pages with their folded forms opened.
  out.opened = [];
  for (const lang of ["de", "en"]) {
    for (const p of [`/admin/maengel/${id}`, "/admin/maengel/kategorien", "/admin/postausgang"]) {
      const url = `${base}${p}?lang=${lang}`;
      const result = { url };
      for (const [name, viewport] of [["desk", { width: 1280, height: 800 }], ["phone", { width: 360, height: 740 }]]) {
        const t = await office.newPage();
        await t.setViewportSize(viewport);
        const response = await t.goto(url, { waitUntil: "load" });
        result.status = response.status();
        result.details = await t.evaluate(() => {
          const all = document.querySelectorAll("details");
          for (const d of all) d.open = true;
          return all.length;
        });
        if (name === "desk") result.violations = await axe(t);
        else result.phone = await t.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth }));
        await t.close();
      }
      out.opened.push(result);
    }
  }
} catch (e) {
  out.error = String(e.stack || e);
} finally {
  console.log(JSON.stringify(out));
  await browser.close();
}
