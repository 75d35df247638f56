"""The feature list and the example patient for every test and tool outside Rust.

Both are written once, in the Rust source of truth — `FEATURES` and `EXAMPLE` in
crates/heart-model/src/schema.rs, the table validation, encoding, the model card and the API
documentation read — and read from there, never retyped: the Python tests import this module
(pytest.ini puts tests/ on the import path); the JavaScript tests and the Makefile run it:

    python3 tests/fixtures.py features   # the 13 names, one JSON array
    python3 tests/fixtures.py example    # the example patient, compact JSON
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "crates" / "heart-model" / "src" / "schema.rs"
CLEVELAND = REPO / "model" / "data" / "processed.cleveland.data"


def _const(source: str, name: str) -> str:
    """The bracketed initializer of `pub const NAME: [...] = [ ... ];`."""
    m = re.search(rf"pub const {name}: \[[^\]]+\] = \[(.*?)\n\];", source, re.DOTALL)
    if not m:
        raise RuntimeError(f"{SCHEMA}: no `pub const {name}` table; update tests/fixtures.py")
    return m.group(1)


def _number(text: str) -> int | float:
    """A Rust f64 literal as the API documents it: whole numbers as integers (63.0 → 63)."""
    x = float(text)
    return int(x) if x.is_integer() else x


_SOURCE = SCHEMA.read_text()
#: The 13 feature names, in UCI column order (the order of the data file, the model and OIP).
FEATURES: list[str] = re.findall(r'\bname: "([a-z_]+)"', _const(_SOURCE, "FEATURES"))
#: The features real records often lack (`required: false`): imputed when absent or null.
OPTIONAL: list[str] = [
    name for name, required in re.findall(r'\bname: "([a-z_]+)".*?\brequired: (true|false)',
                                          _const(_SOURCE, "FEATURES"), re.DOTALL)
    if required == "false"
]
#: The data set's first patient, the example of the API documentation, as a JSON object.
EXAMPLE: dict[str, int | float] = dict(
    zip(FEATURES, (_number(v) for v in _const(_SOURCE, "EXAMPLE").replace(",", " ").split()), strict=True)
)
if len(FEATURES) != 13 or len(OPTIONAL) != 3:
    raise RuntimeError(f"{SCHEMA}: read {FEATURES} (optional {OPTIONAL}); update tests/fixtures.py")

#: A patient whose values are unlikely to occur in a log line or in telemetry by chance, and
#: those values: the privacy checks send it and look for them.
RARE_PATIENT: dict[str, int | float] = dict(zip(FEATURES, [71, 1, 4, 173, 417, 1, 2, 97, 1, 4.7, 2, 2, 7], strict=True))
RARE_VALUES = frozenset({71, 97, 173, 417, 4.7})
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def rare_values_in(text: str) -> list[str]:
    """The number tokens of `text` equal to one of RARE_VALUES: "417" and "chol=417" count,
    0.417, 4170 or a hex id such as e417a do not (numbers are compared, not substrings)."""
    tokens = (t.rstrip(".") for t in re.findall(r"[0-9A-Za-z_.+-]+", text))
    return [t for t in tokens if _NUMBER.fullmatch(t) and float(t) in RARE_VALUES]


def example_json() -> str:
    """The example patient as compact JSON, the body every bench and smoke request sends."""
    return json.dumps(EXAMPLE, separators=(",", ":"))


def cleveland_rows() -> list[list[str]]:
    """The Cleveland data file's rows: 13 feature cells each ('?' where a value is missing),
    the target column dropped."""
    return [line.strip().split(",")[: len(FEATURES)] for line in CLEVELAND.read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) == 2 else ""
    if what == "features":
        print(json.dumps(FEATURES))
    elif what == "example":
        print(example_json())
    else:
        sys.exit("usage: python3 tests/fixtures.py features|example")
