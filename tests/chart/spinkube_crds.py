"""Validate custom resources against the upstream CRDs (spin-operator v0.6.1's SpinApp and
SpinAppExecutor, prometheus-operator v0.93.0's ServiceMonitor and PrometheusRule), the way
the Kubernetes API server applies a CRD's structural schema.

The CRD files are upstream's, byte for byte, and the project holds no copy of them: they are
read from the folder `HEART_UPSTREAM` names, by default `../shared/upstream/` beside the
clone (its README lists their source commits and sha256, which test_crds.py checks). Where
that folder is missing, every test that needs them is skipped, with `missing()` as the
reason (mark a test `@requires_crds`; `crds()` skips too, as a backstop); the tests that do
not need them still run.

Each served version's `openAPIV3Schema` is converted, when the tests run, into a JSON
Schema (draft 2020-12); nothing here is a hand-written copy of a schema. The conversion
follows the API server (k8s.io/apiextensions-apiserver, structural schemas):

- unknown fields are errors: an object node gets `additionalProperties: false` unless it
  has `x-kubernetes-preserve-unknown-fields: true` or an `additionalProperties` schema.
  The API server would *prune* such a field silently (or refuse it under
  `kubectl --validate=strict` / Helm 4's strict field validation); either way the setting
  is lost, so here it fails;
- `x-kubernetes-int-or-string: true` accepts an integer or a string;
- `x-kubernetes-list-type: map` with `x-kubernetes-list-map-keys`: each item must carry
  every key (or have a schema default for it) and no two items may have the same keys
  (the API server's "Duplicate value"); `set` means unique items;
- `format: int32` / `int64` bound the integer, `date-time` is RFC 3339;
- `integer` means an integer literal: a YAML `2.0` is refused (stricter than the API
  server, which takes a whole float; in a rendered chart it is a template mistake);
- `required`, `enum`, `pattern`, `minimum`/`maximum` (OpenAPI 3.0 boolean
  `exclusiveMinimum`/`exclusiveMaximum` turned into draft 2020-12 numbers), lengths,
  item and property counts, `uniqueItems`, `anyOf`/`allOf`/`oneOf`/`not` are kept;
- `null` is accepted only where `nullable: true` (the API server would drop it: in a
  rendered chart it is always a template mistake);
- `apiVersion` must be `<group>/<served version>`, `kind` the CRD's kind;
- `metadata` is validated as Kubernetes' ObjectMeta (strict: no unknown field), taken from
  kubernetes-validate's offline schemas for the Kubernetes version asked for, with a name
  that is a DNS-1123 subdomain (what the API server requires of custom resources).

Anything the conversion does not understand — a CEL rule (`x-kubernetes-validations`), an
embedded resource, a list of type `map` without its keys, an unknown format or keyword — raises
`UnsupportedSchema` instead of being skipped, so a future CRD cannot weaken the check
silently.
"""

from __future__ import annotations

import datetime
import functools
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
import yaml

ROOT = Path(__file__).resolve().parents[2]

# --- where the upstream CRDs are -----------------------------------------------------------
# The only place that knows: the environment variable, its default, the release folders and
# the files the tests read from them (prometheus-operator's folder holds more CRDs, e.g.
# PodMonitor, that the chart does not make and the tests leave alone).
UPSTREAM_ENV = "HEART_UPSTREAM"
UPSTREAM = Path(os.environ.get(UPSTREAM_ENV) or ROOT / ".." / "shared" / "upstream")
SPIN_OPERATOR_RELEASE = "0.6.1"        # the chart's spinkube.dev/spin-operator-version
PROMETHEUS_OPERATOR_RELEASE = "0.93.0"
SPIN_OPERATOR_DIR = UPSTREAM / f"spin-operator-v{SPIN_OPERATOR_RELEASE}"
PROMETHEUS_OPERATOR_DIR = UPSTREAM / f"prometheus-operator-v{PROMETHEUS_OPERATOR_RELEASE}"
CRD_FILES = (
    SPIN_OPERATOR_DIR / "core.spinkube.dev_spinapps.yaml",
    SPIN_OPERATOR_DIR / "core.spinkube.dev_spinappexecutors.yaml",
    PROMETHEUS_OPERATOR_DIR / "monitoring.coreos.com_servicemonitors.yaml",
    PROMETHEUS_OPERATOR_DIR / "monitoring.coreos.com_prometheusrules.yaml",
)
# (apiVersion, kind) of what those files define: known without reading them, so that the
# tests can tell custom resources from built-in objects (and parametrize) when they are
# absent; test_crds.py checks the files define exactly these.
KINDS = frozenset({("core.spinkube.dev/v1alpha1", "SpinApp"),
                   ("core.spinkube.dev/v1alpha1", "SpinAppExecutor"),
                   ("monitoring.coreos.com/v1", "ServiceMonitor"),
                   ("monitoring.coreos.com/v1", "PrometheusRule")})


def missing() -> str | None:
    """Why the upstream CRDs cannot be read — the skip reason, naming the path looked at and
    the variable that moves it — or None when every file is there."""
    hint = (f"set {UPSTREAM_ENV} to a folder holding {SPIN_OPERATOR_DIR.name}/ and "
            f"{PROMETHEUS_OPERATOR_DIR.name}/, see k8s/DEPLOY.md")
    if not UPSTREAM.is_dir():
        return f"upstream CRDs not found at {UPSTREAM} ({hint})"
    absent = [str(p) for p in CRD_FILES if not p.is_file()]
    if absent:
        return f"upstream CRD file(s) not found: {', '.join(absent)} ({hint})"
    return None


# Marks a test that reads the CRDs: it is skipped, not failed, where they are absent.
requires_crds = pytest.mark.skipif(missing() is not None, reason=missing() or "")

_DEFS_ID = "https://kubernetes.io/api/_definitions.json"
_OBJECT_META = f"{_DEFS_ID}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
# apimachinery's IsDNS1123Subdomain: the name rule the API server applies to custom resources.
_DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}

# Keywords of a structural schema node that only document or default (no validation).
_IGNORED = {"description", "title", "default", "example", "externalDocs",
            "x-kubernetes-map-type"}
# Keywords copied as they are: the same meaning in OpenAPI 3.0 and JSON Schema 2020-12.
_COPIED = {"enum", "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems",
           "maxItems", "uniqueItems", "minProperties", "maxProperties", "multipleOf",
           "required"}


# The JSON Schema keyword the converter emits for `x-kubernetes-list-type: map`; the
# validator below checks it (keys present or defaulted, key tuples unique).
_LIST_MAP = "x-list-map"


class UnsupportedSchema(Exception):
    """The CRD uses something this converter cannot check faithfully."""


def _go_pattern(pattern: str, where: str) -> str:
    """The API server matches `pattern` with Go's regexp, which takes an inline flag group
    anywhere (prometheus-operator writes `^(?i)(abort|warn)?$`); Python's `re` wants global
    flags first, so a leading `^(?flags)` is turned into `(?flags)^`, the same language.
    Anything else Python cannot compile is refused."""
    m = re.match(r"^\^(\(\?[imsU]+\))", pattern)
    if m:
        pattern = m.group(1) + "^" + pattern[m.end():]
    try:
        re.compile(pattern)
    except re.error as e:
        raise UnsupportedSchema(f"{where}: pattern {pattern!r} is not understood ({e})") from None
    return pattern


def _convert(node: dict[str, Any], where: str, *, structural: bool = True) -> dict[str, Any]:
    """One OpenAPI v3 schema node -> JSON Schema. `structural` is False inside
    anyOf/allOf/oneOf/not, where a structural schema holds value checks only, so
    no unknown-field rule is added there."""
    out: dict[str, Any] = {}
    for key in node:
        if key in _IGNORED or key in _COPIED:
            continue
        if key not in {"type", "format", "nullable", "properties", "additionalProperties",
                       "items", "anyOf", "allOf", "oneOf", "not", "exclusiveMinimum",
                       "exclusiveMaximum", "x-kubernetes-int-or-string",
                       "x-kubernetes-preserve-unknown-fields", "x-kubernetes-list-type",
                       "x-kubernetes-list-map-keys"}:
            raise UnsupportedSchema(f"{where}: keyword {key!r} is not handled")
    for key in _COPIED & node.keys():
        out[key] = node[key]
    if "pattern" in node:
        out["pattern"] = _go_pattern(node["pattern"], where)

    typ = node.get("type")
    if node.get("x-kubernetes-int-or-string"):
        types = ["integer", "string"]
    elif typ is not None:
        types = [typ]
    else:
        types = []
    if types and node.get("nullable"):
        types.append("null")
    if types:
        out["type"] = types if len(types) > 1 else types[0]

    fmt = node.get("format")
    if fmt is not None:
        if fmt in _INT_RANGES and typ == "integer":
            lo, hi = _INT_RANGES[fmt]
            out["minimum"] = max(out.get("minimum", lo), lo)
            out["maximum"] = min(out.get("maximum", hi), hi)
        elif fmt == "date-time" and typ == "string":
            out["format"] = "date-time"
        else:
            raise UnsupportedSchema(f"{where}: format {fmt!r} (type {typ!r}) is not handled")

    for bound, base in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if node.get(bound) is True:
            if base not in out:
                raise UnsupportedSchema(f"{where}: {bound} without {base}")
            out[bound] = out.pop(base)

    list_type = node.get("x-kubernetes-list-type")
    if list_type == "set":
        out["uniqueItems"] = True
    elif list_type == "map":
        keys = node.get("x-kubernetes-list-map-keys")
        if not keys or not isinstance(keys, list):
            raise UnsupportedSchema(f"{where}: x-kubernetes-list-type map without x-kubernetes-list-map-keys")
        item_props = (node.get("items") or {}).get("properties") or {}
        defaults = {k: item_props[k]["default"] for k in keys
                    if k in item_props and "default" in item_props[k]}
        out[_LIST_MAP] = {"keys": list(keys), "defaults": defaults}
    elif list_type not in (None, "atomic"):
        raise UnsupportedSchema(f"{where}: x-kubernetes-list-type {list_type!r} is not handled")
    elif "x-kubernetes-list-map-keys" in node:
        raise UnsupportedSchema(f"{where}: x-kubernetes-list-map-keys without list type map")

    if "properties" in node:
        out["properties"] = {k: _convert(v, f"{where}.{k}", structural=structural)
                             for k, v in node["properties"].items()}
    if "additionalProperties" in node:
        ap = node["additionalProperties"]
        out["additionalProperties"] = (ap if isinstance(ap, bool)
                                       else _convert(ap, f"{where}.*", structural=structural))
    elif structural and typ == "object" and not node.get("x-kubernetes-preserve-unknown-fields"):
        # The pruning rule: a field that the schema does not specify is not kept.
        out["additionalProperties"] = False
    if "items" in node:
        out["items"] = _convert(node["items"], f"{where}[]", structural=structural)
    for key in ("anyOf", "allOf", "oneOf"):
        if key in node:
            out[key] = [_convert(n, f"{where}({key})", structural=False) for n in node[key]]
    if "not" in node:
        out["not"] = _convert(node["not"], f"{where}(not)", structural=False)
    return out


def crds() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the served version's openAPIV3Schema, from every CRD file.
    Skips the calling test where the files are absent (a test not marked `requires_crds`
    reaches this only after some work: it is reported as skipped all the same)."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    return _read_crds()


@functools.cache
def _read_crds() -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in CRD_FILES:
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd:
                continue
            assert crd["kind"] == "CustomResourceDefinition", path
            spec = crd["spec"]
            for version in spec["versions"]:
                if version.get("served"):
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    found[key] = version["schema"]["openAPIV3Schema"]
    return found


def kinds() -> set[str]:
    """The custom kinds (SpinApp, …, PrometheusRule), without reading the files."""
    return {kind for _, kind in KINDS}


@functools.cache
def json_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The JSON Schema of one served CRD version (apiVersion and kind pinned)."""
    try:
        openapi = crds()[(api_version, kind)]
    except KeyError:
        raise KeyError(f"no served CRD version for {kind} {api_version} in {UPSTREAM}") from None
    schema = _convert(openapi, kind)
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"const": api_version}
    props["kind"] = {"const": kind}
    props["metadata"] = {
        "allOf": [{"$ref": _OBJECT_META}],
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "maxLength": 253,
                                "pattern": _DNS1123_SUBDOMAIN}},
    }
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


@functools.cache
def _registry(kube_version: str) -> referencing.Registry:
    """kubernetes-validate's strict definitions (ObjectMeta …) for that Kubernetes version."""
    import kubernetes_validate.utils as kv

    version = [v for v in kv.all_versions()
               if kv.major_minor(v) <= kv.major_minor(kube_version.lstrip("v"))][-1]
    defs = kv.schema_contents(f"kubernetes-json-schema/v{version}-local-strict/_definitions.json",
                              kube_version)
    assert defs["$id"] == _DEFS_ID, defs["$id"]
    return referencing.Resource.from_contents(defs) @ referencing.Registry()


def _is_integer(_checker: Any, value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _is_rfc3339(value: object) -> bool:
    """RFC 3339 date-time, as Kubernetes' strfmt parses metav1.Time."""
    if not isinstance(value, str):
        return True
    if not _RFC3339.fullmatch(value):
        return False
    datetime.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


def _list_map(_validator: Any, spec: dict[str, Any], instance: Any, _schema: Any):
    """x-kubernetes-list-type: map — every item has the keys (or their defaults), and the
    key tuples are unique."""
    if not isinstance(instance, list):
        return
    seen: dict[tuple, int] = {}
    for i, item in enumerate(instance):
        if not isinstance(item, dict):
            continue
        key = []
        for k in spec["keys"]:
            if k in item:
                key.append(repr(item[k]))
            elif k in spec["defaults"]:
                key.append(repr(spec["defaults"][k]))
            else:
                yield jsonschema.ValidationError(f"item {i}: map key {k!r} is missing")
                key = None
                break
        if key is None:
            continue
        if tuple(key) in seen:
            yield jsonschema.ValidationError(
                f"item {i}: duplicate value for map keys {spec['keys']} (same as item {seen[tuple(key)]})")
        else:
            seen[tuple(key)] = i


_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    validators={_LIST_MAP: _list_map},
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


def validator(api_version: str, kind: str, kube_version: str) -> jsonschema.protocols.Validator:
    return _Validator(json_schema(api_version, kind), registry=_registry(kube_version),
                      format_checker=_FORMATS)


def errors(obj: dict[str, Any], kube_version: str) -> list[str]:
    """Every violation, as '<path>: <message>' (empty when the object is valid)."""
    v = validator(obj.get("apiVersion", ""), obj.get("kind", ""), kube_version)
    found = sorted(v.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in found]


# --- the spin-operator's validating webhooks --------------------------------------------
# What the operator's admission webhooks refuse beyond the CRD schema, from
# spinframework/spin-operator v0.6.1 internal/webhook/spinapp_validating.go
# (validateReplicas) and spinappexecutor_validating.go (validateRuntimeClassAndSpinImage).
# The executor-exists check of validateExecutor depends on the cluster: the install-order
# test (test_install_order.py) covers it.

def webhook_errors(obj: dict[str, Any]) -> list[str]:
    spec = obj.get("spec") or {}
    errs = []
    if obj.get("kind") == "SpinApp":
        autoscaling = bool(spec.get("enableAutoscaling", False))
        replicas = spec.get("replicas", 0)
        if autoscaling and replicas != 0:
            errs.append("spec.replicas: replicas cannot be set when autoscaling is enabled")
        if not autoscaling and replicas < 1:
            errs.append("spec.replicas: replicas must be > 0")
        if not spec.get("executor"):
            errs.append("spec.executor: executor must be set")
    elif obj.get("kind") == "SpinAppExecutor":
        config = spec.get("deploymentConfig")
        if config is not None:
            rc, image = config.get("runtimeClassName"), config.get("spinImage")
            if rc is not None and image is not None:
                errs.append("spec.deploymentConfig.runtimeClassName: runtimeClassName and spinImage are mutually exclusive")
            if rc is None and image is None:
                errs.append("spec.deploymentConfig.runtimeClassName: either runtimeClassName or spinImage must be set")
    return errs
