"""Puts tests/ (runtimes.py: how each runtime starts and stops) and this folder (the OTLP
receiver) on sys.path for the OpenTelemetry export tests."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE.parent, HERE):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
