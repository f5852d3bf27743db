// Bundles the map app (src/app.js with its CSS and MapLibre GL JS) and the scripts of the
// Mängelmelder's and the petitions' pages (src/melden.js, src/petitionen.js) and of a plan's page
// (src/plan.js) into one JavaScript
// and one CSS file each, in the folder given as the first argument (default: dist/). Called by
// mapviewer's build.rs, so `cargo build` embeds the result into the stadtkarte binary.
import * as esbuild from "esbuild";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] || path.join(here, "dist"));

const result = await esbuild.build({
  entryPoints: {
    app: path.join(here, "src", "app.js"),
    melden: path.join(here, "src", "melden.js"),
    petitionen: path.join(here, "src", "petitionen.js"),
    // The print dialog with jsPDF, loaded by the map app only when someone prints.
    druck: path.join(here, "src", "print.js"),
    plan: path.join(here, "src", "plan.js"),
  },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  outdir: out,
  legalComments: "eof",
  // jsPDF loads these only for HTML and SVG input, which the print does not use: left out.
  external: ["canvg", "dompurify", "html2canvas"],
  logLevel: "warning",
  metafile: true,
});

// The licences of every package that went into a bundle (MapLibre, jsPDF and what jsPDF brings:
// fflate, fast-png, iobuffer, pako, …), read off esbuild's list of inputs, served at
// /map/lizenzen.txt.
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) packages.add(m[1]);
}
const licences = [...packages].sort().map((name) => {
  const dir = path.join(here, "node_modules", name);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  const file = fs.readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  const text = file ? fs.readFileSync(path.join(dir, file), "utf8") : pkg.license;
  return `${name} ${pkg.version} (${pkg.license})\n\n${text}`;
});
fs.writeFileSync(path.join(out, "lizenzen.txt"), licences.join("\n\n----\n\n"));
