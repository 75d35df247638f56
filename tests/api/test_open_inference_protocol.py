"""The Open Inference Protocol endpoints, driven by a stock client (tritonclient[http]), give
the same probabilities as the native /predict endpoint: with the client's defaults (binary
tensor data both ways) and with JSON tensors."""

import http.client
import json
from urllib.parse import urlsplit

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from api_client import dataset, post_json
from fixtures import EXAMPLE, FEATURES

MODEL = "heart-disease"


@pytest.fixture(scope="module")
def client(base_url):
    return httpclient.InferenceServerClient(url=base_url.removeprefix("http://"))


@pytest.fixture(scope="module")
def native(base_url):
    """Probabilities and predictions from POST /predict for the whole data set."""
    status, body = post_json(f"{base_url}/predict", {"instances": dataset()})
    assert status == 200, body
    return body


def test_health_and_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(MODEL)
    server = client.get_server_metadata()
    assert server["name"] == "heart-disease-api"
    assert server["extensions"] == ["binary_tensor_data"]
    meta = client.get_model_metadata(MODEL)
    assert meta["name"] == MODEL
    assert meta["inputs"] == [{"name": "patients", "datatype": "FP64", "shape": [-1, 13]}]
    assert {o["name"]: o["datatype"] for o in meta["outputs"]} == {"probability": "FP64", "prediction": "INT64"}
    assert meta["parameters"]["feature_order"] == FEATURES
    version = meta["versions"][0]
    assert client.is_model_ready(MODEL, model_version=version)
    assert client.get_model_metadata(MODEL, model_version=version)["name"] == MODEL


def patients_matrix() -> np.ndarray:
    """The data set as an [N, 13] FP64 matrix, NaN for a missing value."""
    return np.array([[np.nan if r[f] is None else r[f] for f in FEATURES] for r in dataset()], dtype=np.float64)


def test_client_defaults_binary_both_ways_match_native_api(client, native):
    """tritonclient with every default: the input goes as binary tensor data
    (set_data_from_numpy's binary_data=True) and, with no outputs listed, the client asks for
    every output in binary (binary_data_output). NaN, which binary data can carry, marks a
    missing slope/ca/thal, so the whole data set goes, rows with missing values included."""
    data = patients_matrix()
    tensor = httpclient.InferInput("patients", list(data.shape), "FP64")
    tensor.set_data_from_numpy(data)
    assert tensor._get_tensor()["parameters"] == {"binary_data_size": data.size * 8}
    result = client.infer(MODEL, [tensor])
    outputs = {o["name"]: o for o in result.get_response()["outputs"]}
    assert set(outputs) == {"probability", "prediction"}
    for name, o in outputs.items():
        assert "data" not in o, f"{name} came as JSON"
        assert o["parameters"] == {"binary_data_size": len(data) * 8}
    probability = result.as_numpy("probability")
    assert probability.dtype == np.float64 and probability.shape == (len(data),)
    np.testing.assert_allclose(probability, [p["probability"] for p in native["predictions"]], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(result.as_numpy("prediction"), [p["prediction"] for p in native["predictions"]])


def test_binary_and_json_outputs_in_one_answer(client, native):
    """An output's own binary_data: probability in binary, prediction as JSON."""
    data = patients_matrix()[:40]
    tensor = httpclient.InferInput("patients", list(data.shape), "FP64")
    tensor.set_data_from_numpy(data)
    outputs = [httpclient.InferRequestedOutput("probability"), httpclient.InferRequestedOutput("prediction", binary_data=False)]
    result = client.infer(MODEL, [tensor], outputs=outputs)
    got = {o["name"]: o for o in result.get_response()["outputs"]}
    assert "data" not in got["probability"] and "data" in got["prediction"]
    want = native["predictions"][:40]
    np.testing.assert_allclose(result.as_numpy("probability"), [p["probability"] for p in want], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(result.as_numpy("prediction"), [p["prediction"] for p in want])


def post_raw(base_url: str, path: str, body: bytes, headers: dict) -> tuple[int, dict, bytes]:
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def test_bad_binary_requests_are_400(base_url):
    rows = np.array([[EXAMPLE[f] for f in FEATURES]] * 2, dtype=np.float64)
    raw = rows.tobytes()

    def request(size, data, header_length=None):
        header = json.dumps({"inputs": [{"name": "patients", "shape": [2, 13], "datatype": "FP64",
                                         "parameters": {"binary_data_size": size}}]}).encode()
        length = len(header) if header_length is None else header_length
        return header + data, {"Inference-Header-Content-Length": str(length)}

    infer = f"/v2/models/{MODEL}/infer"
    for name, (body, headers), says in [
        ("size not shape x datatype", request(200, raw[:200]), "takes 208 bytes"),
        ("fewer bytes than declared", request(208, raw[:104]), "only 104 bytes"),
        ("bytes left over", request(208, raw + b"\0" * 8), "left over"),
        ("header length beyond the body", request(208, raw, header_length=10**6), "beyond the body"),
    ]:
        status, headers, body = post_raw(base_url, infer, body, headers)
        assert status == 400, (name, status, body)
        assert headers.get("content-type") == "application/json", name
        error = json.loads(body)
        assert set(error) == {"error"} and says in error["error"], (name, error)
    # The same request, right: 200 with both outputs as JSON (nothing asked for binary).
    body, headers = request(208, raw)
    status, headers, answer = post_raw(base_url, infer, body, headers)
    assert status == 200 and headers.get("content-type") == "application/json", answer
    assert [o["name"] for o in json.loads(answer)["outputs"]] == ["probability", "prediction"]


def test_patients_tensor_matches_native_api(client, native):
    """JSON tensors both ways (binary_data=False): the rows without a missing value (JSON has no NaN)."""
    rows = dataset()
    data = np.array([[np.nan if r[f] is None else r[f] for f in FEATURES] for r in rows], dtype=np.float64)
    complete = ~np.isnan(data).any(axis=1)  # JSON has no NaN: rows with a missing value go below
    tensor = httpclient.InferInput("patients", list(data[complete].shape), "FP64")
    tensor.set_data_from_numpy(data[complete], binary_data=False)
    outputs = [httpclient.InferRequestedOutput(n, binary_data=False) for n in ("probability", "prediction")]
    result = client.infer(MODEL, [tensor], outputs=outputs, request_id="batch-1")
    assert result.get_response()["id"] == "batch-1"
    want = [p for p, keep in zip(native["predictions"], complete) if keep]
    np.testing.assert_allclose(result.as_numpy("probability"), [p["probability"] for p in want], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(result.as_numpy("prediction"), [p["prediction"] for p in want])


def test_named_tensors_with_absent_optional_features(client, base_url):
    rows = [r for r in dataset() if None not in r.values()][:50]
    present = [f for f in FEATURES if f not in ("slope", "thal")]  # absent tensors: imputed for everyone
    inputs = []
    for f in present:
        t = httpclient.InferInput(f, [len(rows)], "FP64")
        t.set_data_from_numpy(np.array([r[f] for r in rows], dtype=np.float64), binary_data=False)
        inputs.append(t)
    result = client.infer(MODEL, inputs, outputs=[httpclient.InferRequestedOutput("probability", binary_data=False)])
    assert [o["name"] for o in result.get_response()["outputs"]] == ["probability"], "only the requested output"
    status, body = post_json(f"{base_url}/predict", {"instances": [{f: r[f] for f in present} for r in rows]})
    assert status == 200, body
    assert all(p["imputed"] == ["slope", "thal"] for p in body["predictions"])
    np.testing.assert_allclose(
        result.as_numpy("probability"), [p["probability"] for p in body["predictions"]], rtol=0, atol=1e-12
    )


def test_errors_follow_the_protocol(client, base_url):
    with pytest.raises(InferenceServerException) as e:
        client.get_model_metadata("no-such-model")
    assert "unknown model" in e.value.message()
    bad = np.array([[{**EXAMPLE, "cp": 9}[f] for f in FEATURES]], dtype=np.float64)
    t = httpclient.InferInput("patients", [1, 13], "FP64")
    t.set_data_from_numpy(bad, binary_data=False)
    with pytest.raises(InferenceServerException) as e:
        client.infer(MODEL, [t])
    assert "cp must be one of 1, 2, 3, 4" in e.value.message()
    status, body = post_json(f"{base_url}/v2/models/{MODEL}/infer", {"inputs": [{"name": "patients", "shape": [2, 13], "datatype": "FP64", "data": [1, 2]}]})
    assert status == 400 and "needs 26 values" in body["error"]
    status, body = post_json(f"{base_url}/v2/models/other/infer", {"inputs": []})
    assert status == 404 and set(body) == {"error"}
