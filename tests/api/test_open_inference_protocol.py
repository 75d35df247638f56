"""The Open Inference Protocol endpoints, driven by a stock client (tritonclient[http]), give
the same probabilities as the native /predict endpoint."""

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import dataset, post_json

MODEL = "heart-disease"
FEATURES = ["age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalach", "exang", "oldpeak", "slope", "ca", "thal"]


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
    meta = client.get_model_metadata(MODEL)
    assert meta["name"] == MODEL
    assert meta["inputs"] == [{"name": "patients", "datatype": "FP64", "shape": [-1, 13]}]
    assert {o["name"]: o["datatype"] for o in meta["outputs"]} == {"probability": "FP64", "prediction": "INT64"}
    assert meta["parameters"]["feature_order"] == FEATURES
    version = meta["versions"][0]
    assert client.is_model_ready(MODEL, model_version=version)
    assert client.get_model_metadata(MODEL, model_version=version)["name"] == MODEL


def test_patients_tensor_matches_native_api(client, native):
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
    bad = np.array([[63, 1, 9, 145, 233, 1, 2, 150, 0, 2.3, 3, 0, 6]], dtype=np.float64)
    t = httpclient.InferInput("patients", [1, 13], "FP64")
    t.set_data_from_numpy(bad, binary_data=False)
    with pytest.raises(InferenceServerException) as e:
        client.infer(MODEL, [t])
    assert "cp must be one of 1, 2, 3, 4" in e.value.message()
    status, body = post_json(f"{base_url}/v2/models/{MODEL}/infer", {"inputs": [{"name": "patients", "shape": [2, 13], "datatype": "FP64", "data": [1, 2]}]})
    assert status == 400 and "needs 26 values" in body["error"]
    status, body = post_json(f"{base_url}/v2/models/other/infer", {"inputs": []})
    assert status == 404 and set(body) == {"error"}
