// The component's WASI 0.2 imports, from @bytecodealliance/preview2-shim, with stdout and
// stderr from the stdio override (preview2-stdio.js). One map for both JavaScript hosts of the
// component, the workerd worker (edge/worker.js) and the browser page (web/app.js); each build
// copies this file beside them. The shim's modules are passed in, so that each build resolves
// them its own way, and this file imports nothing.
export function wasiImports({ cli, clocks, http, io, random }, { stdout, stderr }) {
  return {
    "wasi:cli/environment": cli.environment,
    "wasi:cli/exit": cli.exit,
    "wasi:cli/stdin": cli.stdin,
    "wasi:cli/stdout": stdout,
    "wasi:cli/stderr": stderr,
    "wasi:cli/terminal-input": cli.terminalInput,
    "wasi:cli/terminal-output": cli.terminalOutput,
    "wasi:cli/terminal-stdin": cli.terminalStdin,
    "wasi:cli/terminal-stdout": cli.terminalStdout,
    "wasi:cli/terminal-stderr": cli.terminalStderr,
    "wasi:clocks/monotonic-clock": clocks.monotonicClock,
    "wasi:clocks/wall-clock": clocks.wallClock,
    "wasi:http/types": http.types,
    "wasi:io/error": io.error,
    "wasi:io/poll": io.poll,
    "wasi:io/streams": io.streams,
    "wasi:random/insecure-seed": random.insecureSeed,
    "wasi:random/random": random.random,
  };
}
