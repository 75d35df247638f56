// Calls the component's heart:predictor/predictor export directly (no HTTP) from Node.js,
// through the JavaScript bindings `jco transpile` generated for the same .wasm.
//
// usage: node call-predictor.mjs <transpiled module .js> <calls.json>
// calls:  {"single": [patient, ...], "batch": [[patient, ...], ...]}
// stdout: {"version": "...", "single": [result, ...], "batch": [result, ...]}
//         where result is {"ok": value} or {"err": validation-error}
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const module = await import(pathToFileURL(process.argv[2]).href);
const predictor = module.predictor ?? module["heart:predictor/predictor@0.1.0"];
if (!predictor) {
  throw new Error(`no predictor export among ${Object.keys(module).join(", ")}`);
}
const calls = JSON.parse(readFileSync(process.argv[3], "utf8"));

function call(fn) {
  try {
    return { ok: fn() };
  } catch (e) {
    if (e && e.payload !== undefined) return { err: e.payload };
    throw e;
  }
}

// The WIT record takes `undefined` for a missing optional field.
const toWit = (p) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v ?? undefined]));

const out = {
  version: predictor.modelVersion(),
  single: calls.single.map((p) => call(() => predictor.predict(toWit(p)))),
  batch: calls.batch.map((b) => call(() => predictor.predictBatch(b.map(toWit)))),
};
process.stdout.write(JSON.stringify(out));
