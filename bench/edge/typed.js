// Bench-only reference, NOT served by edge/: POST /predict answered through the component's
// typed export heart:predictor/predictor (JSON.parse -> predict -> JSON.stringify) instead of
// its wasi:http handler, to measure what a typed fast path would buy. Its answers are NOT
// byte-identical to the component's (number formatting, field order, headers, no log line),
// which is why edge/worker.js keeps one path. Other routes go through the handler as usual.
import handler, { component } from "./worker.js";

let predictor = null;
export default {
  async fetch(request) {
    if (request.method !== "POST" || new URL(request.url).pathname !== "/predict") {
      return handler.fetch(request);
    }
    predictor ??= (await component()).exports.predictor;
    const p = await request.json();
    const patient = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v ?? undefined]));
    try {
      const a = predictor.predict(patient);
      return new Response(JSON.stringify(a), { headers: { "content-type": "application/json" } });
    } catch (e) {
      return new Response(JSON.stringify(e.payload ?? String(e)), { status: 422 });
    }
  },
};
