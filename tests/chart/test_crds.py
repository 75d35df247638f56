"""The vendored spin-operator CRDs (k8s/crds/) and their conversion to JSON Schema."""

from __future__ import annotations

import hashlib
import re

import jsonschema
import pytest
import yaml

import spinkube_crds
from spinkube_crds import CRD_DIR, UnsupportedSchema

NOTE = CRD_DIR / "README.md"


def test_vendored_files_match_their_source_note():
    """Byte for byte what the note says was copied from upstream (edit neither alone)."""
    listed = dict(re.findall(r"^\| `([^`]+\.yaml)` \| `([0-9a-f]{64})` \|", NOTE.read_text(), re.MULTILINE))
    files = {str(p.relative_to(CRD_DIR)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in CRD_DIR.rglob("*.yaml")}
    assert files == listed
    assert set(files) == {"core.spinkube.dev_spinapps.yaml", "core.spinkube.dev_spinappexecutors.yaml",
                          "prometheus-operator/monitoring.coreos.com_servicemonitors.yaml",
                          "prometheus-operator/monitoring.coreos.com_prometheusrules.yaml"}
    text = NOTE.read_text()
    assert "96c9d1d1d69c2c04e005375c44f323fb10e31002" in text and "`v0.6.1`" in text
    assert "f8fafd475f3d132e239432ae6172de60a6cb6516" in text and "`v0.93.0`" in text


def test_crds_define_the_spinkube_kinds():
    assert set(spinkube_crds.crds()) == {("core.spinkube.dev/v1alpha1", "SpinApp"),
                                         ("core.spinkube.dev/v1alpha1", "SpinAppExecutor"),
                                         ("monitoring.coreos.com/v1", "ServiceMonitor"),
                                         ("monitoring.coreos.com/v1", "PrometheusRule")}
    for path in CRD_DIR.rglob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        assert crd["spec"]["scope"] == "Namespaced"
        assert crd["metadata"]["name"] == f"{crd['spec']['names']['plural']}.{crd['spec']['group']}"


@pytest.mark.parametrize("key", sorted(spinkube_crds.crds()))
def test_converted_schema_is_a_valid_json_schema(key):
    schema = spinkube_crds.json_schema(*key)
    spinkube_crds._Validator.check_schema(schema)
    assert schema["additionalProperties"] is False


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
