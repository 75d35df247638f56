// Builds the browser page into target/web/ (`make web`): the release component
// (target/heart_disease_api.wasm, `make build`) transpiled by the pinned jco, the browser build
// of @bytecodealliance/preview2-shim, the stdio override js/preview2-stdio.js, and the page
// itself (web/index.html, web/app.js, web/style.css).
//
//     node web/build.mjs [--wasm PATH] [--out DIR]
//
// Everything the page loads comes from its own origin: no CDN, no fonts, no analytics. The
// import map (the page's only inline script) resolves the shim's bare specifiers to the copies
// in shim/, and the Content-Security-Policy names its hash, so nothing else can run or load.
// The patient form is not written here: the page asks the component itself for its feature
// table (GET /openapi.json and /model, answered in memory by the component's own HTTP handler)
// and builds the form from that, so the page cannot disagree with the served API.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
// The minifier jco's own `-m` uses (a dependency of the pinned jco, so pinned by package-lock.json).
import { minifySync } from "oxc-minify";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? resolve(args[i + 1]) : fallback;
};
const wasm = opt("--wasm", join(repo, "target", "heart_disease_api.wasm"));
const out = opt("--out", join(repo, "target", "web"));
const jco = join(repo, "node_modules", ".bin", "jco");
const shimDir = join(repo, "node_modules", "@bytecodealliance", "preview2-shim", "dist", "browser");
const stdioOverride = join(repo, "js", "preview2-stdio.js");

// The gzip budget for everything the page loads, 160 kB (the test measures what Chromium fetched).
const BUDGET_GZIP = 160_000;
// The shim's browser modules the page imports, and what they import in turn.
const SHIM_MODULES = ["cli", "clocks", "http", "io", "random"];

/** Copies an ES module minified as jco minifies the component's bindings (names kept). */
function writeMinified(from, to) {
  const result = minifySync(from, readFileSync(from, "utf8"), {
    module: true,
    compress: { target: "es2022" },
    mangle: { keepNames: true },
  });
  if (result.errors.length) fail(`minifying ${relative(repo, from)}: ${result.errors.map((e) => e.message).join("; ")}`);
  writeFileSync(to, result.code);
}

function fail(message) {
  console.error(`web/build.mjs: ${message}`);
  process.exit(1);
}

for (const [path, hint] of [
  [wasm, "run `make build` first"],
  [jco, "run `npm ci` (make jco)"],
  [shimDir, "run `npm ci` (make jco)"],
  [stdioOverride, "js/preview2-stdio.js is part of the repository"],
]) {
  if (!existsSync(path)) fail(`${relative(repo, path)} is missing: ${hint}`);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "component"), { recursive: true });
mkdirSync(join(out, "shim"), { recursive: true });

// 1. The component, for the browser: no Node fallbacks, optimised and minified, instantiated by
//    the page (so the page passes its own stdio and compiles the core module while it streams).
const transpile = spawnSync(
  jco,
  [
    "transpile", wasm, "-o", join(out, "component"), "--name", "heart",
    "--instantiation", "async", "--no-nodejs-compat", "--no-typescript", "-O", "-m", "-q",
  ],
  { stdio: "inherit" },
);
if (transpile.status !== 0) fail(`jco transpile failed (exit ${transpile.status})`);
// jco 1.35 writes type declarations even with --no-typescript; the page does not load them.
for (const name of readdirSync(join(out, "component"))) {
  if (name.endsWith(".d.ts") || name === "interfaces") {
    rmSync(join(out, "component", name), { recursive: true, force: true });
  }
}

// 2. preview2-shim's browser build: the modules the page imports and their relative imports.
const shimFiles = new Set();
const pending = SHIM_MODULES.map((m) => `${m}.js`);
while (pending.length) {
  const file = pending.pop();
  if (shimFiles.has(file)) continue;
  shimFiles.add(file);
  const text = readFileSync(join(shimDir, file), "utf8");
  for (const [, spec] of text.matchAll(/\bfrom\s*["']\.\/([\w.-]+\.js)["']/g)) pending.push(spec);
}
for (const file of shimFiles) writeMinified(join(shimDir, file), join(out, "shim", file));
cpSync(join(shimDir, "..", "..", "LICENSE"), join(out, "shim", "LICENSE"));

// 3. The stdio override (a fresh stream per get-stdout/get-stderr) and the WASI import map the
//    page shares with the edge worker, imported as they are.
writeMinified(stdioOverride, join(out, "preview2-stdio.js"));
writeMinified(join(repo, "js", "wasi-imports.js"), join(out, "wasi-imports.js"));

// 4. The page.
writeMinified(join(repo, "web", "app.js"), join(out, "app.js"));
cpSync(join(repo, "web", "style.css"), join(out, "style.css"));
const importMap = JSON.stringify({
  imports: Object.fromEntries(
    SHIM_MODULES.map((m) => [`@bytecodealliance/preview2-shim/${m}`, `./shim/${m}.js`]),
  ),
});
const hash = createHash("sha256").update(importMap).digest("base64");
const csp = [
  "default-src 'none'",
  `script-src 'self' 'wasm-unsafe-eval' 'sha256-${hash}'`,
  "connect-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");
let html = readFileSync(join(repo, "web", "index.html"), "utf8");
for (const [key, value] of [["IMPORT_MAP", importMap], ["CSP", csp]]) {
  if (!html.includes(`{{${key}}}`)) fail(`web/index.html has no {{${key}}}`);
  html = html.replace(`{{${key}}}`, value);
}
writeFileSync(join(out, "index.html"), html);

// What the page loads, gzipped (the shim's LICENSE is shipped, not loaded).
function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else if (name !== "LICENSE") yield path;
  }
}
let raw = 0;
let gz = 0;
for (const path of files(out)) {
  const bytes = readFileSync(path);
  raw += bytes.length;
  gz += gzipSync(bytes, { level: 9 }).length;
}
const kb = (n) => `${(n / 1000).toFixed(1)} kB`;
console.log(`built ${relative(repo, out)}/: ${kb(raw)} raw, ${kb(gz)} gzip (budget ${kb(BUDGET_GZIP)})`);
if (gz > BUDGET_GZIP) fail(`the page is over its gzip budget: ${kb(gz)} > ${kb(BUDGET_GZIP)}`);
