#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/respond/seed-*: valid and invalid requests in the
fuzz target's input layout (byte 0 method, byte 1 path, byte 2 content type, then the body;
a "CUSTOM" path or content type is the next line of the input, and so is the
Inference-Header-Content-Length of application/octet-stream). The tables below must match
METHODS, PATHS and CONTENT_TYPES in crates/heart-api/tests/fuzzing/mod.rs.

Run from anywhere: python3 fuzz/seeds.py
"""
import json
import pathlib
import struct
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from fixtures import EXAMPLE, FEATURES  # noqa: E402  (read from the Rust feature table)

METHODS = ["POST", "GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "BREW"]
PATHS = [
    "/predict", "/health", "/model", "/v2/models/heart-disease/infer",
    "/v2/models/heart-disease/versions/0/infer", "/v2/models/other/infer",
    "/v2/models/heart-disease", "/v2/health/ready", "/openapi.json", "/docs", "/v2", "/",
    "/predict/", "/predict?verbose=1", "/PREDICT", "//predict", "/predict/extra",
    "/health/../predict", "/%70redict", "/nope", "CUSTOM",
]
CTS = [
    "application/json", "application/json; charset=utf-8", "APPLICATION/JSON", None,
    "text/plain", "application/problem+json", "application/jsonx", "", "application/octet-stream", "CUSTOM",
]
BIN = "application/octet-stream"
P = dict(EXAMPLE)
Q = dict(zip(FEATURES, [67, 1, 4, 160, 286, 0, 2, 108, 1, 1.5, 2, 3, 3]))
J = "application/json"
OUT = pathlib.Path(__file__).resolve().parent / "corpus" / "respond"


def seed(name, method, path, content_type, body):
    if isinstance(body, str):
        body = body.encode()
    head = bytes([METHODS.index(method), PATHS.index(path), CTS.index(content_type)])
    (OUT / f"seed-{name}").write_bytes(head + body)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("seed-*"):
        old.unlink()
    pj = json.dumps(P, separators=(",", ":"))
    seed("single", "POST", "/predict", J, pj)
    seed("single-pretty-charset", "POST", "/predict", CTS[1], json.dumps(P, indent=2))
    seed("single-missing-optional", "POST", "/predict", CTS[2],
         json.dumps({k: v for k, v in P.items() if k not in ("slope", "thal")} | {"ca": None}))
    seed("batch", "POST", "/predict", J, json.dumps({"instances": [P, Q, P]}))
    seed("batch-empty", "POST", "/predict", J, '{"instances":[]}')
    seed("batch-not-array", "POST", "/predict", J, '{"instances":{"age":1}}')
    seed("batch-extra-key", "POST", "/predict", J, json.dumps({"instances": [P], "x": 1}))
    seed("batch-bad-items", "POST", "/predict", J,
         json.dumps({"instances": [P, {}, [], 1, "x", None]}))
    seed("invalid-fields", "POST", "/predict", J,
         json.dumps(P | {"cp": 5, "chol": "233", "ca": 1.5, "bmi": 22, "a/b~": 1}))
    seed("out-of-range", "POST", "/predict", J, json.dumps(P | {"age": 121, "oldpeak": -0.1}))
    seed("overflow-number", "POST", "/predict", J, '{"age":1e400}')
    seed("big-integer", "POST", "/predict", J, '{"age":' + "9" * 40 + "}")
    seed("nan-literal", "POST", "/predict", J, '{"age":NaN}')
    seed("deep-nesting", "POST", "/predict", J, "[" * 200 + "]" * 200)
    seed("deep-objects", "POST", "/predict", J, '{"instances":' * 20 + "1" + "}" * 20)
    seed("not-json", "POST", "/predict", J, "{")
    seed("empty-body", "POST", "/predict", J, "")
    seed("json-scalar", "POST", "/predict", J, "42")
    seed("json-array", "POST", "/predict", J, "[1,2,3]")
    seed("unicode-key", "POST", "/predict", J, '{"\\u00e9ge":63,"\\ud83d\\ude00":1}')
    seed("invalid-utf8", "POST", "/predict", J, b'{"age":"\xff\xfe"}')
    seed("duplicate-keys", "POST", "/predict", J, '{"age":63,"age":64}')
    seed("repeated-feature", "POST", "/predict", J, '{"sex":0,' + pj[1:])
    seed("repeated-in-item", "POST", "/predict", J, '{"instances":[' + pj + ',{"sex":0,' + pj[1:] + "]}")
    seed("repeated-instances", "POST", "/predict", J, '{"instances":[' + pj + '],"instances":[' + pj + "]}")
    seed("repeated-deeper", "POST", "/predict", J, '{"thal":{"a":1,"a":2},' + pj[1:])
    seed("no-content-type", "POST", "/predict", None, pj)
    seed("text-plain", "POST", "/predict", "text/plain", pj)
    seed("custom-content-type", "POST", "/predict", "CUSTOM", "application/json ; q=1\n" + pj)
    seed("health", "GET", "/health", None, "")
    seed("head-health", "HEAD", "/health", None, "")
    seed("head-model", "HEAD", "/model", None, "")
    seed("model", "GET", "/model", None, "")
    seed("openapi", "GET", "/openapi.json", None, "")
    seed("docs", "GET", "/docs", None, "")
    seed("get-predict", "GET", "/predict", None, "")
    seed("put-health", "PUT", "/health", J, "{}")
    seed("root", "GET", "/", None, "")
    seed("custom-path", "POST", "CUSTOM", J, "predict?x=1&y=%20\n" + pj)
    seed("custom-path-traversal", "GET", "CUSTOM", None, "../../etc/passwd\n")
    seed("other-method", "BREW", "/predict", J, pj)
    rows = [[P[f] for f in FEATURES], [Q[f] for f in FEATURES]]
    infer = "/v2/models/heart-disease/infer"
    seed("oip-infer-matrix", "POST", infer, J, json.dumps(
        {"id": "r1", "inputs": [{"name": "patients", "shape": [2, 13], "datatype": "FP64", "data": rows}]}))
    seed("oip-infer-flat", "POST", infer, J, json.dumps(
        {"inputs": [{"name": "patients", "shape": [1, 13], "datatype": "INT32", "data": rows[0]}],
         "outputs": [{"name": "probability"}]}))
    seed("oip-infer-named", "POST", "/v2/models/heart-disease/versions/0/infer", J, json.dumps(
        {"inputs": [{"name": k, "shape": [1], "datatype": "FP64", "data": [v]}
                    for k, v in P.items() if k != "ca"]}))
    seed("oip-infer-bad-shape", "POST", infer, J, json.dumps(
        {"inputs": [{"name": "patients", "shape": [3, 13], "datatype": "FP64", "data": rows}]}))
    seed("oip-unknown-model", "POST", "/v2/models/other/infer", J, '{"inputs":[]}')

    def binary(name, header, data, length=None):
        text = json.dumps(header, separators=(",", ":")).encode()
        n = len(text) if length is None else length
        seed(name, "POST", infer, BIN, str(n).encode() + b"\n" + text + data)

    flat = [x for row in rows for x in row]
    fp64 = struct.pack(f"<{len(flat)}d", *flat)
    tensor = {"name": "patients", "shape": [2, 13], "datatype": "FP64",
              "parameters": {"binary_data_size": len(fp64)}}
    binary("oip-binary-defaults", {"inputs": [tensor], "parameters": {"binary_data_output": True}}, fp64)
    binary("oip-binary-mixed-outputs", {"inputs": [tensor], "outputs": [
        {"name": "probability", "parameters": {"binary_data": True}},
        {"name": "prediction", "parameters": {"binary_data": False}}]}, fp64)
    binary("oip-binary-named", {"inputs": [
        {"name": "age", "shape": [1], "datatype": "UINT8", "parameters": {"binary_data_size": 1}},
        {"name": "oldpeak", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": 4}}]},
        bytes([63]) + struct.pack("<f", 2.3))
    binary("oip-binary-short", {"inputs": [tensor]}, fp64[:-8])
    binary("oip-binary-long-header", {"inputs": [tensor]}, fp64, length=100000)
    seed("oip-metadata", "GET", "/v2/models/heart-disease", None, "")
    seed("oip-ready", "GET", "/v2/health/ready", None, "")
    seed("oip-server", "GET", "/v2", None, "")


if __name__ == "__main__":
    main()
