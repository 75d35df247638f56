// `node --test tests/edge/` (needs `npm ci`, wasmtime, python3, and the built .wasm):
//  - the preview2-shim stdio override still works, and the upstream bug it works around is
//    still there (when this fails with "fixed upstream", delete js/preview2-stdio.js);
//  - workerd (the worker edge/build.mjs builds) answers byte for byte as `wasmtime serve` does
//    the same .wasm: status, every header but `date`, and body, for every route and error class.
// Both servers are started through tests/runtimes.py, the one place that knows how.
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const WASM = process.env.HEART_WASM || join(REPO, "target", "heart_disease_api.wasm");

test("preview2-shim stdio: override works, upstream bug still present", () => {
  const r = spawnSync(process.execPath, [join(REPO, "js", "check-preview2-stdio.mjs")], { encoding: "utf8" });
  assert.notEqual(r.status, 2, `the override failed: ${r.stdout}${r.stderr}`);
  assert.equal(
    r.status,
    1,
    `preview2-shim no longer shares one stdio stream (${r.stdout.trim()}): delete js/preview2-stdio.js ` +
      "and pass the shim's own cli.stdout/cli.stderr in edge/worker.js (and web/)",
  );
});

const started = [];
after(() => started.forEach((p) => p.kill("SIGTERM")));

function serve(runtime) {
  return new Promise((resolve, reject) => {
    const p = spawn("python3", [join(REPO, "tests", "runtimes.py"), runtime, "--wasm", WASM, "--log", "/dev/null"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    started.push(p);
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    p.on("exit", (code) => reject(new Error(`${runtime} exited ${code}: ${err}`)));
    createInterface({ input: p.stdout }).once("line", (line) => {
      const m = /^ready (\S+) pid=\d+ sha256:([0-9a-f]{64})/.exec(line);
      if (!m) return reject(new Error(`${runtime}: ${line} ${err}`));
      resolve({ url: m[1], sha256: m[2] });
    });
  });
}

// The example patient, read from the Rust source by the one module that reads it.
const PATIENT = JSON.parse(spawnSync("python3", [join(REPO, "tests", "fixtures.py"), "example"], { encoding: "utf8" }).stdout);
const json = (body) => ({ method: "POST", headers: { "content-type": "application/json" }, body });
const REQUESTS = [
  ["/health"], ["/model"], ["/openapi.json"], ["/docs"], ["/model/figures/roc.svg"], ["/model/figures/nope.svg"],
  ["/v2"], ["/v2/health/live"], ["/v2/health/ready"], ["/v2/models/heart-disease"], ["/v2/models/other"], ["/nowhere"],
  ["/health", { method: "HEAD" }], ["/model", { method: "HEAD" }], ["/predict", { method: "HEAD" }],
  ["/predict", json(JSON.stringify(PATIENT))],
  ["/predict?age=1", json(JSON.stringify({ ...PATIENT, slope: null, ca: null }))],
  ["/predict", json(JSON.stringify({ instances: [PATIENT, { ...PATIENT, age: 1e-7 + 40 }, { ...PATIENT, oldpeak: 0 }] }))],
  ["/predict", json('{"age": 63,')],
  ["/predict", json(JSON.stringify({ ...PATIENT, cp: 9, bmi: 3 }))],
  ["/predict", json('{"age":40,' + JSON.stringify(PATIENT).slice(1))],
  ["/predict", json(JSON.stringify({ instances: [] }))],
  ["/predict", { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" }],
  ["/predict", json(" ".repeat(300 * 1024))],
  ["/predict"], ["/health", { method: "POST", body: "" }],
  ["/v2/models/heart-disease/infer", json(JSON.stringify({ inputs: [{ name: "age", shape: [1], datatype: "FP64", data: [63] }] }))],
];

async function answer(base, [path, init = {}]) {
  const r = await fetch(base + path, { ...init, headers: { "x-request-id": "edge-bytes", ...(init.headers || {}) } });
  const headers = [...r.headers].filter(([k]) => k !== "date").sort();
  return { status: r.status, headers, body: Buffer.from(await r.arrayBuffer()).toString("latin1") };
}

test("workerd answers byte for byte as wasmtime serve", { timeout: 300_000 }, async () => {
  const [edge, wasmtime] = await Promise.all([serve("workerd"), serve("wasmtime")]);
  assert.equal(edge.sha256, wasmtime.sha256, "both serve the same .wasm");
  for (const req of REQUESTS) {
    const [a, b] = [await answer(edge.url, req), await answer(wasmtime.url, req)];
    assert.deepEqual(a, b, `${req[1]?.method ?? "GET"} ${req[0]}`);
  }
});
