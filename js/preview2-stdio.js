// stdout/stderr for a jco-transpiled component outside Node (workerd, browsers),
// replacing `@bytecodealliance/preview2-shim`'s browser `cli` stdio.
//
// WHY: preview2-shim 0.26.1's browser build creates ONE stdout and ONE stderr
// output-stream at module load and returns that same object from every
// `getStdout()` / `getStderr()`. A guest that drops its handle after writing
// (Rust's `wasi::cli::stderr::get_stderr().blocking_write_and_flush(..)`, as
// this component's per-request log line does, and Rust std's `eprintln!`)
// runs the stream's dispose, which marks the SHARED stream closed; the next
// write from anyone throws `{ tag: "closed" }` (a wasi:io stream-error) and
// the request fails. Returning a fresh stream from every get* call fixes it:
// each guest handle owns its stream, dropping it closes only that one.
//
// HOW TO TELL IT IS FIXED UPSTREAM (then delete this file and use the shim's
// own `cli.stdout` / `cli.stderr` again): run
//     node js/check-preview2-stdio.mjs
// It writes twice to stderr through the UNPATCHED browser shim, dropping the
// handle in between as Rust does, and prints "shared-stream bug: present"
// (exit 1) or "shared-stream bug: fixed upstream" (exit 0). It also checks
// that this override survives the same sequence. (This file stays free of
// Node-only code and of import.meta, which workerd refuses.)
//
// Usage with `jco transpile --instantiation async`:
//     import { stdout, stderr } from "./preview2-stdio.js";
//     instantiate(getCoreModule, { ...imports, "wasi:cli/stdout": stdout,
//                                  "wasi:cli/stderr": stderr });
// or `createStdio({ stdout: line => ..., stderr: line => ... })` to capture
// whole lines (without their newline) somewhere other than the console.

import { outputStreamCreate } from "@bytecodealliance/preview2-shim/io";

// A line sink shared by every stream handed out for one of stdout/stderr, so a
// line split over several guest writes (or handles) still comes out whole.
function lineSink(writeLine) {
  const decoder = new TextDecoder();
  let pending = "";
  return {
    write(bytes) {
      pending += decoder.decode(bytes, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) writeLine(line.endsWith("\r") ? line.slice(0, -1) : line);
    },
    // Flush is a no-op for partial lines: a console cannot print half a line,
    // and the rest usually follows in the next write. Complete lines are
    // emitted as soon as their newline arrives.
    flush() {},
  };
}

// The shim's browser io module exports its stream factory; the streams it
// makes are instances of the same OutputStream class the transpiled bindings
// check when lowering an own<output-stream>, so this file must import the
// SAME io module instance as the one passed for wasi:io/streams.
function freshStream(sink) {
  if (typeof outputStreamCreate !== "function") {
    throw new Error("preview2-stdio: @bytecodealliance/preview2-shim/io no longer exports outputStreamCreate");
  }
  return outputStreamCreate({
    write: (bytes) => sink.write(bytes),
    flush: () => sink.flush(),
    blockingFlush: () => sink.flush(),
    drop() {},
  });
}

/** stdout/stderr interfaces handing out a fresh stream per get* call. */
export function createStdio({ stdout: out = (l) => console.log(l), stderr: err = (l) => console.error(l) } = {}) {
  const outSink = lineSink(out);
  const errSink = lineSink(err);
  return {
    stdout: { getStdout: () => freshStream(outSink) },
    stderr: { getStderr: () => freshStream(errSink) },
  };
}

const defaults = createStdio();
/** `wasi:cli/stdout` writing lines with console.log. */
export const stdout = defaults.stdout;
/** `wasi:cli/stderr` writing lines with console.error. */
export const stderr = defaults.stderr;
