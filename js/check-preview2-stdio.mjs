// Is preview2-shim's browser shared-stdio bug still there? (See preview2-stdio.js.)
//
//     node js/check-preview2-stdio.mjs
//
// Loads the shim's BROWSER build in Node (its package exports pick the Node
// build under Node, so a resolve hook redirects `@bytecodealliance/preview2-shim/*`
// to dist/browser/*), then does what a Rust guest does for each log line:
// get-stderr, blocking-write-and-flush, drop; twice.
//   exit 1, "shared-stream bug: present"        -> keep js/preview2-stdio.js
//   exit 0, "shared-stream bug: fixed upstream" -> the override can be removed
//   exit 2                                      -> the override itself failed
import { register } from "node:module";

register(
  "data:text/javascript," +
    encodeURIComponent(`
      export async function resolve(spec, ctx, next) {
        const m = /^@bytecodealliance\\/preview2-shim\\/([a-z-]+)$/.exec(spec);
        if (m) {
          const { url: index } = await next("@bytecodealliance/preview2-shim", ctx);
          const url = new URL("../browser/" + m[1] + ".js", index).href;
          return { url, shortCircuit: true };
        }
        return next(spec, ctx);
      }`),
  import.meta.url,
);

const dispose = Symbol.dispose ?? Symbol.for("dispose");
const line = new TextEncoder().encode('{"check":1}\n');

function twice(getStderr) {
  const first = getStderr();
  first.blockingWriteAndFlush(line);
  first[dispose]();
  try {
    getStderr().blockingWriteAndFlush(line);
    return "ok";
  } catch (e) {
    if (e && e.tag === "closed") return "closed";
    throw e;
  }
}

const cli = await import("@bytecodealliance/preview2-shim/cli");
cli._setStderr({ write() {}, flush() {}, blockingFlush() {}, drop() {} });
const upstream = twice(() => cli.stderr.getStderr());

const seen = [];
const { createStdio } = await import("./preview2-stdio.js");
const ours = twice(() => createStdio({ stderr: (l) => seen.push(l) }).stderr.getStderr());
if (ours !== "ok" || seen.length !== 2) {
  console.log(`preview2-stdio override failed: ${ours}, ${seen.length} line(s)`);
  process.exit(2);
}
const present = upstream === "closed";
console.log(`shared-stream bug: ${present ? "present" : "fixed upstream"}`);
process.exit(present ? 1 : 0);
