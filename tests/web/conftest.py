"""The browser page (target/web/, `make web`) served by a tiny static server, and the same
component served by wasmtime (tests/runtimes.py) to compare its answers with."""

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

import runtimes  # tests/runtimes.py: how each runtime starts and stops
from runtimes import REPO

WEB = REPO / "target" / "web"

# Content types the page needs: module scripts must be JavaScript, and
# WebAssembly.compileStreaming refuses anything but application/wasm.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


class StaticSite:
    """target/web/ on http://127.0.0.1:PORT/, recording every path it served."""

    def __init__(self, root: Path):
        self.served: list[tuple[str, int]] = []
        site = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **CONTENT_TYPES}

            def end_headers(self):
                self.send_header("Cache-Control", "no-store")
                super().end_headers()

            def log_request(self, code="-", size="-"):
                site.served.append((self.path.split("?", 1)[0], int(code)))

            def log_message(self, format, *args):  # quiet
                pass

        handler = functools.partial(Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if not found:
        pytest.fail("Chromium is not installed: apt-get install chromium (Debian's package; "
                    "`make screenshot` installs it too)")
    return found


@pytest.fixture(scope="session")
def site():
    if not (WEB / "index.html").exists():
        pytest.fail("target/web/ is not built: run `make web` (node web/build.mjs)")
    with StaticSite(WEB) as s:
        yield s


@pytest.fixture(scope="session")
def server_url():
    with runtimes.serve("wasmtime") as server:
        yield server.url
