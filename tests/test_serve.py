"""The model server (models/serve.py) as a real subprocess on 127.0.0.1, with real versions."""

# ruff: noqa: F811  (the fixtures imported from conftest_serving are test arguments)
from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import httpx
import pytest
from conftest_serving import ModelServer, add_version, model_server, serving_base, serving_ws  # noqa: F401

from models.drift import FEATURES, compare
from models.loadgen import drive

pytestmark = pytest.mark.slow  # the workspace trains and exports real models (about 40 s)


def image(root: Path) -> bytes:
    return next((root / "data" / "pets" / "images").glob("*.jpg")).read_bytes()


def test_classify_and_generate_answer_and_name_the_version(model_server: ModelServer) -> None:
    root = model_server.folder.parent
    reply = httpx.post(model_server.url + "/v1/classify", content=image(root),
                       headers={"Content-Type": "image/jpeg"})  # fmt: skip
    assert reply.status_code == 200 and reply.headers["X-Model-Version"] == "v1"
    top5 = reply.json()["top5"]
    assert len(top5) == 5 and abs(sum(t["probability"] for t in top5) - 1) < 0.5
    files = {"file": ("cat.jpg", image(root), "image/jpeg")}
    assert httpx.post(model_server.url + "/v1/classify", files=files).json()["version"] == "v1"
    job = {"breed": "Bengal", "steps": 3, "sampler": "heun", "seed": 7}
    gen = httpx.post(model_server.url + "/v1/generate", json=job).json()
    assert gen["version"] == "v1" and gen["image_png_base64"].startswith("iVBOR")  # a PNG


def test_malformed_requests_get_4xx_and_the_server_keeps_serving(model_server: ModelServer) -> None:
    url = model_server.url
    png, text, js = ({"Content-Type": t} for t in ("image/png", "text/plain", "application/json"))
    cases = [
        (httpx.post(url + "/v1/classify", content=b"hello", headers=text), 415),
        (httpx.post(url + "/v1/classify", content=b"\0" * (11 * 1024 * 1024), headers=png), 413),
        (httpx.post(url + "/v1/classify", content=b"not an image", headers=png), 400),
        (httpx.post(url + "/v1/generate", content=b"{broken", headers=js), 422),
        (httpx.post(url + "/v1/generate", json={"breed": "Bengal", "steps": 1000}), 422),
        (httpx.post(url + "/v1/generate", json={"breed": "Dragon"}), 422),
        (httpx.post(url + "/v1/generate", json={"breed": 3, "cfg_scale": -1}), 422),
        (httpx.put(url + "/v1/routing", json={"stable": "v1"}), 401),  # no token
        (httpx.put(url + "/v1/routing", json={"stable": "v9"}, headers=model_server.auth()), 409),
    ]  # fmt: skip
    for reply, status in cases:
        assert reply.status_code == status, (reply.request.url, reply.text)
        body = reply.json()
        assert set(body) == {"error"} and "Traceback" not in body["error"], body
    assert "steps" in cases[4][0].json()["error"]
    assert model_server.get("/health")["status"] == "ok"


def test_a_routing_change_under_load_drops_no_request(model_server: ModelServer) -> None:
    root = model_server.folder.parent
    candidate = add_version(root, "same")
    results: list[dict] = []
    load = threading.Thread(target=lambda: results.append(
        drive(model_server.url, root / "data" / "pets", requests=400, concurrency=6)))  # fmt: skip
    load.start()
    for percent in (5, 25, 50, 100, 0, 50):
        model_server.route("v1", candidate, percent)
    load.join()
    summary = results[0]
    assert summary["errors"] == 0 and summary["statuses"] == {"200": 400}, summary
    assert set(summary["versions"]) == {"v1", candidate}


def test_the_split_is_sticky_per_client_and_counted_per_epoch(model_server: ModelServer) -> None:
    root = model_server.folder.parent
    candidate = add_version(root, "same")
    epoch = model_server.route("v1", candidate, 25)["epoch"]
    body = image(root)

    def version_of(key: str) -> str:
        headers = {"Content-Type": "image/jpeg", "X-Client-Key": key}
        return httpx.post(model_server.url + "/v1/classify", content=body, headers=headers).json()[
            "version"
        ]

    at25 = {f"user-{i}": version_of(f"user-{i}") for i in range(60)}
    assert {version_of(k) for k, v in at25.items() if v == candidate} == {candidate}  # sticky
    assert 3 <= sum(v == candidate for v in at25.values()) <= 30
    model_server.route("v1", candidate, 50)
    assert all(version_of(k) == candidate for k, v in at25.items() if v == candidate)  # stays on
    old = model_server.get(f"/v1/stats?epoch={epoch}")["versions"]
    assert sum(s["requests"] for s in old.values()) == 60 + sum(
        v == candidate for v in at25.values()
    )


def test_invalid_outputs_are_counted_and_metrics_parse(model_server: ModelServer) -> None:
    root = model_server.folder.parent
    broken = add_version(root, "nan")
    model_server.route("v1", broken, 100)
    reply = httpx.post(model_server.url + "/v1/classify", content=image(root),
                       headers={"Content-Type": "image/jpeg"})  # fmt: skip
    assert reply.status_code == 500 and "invalid output" in reply.json()["error"]
    stats = model_server.get("/v1/stats")["versions"][broken]
    assert stats["invalid"] == 1 and stats["errors"] == 0
    text = httpx.get(model_server.url + "/metrics").text
    sample = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [-+0-9.eEnaNif]+$')
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or sample.match(line), line
    assert f'goap_serve_invalid_outputs_total{{version="{broken}",endpoint="classify"}} 1' in text
    assert 'goap_serve_latency_seconds{version="v1"' not in text or "quantile" in text
    assert f'goap_serve_traffic_percent{{version="{broken}"}} 100' in text


def test_smoke_checks_pass_a_good_version_and_fail_a_slow_one(model_server: ModelServer) -> None:
    root = model_server.folder.parent
    slow = add_version(root, "slow")
    smoke = lambda v, budget: httpx.post(  # noqa: E731
        model_server.url + "/v1/smoke", json={"version": v, "latency_p95_ms": budget},
        headers=model_server.auth(), timeout=120).json()  # fmt: skip
    good = smoke("v1", 50)
    assert good["passed"], good
    assert [c["name"] for c in good["checks"]] == [
        "load",
        "inference",
        "output_validity",
        "batch",
        "latency",
    ]
    bad = smoke(slow, 10)
    failed = [c["name"] for c in bad["checks"] if not c["passed"]]
    assert not bad["passed"] and failed == ["latency"], bad  # a valid graph, only slow
    assert httpx.post(model_server.url + "/v1/smoke", json={"version": "v1"}).status_code == 401


def test_drift_features_of_shifted_traffic_drift_and_of_the_same_do_not(
    model_server: ModelServer,
) -> None:
    from models.drift import dataset_profile

    root = model_server.folder.parent
    data = root / "data" / "pets"
    reference = dataset_profile(data, 32)["rows"]
    epoch = model_server.get("/health")["epoch"]
    drive(model_server.url, data, requests=150, concurrency=4, split="trainval")
    same = model_server.get(f"/v1/inputs?epoch={epoch}")
    assert same["features"] == list(FEATURES) and same["count"] == 150
    assert not compare(reference, same["rows"])["drift"]
    epoch = model_server.route("v1", None, 0)["epoch"]
    drive(model_server.url, data, requests=150, concurrency=4, shift=0.35)
    shifted = compare(reference, model_server.get(f"/v1/inputs?epoch={epoch}")["rows"])
    assert shifted["drift"] and {"mean_r", "mean_g", "mean_b"} <= set(shifted["drifted"]), shifted


def test_the_routing_survives_a_restart(serving_ws: Path) -> None:
    candidate = add_version(serving_ws, "same")
    server = ModelServer(serving_ws)
    server.route("v1", candidate, 25)
    server.stop()
    again = ModelServer(serving_ws)
    try:
        health = again.get("/health")
        assert (health["stable"], health["candidate"], health["percent"]) == ("v1", candidate, 25)
        saved = json.loads((again.folder / "routing.json").read_text())
        assert saved["epoch"] == health["epoch"]
    finally:
        again.stop()


def test_the_drift_sensor_fits_the_map_and_judges_a_drift_retrain_by_what_it_was_made_for(
    serving_ws: Path,
) -> None:
    """drift_status (the sensor) on a server started by start_server (the executor): the
    load generator's brightening is drift, with its exposure map in the report; once the
    stable version's published report says it was trained for that map, the same traffic is
    what it was made for, and a further drift is reported as a map of the raw training data."""
    from actions.serving import DriftArgs, ServingArgs, drift_status, start_server

    started = start_server(ServingArgs(workdir=serving_ws))
    assert started["started"] and started["stable"] == "v1"
    data = serving_ws / "data" / "pets"
    drive(started["url"], data, requests=150, concurrency=4, shift=0.35)
    sensed = drift_status(DriftArgs(workdir=serving_ws))
    assert sensed["drift"] and sensed["samples"] == 150 and "mean_r" in sensed["drifted"]
    report = json.loads((serving_ws / sensed["report"]).read_text())
    assert report["reference_exposure"] is None
    fitted = report["exposure"]
    assert fitted["scale"] == pytest.approx([0.65] * 3, abs=0.04)
    assert fitted["offset"] == pytest.approx([0.35] * 3, abs=0.04)

    published = serving_ws / ".goap" / "registry" / "tiny-cats" / "v1" / "validation_report.json"
    card = json.loads(published.read_text())
    card["models"]["classifier"]["exposure"] = fitted  # as if v1 were the drift retrain
    published.write_text(json.dumps(card))
    again = drift_status(DriftArgs(workdir=serving_ws))
    report = json.loads((serving_ws / again["report"]).read_text())
    assert report["reference_exposure"] == fitted
    assert not {"mean_r", "mean_g", "mean_b", "std_r", "std_g", "std_b"} & set(report["drifted"])

    half = {"scale": [0.8] * 3, "offset": [0.2] * 3}  # the inputs went on past a half-way map
    card["models"]["classifier"]["exposure"] = half
    published.write_text(json.dumps(card))
    further = json.loads(
        (serving_ws / drift_status(DriftArgs(workdir=serving_ws))["report"]).read_text()
    )
    assert further["drift"] and further["reference_exposure"] == half
    assert further["exposure"]["scale"] == pytest.approx([0.65] * 3, abs=0.05)  # composed
    assert further["exposure"]["offset"] == pytest.approx([0.35] * 3, abs=0.05)


def test_a_ready_file_naming_another_host_gets_no_token(tmp_path):
    """A planted ready.json (live pid, this registry) pointing off the machine: the call is
    refused before anything is sent, so the server's token never leaves it."""
    from actions.serving import READY_FILE, Serving
    from goap.executor import ActionFailed

    serving = Serving(tmp_path, "tiny-cats")
    serving.folder.mkdir(parents=True)
    serving.new_token()
    ready = {"url": "http://10.0.0.1:8000", "pid": os.getpid(),
             "registry": str((serving.registry / "tiny-cats").resolve())}  # fmt: skip
    (serving.folder / READY_FILE).write_text(json.dumps(ready))
    with pytest.raises(ActionFailed, match="not this machine's server") as caught:
        serving.call("PUT", "/v1/routing", body={"percent": 0})
    assert serving.token() not in str(caught.value)
