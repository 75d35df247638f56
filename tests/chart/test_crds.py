"""The upstream CRDs the chart is validated against (read from HEART_UPSTREAM, by default
../shared/upstream/: see spinkube_crds.py) and their conversion to JSON Schema. The tests on
the real files are skipped where that folder is absent; the conversion's rules, checked on
small schemas, always run."""

from __future__ import annotations

import hashlib
import re

import pytest
import yaml

import spinkube_crds
from spinkube_crds import (CRD_FILES, KINDS, PROMETHEUS_OPERATOR_DIR, SPIN_OPERATOR_DIR,
                           UPSTREAM, UnsupportedSchema, requires_crds)

# The upstream commits of the pinned releases, as the folder's README records them.
COMMITS = {SPIN_OPERATOR_DIR.name: "96c9d1d1d69c2c04e005375c44f323fb10e31002",
           PROMETHEUS_OPERATOR_DIR.name: "f8fafd475f3d132e239432ae6172de60a6cb6516"}


@requires_crds
def test_upstream_files_are_the_pinned_release():
    """The files read are byte for byte the ones the upstream folder's README lists for the
    pinned releases (sha256 and source commit), so the checks run on upstream's CRDs and not
    on a copy someone edited."""
    note = (UPSTREAM / "README.md").read_text()
    listed = dict(re.findall(r"^- `([^`]+\.yaml)` ([0-9a-f]{64})$", note, re.MULTILINE))
    for path in CRD_FILES:
        name = str(path.relative_to(UPSTREAM))
        assert name in listed, f"{name} is not listed in {UPSTREAM / 'README.md'}"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == listed[name], name
    for folder, commit in COMMITS.items():
        row = re.search(rf"^\| `{re.escape(folder)}/` \|.*$", note, re.MULTILINE)
        assert row and commit in row.group(0), (folder, commit)


@requires_crds
def test_crds_define_the_spinkube_kinds():
    assert set(spinkube_crds.crds()) == KINDS == {("core.spinkube.dev/v1alpha1", "SpinApp"),
                                                  ("core.spinkube.dev/v1alpha1", "SpinAppExecutor"),
                                                  ("monitoring.coreos.com/v1", "ServiceMonitor"),
                                                  ("monitoring.coreos.com/v1", "PrometheusRule")}
    for path in CRD_FILES:
        crd = yaml.safe_load(path.read_text())
        assert crd["spec"]["scope"] == "Namespaced"
        assert crd["metadata"]["name"] == f"{crd['spec']['names']['plural']}.{crd['spec']['group']}"


def test_missing_upstream_is_a_skip_reason(monkeypatch, tmp_path):
    """Without the folder, the reason names the path looked at and the variable to set."""
    monkeypatch.setattr(spinkube_crds, "UPSTREAM", tmp_path / "nowhere")
    reason = spinkube_crds.missing()
    assert reason and str(tmp_path / "nowhere") in reason and "HEART_UPSTREAM" in reason
    with pytest.raises(pytest.skip.Exception, match="HEART_UPSTREAM"):
        spinkube_crds.crds()


@requires_crds
@pytest.mark.parametrize("key", sorted(KINDS))
def test_converted_schema_is_a_valid_json_schema(key):
    schema = spinkube_crds.json_schema(*key)
    spinkube_crds._Validator.check_schema(schema)
    assert schema["additionalProperties"] is False


@requires_crds
def test_converted_schema_follows_the_crd():
    """Spot checks of the conversion on the real SpinApp CRD."""
    spec = spinkube_crds.json_schema("core.spinkube.dev/v1alpha1", "SpinApp")["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert set(spec["required"]) == {"image", "executor"}
    assert spec["properties"]["replicas"] == {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
    cpu = spec["properties"]["resources"]["properties"]["limits"]["additionalProperties"]
    assert cpu["type"] == ["integer", "string"] and "pattern" in cpu
    # a map of strings stays open to any key
    assert spec["properties"]["podLabels"]["additionalProperties"] == {"type": "string"}


# --- the conversion's rules, on small schemas ---------------------------------------------

def _check(openapi: dict, value: object) -> list[str]:
    schema = spinkube_crds._convert(openapi, "t")
    v = spinkube_crds._Validator(schema, format_checker=spinkube_crds._FORMATS)
    return [e.message for e in v.iter_errors(value)]


OBJ = {"type": "object", "properties": {"a": {"type": "string"}}}


def test_unknown_field_is_an_error():
    assert _check(OBJ, {"a": "x"}) == []
    assert _check(OBJ, {"a": "x", "b": 1}) == ["Additional properties are not allowed ('b' was unexpected)"]
    # an object without properties keeps nothing (e.g. status without a schema)
    assert _check({"type": "object"}, {"b": 1})


def test_preserve_unknown_fields_keeps_them_and_still_checks_known_ones():
    node = {**OBJ, "x-kubernetes-preserve-unknown-fields": True}
    assert _check(node, {"a": "x", "b": 1}) == []
    assert _check(node, {"a": 1}) == ["1 is not of type 'string'"]


def test_int_or_string_nullable_and_bounds():
    ios = {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert _check(ios, 3) == [] and _check(ios, "50%") == []
    assert _check(ios, 1.5) and _check(ios, None) and _check(ios, True)
    assert _check({"type": "string", "nullable": True}, None) == []
    assert _check({"type": "string"}, None)
    excl = {"type": "integer", "minimum": 0, "exclusiveMinimum": True}
    assert _check(excl, 1) == [] and _check(excl, 0)
    assert _check({"type": "integer", "format": "int32"}, 2**31)
    assert _check({"type": "string", "enum": ["a"]}, "b")
    assert _check({"type": "string", "format": "date-time"}, "2025-07-09T11:57:11Z") == []
    assert _check({"type": "string", "format": "date-time"}, "yesterday")
    assert _check({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}, ["a", "a"])


def test_anyof_branches_hold_no_unknown_field_rule():
    """In a structural schema the branches only add value checks: the object's own
    properties decide which fields exist."""
    node = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "anyOf": [{"required": ["a"]}, {"required": ["b"]}]}
    assert _check(node, {"a": "x"}) == [] and _check(node, {"b": "y"}) == []
    assert _check(node, {})


@pytest.mark.parametrize("node", [
    {"type": "object", "x-kubernetes-validations": [{"rule": "self.a > 0"}]},
    {"type": "object", "x-kubernetes-embedded-resource": True},
    {"type": "array", "x-kubernetes-list-type": "map"},
    {"type": "array", "x-kubernetes-list-map-keys": ["name"]},
    {"type": "string", "pattern": "a(?i)b"},
    {"type": "string", "format": "email"},
    {"type": "string", "someNewKeyword": 1},
])
def test_what_cannot_be_checked_is_refused_not_skipped(node):
    with pytest.raises(UnsupportedSchema):
        spinkube_crds._convert(node, "t")


def test_list_map_keys_are_present_and_unique():
    """x-kubernetes-list-type map (prometheus-operator's status lists): the API server
    refuses an item without its key and two items with the same key."""
    node = {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name", "ns"],
            "items": {"type": "object", "properties": {"name": {"type": "string"},
                                                       "ns": {"type": "string", "default": "d"}}}}
    assert _check(node, [{"name": "a", "ns": "x"}, {"name": "a", "ns": "y"}, {"name": "b"}]) == []
    assert _check(node, [{"name": "a"}, {"name": "a", "ns": "d"}]) == [
        "item 1: duplicate value for map keys ['name', 'ns'] (same as item 0)"]
    assert _check(node, [{"ns": "x"}]) == ["item 0: map key 'name' is missing"]


def test_go_inline_flags_are_kept():
    """prometheus-operator's `^(?i)(abort|warn)?$`: case-insensitive, as Go reads it."""
    node = {"type": "string", "pattern": "^(?i)(abort|warn)?$"}
    assert _check(node, "Abort") == [] and _check(node, "") == []
    assert _check(node, "retry")


@requires_crds
def test_monitoring_crds_refuse_mistakes():
    """The prometheus-operator CRDs are live: a misspelt field and a bad enum are refused."""
    sm = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "x"},
          "spec": {"selector": {}, "endpoints": [{"port": "metrics", "scheme": "http", "intervall": "30s"}]}}
    errs = spinkube_crds.errors(sm, "1.34.0")
    assert any("'intervall' was unexpected" in e for e in errs), errs
    sm["spec"]["endpoints"][0] = {"port": "metrics", "scheme": "tcp"}
    assert any("spec.endpoints.0.scheme" in e for e in spinkube_crds.errors(sm, "1.34.0"))
    rule = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": "x"},
            "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "for": "five"}]}]}}
    assert any("spec.groups.0.rules.0.for" in e for e in spinkube_crds.errors(rule, "1.34.0"))
    rule["spec"]["groups"][0]["rules"][0]["for"] = "5m"
    assert spinkube_crds.errors(rule, "1.34.0") == []
