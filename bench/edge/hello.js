// The trivial worker bench/edge/run.py compares ours with: a fixed JSON answer, no wasm.
// Under the same workerd, it is the runtime's ceiling for one request through a worker.
const BODY = '{"status":"ok"}';
export default {
  fetch() {
    return new Response(BODY, { headers: { "content-type": "application/json" } });
  },
};
