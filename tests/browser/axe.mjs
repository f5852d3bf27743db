// Checks pages for accessibility problems with axe-core (WCAG 2.1 A and AA rules) in headless
// Chromium and prints one JSON object per URL: the violations with their impact and the
// offending elements. An optional CLICK selector is clicked (and waited for) before the check,
// e.g. to open a panel or a popup first.
//
//   node axe.mjs URL [URL …]            (URL may be followed by "@click=SELECTOR")
//
// With COOKIE=name=value in the environment, the pages are visited with that cookie (a staff
// session, for the back office).
import { launch, axeSource } from "./common.mjs";


const browser = await launch();
try {
  for (const arg of process.argv.slice(2)) {
    const [url, ...actions] = arg.split("@click=");
    const context = await browser.newContext();
    if (process.env.COOKIE) {
      const [name, ...value] = process.env.COOKIE.split("=");
      await context.addCookies([{ name, value: value.join("="), url: new URL(url).origin }]);
    }
    const tab = await context.newPage();
    const response = await tab.goto(url, { waitUntil: "networkidle" });
    for (const selector of actions) {
      await tab.click(selector);
      await tab.waitForTimeout(500);
    }
    // Evaluated through the debugging protocol: the page's Content-Security-Policy allows no
    // inline script (and must not be bypassed, so that the check sees the page as users do).
    await tab.evaluate(axeSource);
    const result = await tab.evaluate(async () => {
      const r = await window.axe.run(document, {
        runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
      });
      return r.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
      }));
    });
    console.log(JSON.stringify({ url, status: response.status(), violations: result }));
    await context.close();
  }
} finally {
  await browser.close();
}
