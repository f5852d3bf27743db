//! Builds the map app (`web/`) with esbuild into `OUT_DIR`, so the binary embeds it. The npm
//! packages come from `web/package-lock.json` (`npm ci`, run here when `web/node_modules` is
//! missing; `scripts/env.sh` runs it too).

use std::path::Path;
use std::process::Command;

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("{what}: cannot start ({e}); install Node.js 20 and npm"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

fn main() -> Result<(), String> {
    // From the environment of this run, not compiled in: a build script binary may be reused
    // from a clone elsewhere that shares the target folder.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?;
    let web = Path::new(&manifest).join("web");
    for path in ["src", "build.mjs", "package.json", "package-lock.json"] {
        println!("cargo:rerun-if-changed=web/{path}");
    }
    let out = std::env::var("OUT_DIR").map_err(|e| e.to_string())?;
    // Every package the bundle imports; one missing (a new dependency) means `npm ci` again.
    let installed = ["esbuild", "maplibre-gl", "jspdf"]
        .iter()
        .all(|p| web.join("node_modules").join(p).is_dir());
    if !installed {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&web),
            "npm ci in mapviewer/web",
        )?;
    }
    run(
        Command::new("node")
            .arg("build.mjs")
            .arg(&out)
            .current_dir(&web),
        "building the map app (node build.mjs)",
    )
}
