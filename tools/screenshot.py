#!/usr/bin/env python3
"""Screenshots of what a user sees: the component's /docs page (with the model card's figures)
served by a real runtime, rendered by headless Chromium. `make screenshot` runs it.

  python3 tools/screenshot.py [--runtime wasmtime] [--out target/screenshots]

Writes OUT/docs.png (the whole page) and OUT/<figure>.png for each figure on its own.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import runtimes  # noqa: E402  (how each runtime starts, is ready and stops)

# Tall enough for the whole page at this width (Chromium's --screenshot takes the viewport).
PAGES = {"docs": ("/docs", "1100,4200")}


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not found:
        sys.exit("chromium is missing: `apt-get install chromium` (make screenshot installs it)")
    return found


def shoot(browser: str, url: str, size: str, out: Path) -> None:
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={size}", "--virtual-time-budget=5000", f"--screenshot={out}", url],
        check=True, capture_output=True, timeout=120)
    if not out.is_file() or out.stat().st_size == 0:
        sys.exit(f"chromium wrote no {out}")
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtime", default="wasmtime", choices=runtimes.RUNTIMES)
    parser.add_argument("--out", type=Path, default=REPO / "target" / "screenshots")
    args = parser.parse_args()
    browser = chromium()
    args.out.mkdir(parents=True, exist_ok=True)
    with runtimes.serve(args.runtime) as server:
        for name, (path, size) in PAGES.items():
            shoot(browser, server.url + path, size, args.out / f"{name}.png")
        for figure in sorted((REPO / "model" / "figures").glob("*.svg")):
            shoot(browser, f"{server.url}/model/figures/{figure.name}", "480,520",
                  args.out / f"{figure.stem}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
