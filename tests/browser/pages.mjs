// Checks the platform's HTML pages in headless Chromium as a keyboard user and a phone user
// would meet them, and with axe-core (WCAG 2.1 A and AA rules). Prints one JSON object per URL:
//   violations   axe's findings (id, impact, offending elements), at 1280 × 800
//   firstFocus   the class of the element the first Tab reaches ("skip-link")
//   skipVisible  whether that element is then on screen
//   focusVisible whether the focused element draws an outline or a focus shadow
//   afterSkip    the fragment after pressing Enter on it ("inhalt")
//   nextInHeader whether the next Tab lands in the header again (it must not)
//   mainStops    from there, the first (up to six) stops of Tab inside main: href or tag name
//   phone        { scrollWidth } at 360 × 740: the page must not be wider than the phone
//
//   node pages.mjs URL [URL …]
// With COOKIE=name=value, every page is visited with that cookie (a staff session).
// With STADTKARTE_SCREENSHOTS=DIR, a desktop and a phone screenshot of each page go to DIR.
import path from "node:path";
import { launch, axeSource } from "./common.mjs";

const shots = process.env.STADTKARTE_SCREENSHOTS;

const browser = await launch();

async function withCookie(page, url) {
  if (process.env.COOKIE) {
    const [cookieName, ...value] = process.env.COOKIE.split("=");
    await page.context().addCookies([{ name: cookieName, value: value.join("="), url: new URL(url).origin }]);
  }
  return page;
}

const name = (url, suffix) =>
  path.join(shots, `${url.replace(/^https?:\/\/[^/]+/, "").replace(/[^A-Za-z0-9]+/g, "_")}-${suffix}.png`);

try {
  for (const url of process.argv.slice(2)) {
    const out = { url };

    // Desktop: keyboard and axe.
    const desk = await withCookie(await browser.newPage({ viewport: { width: 1280, height: 800 } }), url);
    const response = await desk.goto(url, { waitUntil: "load" });
    out.status = response.status();
    await desk.keyboard.press("Tab");
    const first = await desk.evaluate(() => {
      const el = document.activeElement;
      const box = el.getBoundingClientRect();
      const style = getComputedStyle(el);
      return {
        cls: el.className,
        visible: box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight,
        focus: (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== "none",
      };
    });
    out.firstFocus = first.cls;
    out.skipVisible = first.visible;
    out.focusVisible = first.focus;
    if (shots) await desk.screenshot({ path: name(url, "focus") });
    await desk.keyboard.press("Enter");
    out.afterSkip = await desk.evaluate(() => location.hash.slice(1));
    await desk.keyboard.press("Tab");
    out.nextInHeader = await desk.evaluate(() => !!document.activeElement.closest("header"));
    // From there on, the first stops of the keyboard inside main, in order (href or tag name).
    out.mainStops = [];
    for (let i = 0; i < 6; i++) {
      const stop = await desk.evaluate(() => {
        const el = document.activeElement;
        return el && el.closest("main") ? el.getAttribute("href") || el.tagName.toLowerCase() : null;
      });
      if (stop === null) break;
      out.mainStops.push(stop);
      await desk.keyboard.press("Tab");
    }
    // axe judges the page at rest, not the focus style of whatever the keyboard reached.
    await desk.evaluate(() => document.activeElement && document.activeElement.blur());
    await desk.evaluate(axeSource);
    out.violations = await desk.evaluate(async () => {
      const r = await window.axe.run(document, {
        runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
      });
      return r.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
      }));
    });
    if (shots) await desk.screenshot({ path: name(url, "desktop"), fullPage: true });
    await desk.close();

    // Phone: nothing wider than the screen (wide tables scroll inside their region).
    const phone = await withCookie(
      await browser.newPage({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true }), url);
    await phone.goto(url, { waitUntil: "load" });
    out.phone = await phone.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth }));
    if (shots) await phone.screenshot({ path: name(url, "phone"), fullPage: true });
    await phone.close();

    console.log(JSON.stringify(out));
  }
} finally {
  await browser.close();
}
