"""The web app in headless Chromium against the deployed site on 127.0.0.1, compared with
onnxruntime-Python on the same files.

Tolerances (int8 models, WASM backend with a thread per core, as web.serve serves the site; on
this machine both differences measured exactly 0, the margins are for CPUs whose native int8
kernels differ from WASM's):
* classify: the same top-5 breeds in the same order, each probability within 1e-5 of
  onnxruntime-Python's (the image is a PNG at the model's size, so the page's tensor is
  exactly Python's).
* generate: from the same seeded noise (models.browser.seeded_noise, bit-equal to the page's),
  the downloaded PNG against Python's image as uint8: mean |difference| <= 0.5 level and at
  most 1% of the values more than 2 levels apart (dynamic int8 quantization of activations can
  round differently after a tiny difference, which later steps carry on).
"""

# ruff: noqa: F811  (the fixtures imported from conftest_web are test arguments)
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from conftest_web import (  # noqa: F401  (fixtures)
    StaticServer,
    browser,
    open_app,
    page,
    screenshot,
    site_server,
    wait_state,
    web_workspace,
)
from PIL import Image

from models import browser as reference

pytestmark = pytest.mark.timeout(600)


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def model_file(workspace: Path, kind: str) -> Path:
    manifest = json.loads((workspace / "site/models/v1/web-manifest.json").read_text())
    return workspace / "site/models/v1" / manifest["models"][kind]["path"]


def breed_png(workspace: Path, breed: str, out: Path) -> Path:
    """A test-split image of ``breed`` from the generated dataset, as a PNG at 32x32."""
    lines = (workspace / "data/pets/annotations/test.txt").read_text().split("\n")
    stem = next(line.split()[0] for line in lines if line.startswith(f"{breed}_"))
    image = Image.open(workspace / f"data/pets/images/{stem}.jpg").convert("RGB")
    image.resize((32, 32), Image.Resampling.BILINEAR).save(out)
    return out


def test_classify_equals_onnxruntime_python(web_workspace: Path, site_server, page, tmp_path):
    open_app(page, site_server.url, "classify")
    assert page.text_content("#backend") == "WASM"  # headless Chromium has no WebGPU adapter
    image = breed_png(web_workspace, "Bengal", tmp_path / "bengal.png")
    page.set_input_files("#file", str(image))
    assert wait_state(page, "#classify-result", ("done", "error")) == "done"
    shown = page.eval_on_selector_all(
        "#top5 li", "items => items.map(i => [i.dataset.label, Number(i.dataset.probability)])"
    )
    pixels = np.asarray(Image.open(image).convert("RGB"))
    (logits,) = session(model_file(web_workspace, "classifier")).run(
        None, {"image": reference.to_tensor(pixels)}
    )
    probs = reference.softmax(logits[0])
    from models.data import BREEDS

    expected = [BREEDS[i] for i in np.argsort(-probs)[:5]]
    assert [label for label, _ in shown] == expected
    for label, p in shown:
        assert p == pytest.approx(probs[BREEDS.index(label)], abs=1e-5)
    assert float(page.eval_on_selector("#classify-latency", "e => e.dataset.ms")) > 0
    assert "inference" in page.text_content("#classify-latency")
    screenshot(page, "classify")


@pytest.mark.parametrize(("method", "steps", "cfg"), [("euler", 10, 4.0), ("heun", 3, 2.5)])
def test_generate_equals_onnxruntime_python_from_the_same_noise(
    web_workspace: Path, site_server, page, method, steps, cfg
):
    from models.data import BREEDS

    open_app(page, site_server.url, "generate")
    label, seed = BREEDS.index("Siamese"), 20260
    page.select_option("#breed", str(label))
    page.fill("#steps", str(steps))
    page.fill("#cfg", str(cfg))
    page.select_option("#method", method)
    page.fill("#seed", str(seed))
    page.click("#generate-btn")
    assert wait_state(page, "#gen-status", ("done", "error")) == "done", page.text_content(
        "#gen-message"
    )
    assert page.eval_on_selector("#gen-progress", "e => e.value") == steps
    assert f"{steps} {method} steps in" in page.text_content("#gen-status")
    with page.expect_download() as download:
        page.click("#download")
    got = np.asarray(Image.open(download.value.path()).convert("RGB")).astype(int)

    noise = reference.seeded_noise(seed, (1, 3, 32, 32))
    dit = session(model_file(web_workspace, "dit"))
    image = reference.sample(dit, label, steps, cfg, method, noise)
    expected = reference.to_uint8(image[0]).astype(int)
    difference = np.abs(got - expected)
    assert got.shape == expected.shape == (32, 32, 3)
    assert difference.mean() <= 0.5, difference.mean()
    assert (difference > 2).mean() <= 0.01, (difference > 2).mean()
    screenshot(page, f"generate-{method}")


def test_a_long_generation_shows_its_progress_about_ten_times_a_second(site_server, page):
    """The worker reports every step; the page shows the latest at most every 100 ms (a repaint
    per frame cost the runtime's threads 20% of a short generation on 2 cores), so a long
    generation moves and a step does not cost a repaint."""
    open_app(page, site_server.url, "generate")
    page.fill("#steps", "400")  # over 100 ms even at a fraction of a ms a step
    page.select_option("#method", "euler")
    page.evaluate("""() => {
      const status = document.getElementById('gen-status');
      window.shownSteps = [];
      new MutationObserver(() => {
        const step = /^step (\\d+)\\/400/.exec(status.textContent);
        if (step) window.shownSteps.push([performance.now(), Number(step[1])]);
      }).observe(status, { childList: true, characterData: true, subtree: true });
    }""")
    started = page.evaluate("performance.now()")
    page.click("#generate-btn")
    assert wait_state(page, "#gen-status", ("done", "error")) == "done"
    shown = page.evaluate("window.shownSteps")
    total_ms = float(page.eval_on_selector("#gen-status", "e => e.dataset.totalMs"))
    steps = [step for _, step in shown]
    assert steps and all(0 < step < 400 for step in steps), shown  # it moved before the end
    assert steps == sorted(steps), shown
    assert len(steps) <= total_ms / 100 + 1, (len(steps), total_ms)  # not once per step
    gaps = [later - earlier for (earlier, _), (later, _) in zip(shown, shown[1:], strict=False)]
    assert shown[0][0] - started >= 95 and all(gap >= 95 for gap in gaps), (started, shown)


def test_benchmark_page_reports_percentiles(site_server, page):
    open_app(page, site_server.url, "benchmark")
    page.fill("#runs", "8")
    page.click("#bench-btn")
    assert wait_state(page, "#bench-table", ("done", "error")) == "done"
    rows = page.eval_on_selector_all(
        "#bench-rows tr",
        "rows => rows.map(r => Object.fromEntries([...r.cells].map(c => [c.dataset.key, "
        "c.textContent])))",
    )
    assert [row["model"].split()[0] for row in rows] == ["classifier", "generator"]
    for row in rows:
        p50, p95, p99 = (float(row[k]) for k in ("p50", "p95", "p99"))
        assert 0 < p50 <= p95 <= p99 and row["runs"] == "8" and row["size"].endswith("MB")
    assert page.text_content("#bench-backend") == "WASM"
    screenshot(page, "benchmark")


def test_threads_where_the_page_is_cross_origin_isolated_by_headers_or_its_service_worker(
    web_workspace: Path, site_server, page
):
    """Served as the demo prints (web.serve's COOP/COEP headers) the runtime takes a thread per
    core (up to 4) from the first load. Served plain, as GitHub Pages serves it, the site's
    service worker adds the headers and the page reloads once: threads again, and a later visit
    starts isolated (a hard reload, which bypasses the worker, reloads once more). ?isolate=0
    unregisters the worker: one thread, and the models still run. The page says which and
    why."""
    threads = min(4, page.evaluate("navigator.hardwareConcurrency"))
    loads: list[str] = []  # documents loaded (the page's own reload makes two)
    page.on("load", lambda loaded: loads.append(loaded.url))

    def visit(url: str, isolated: bool, controlled: bool, detail: str, loads_: int) -> None:
        """One visit: isolated or not, under the service worker or not, the backend detail
        says ``detail``, and the page loaded ``loads_`` times (2: the worker's one reload)."""
        page.goto("about:blank")  # a new document, not a move within the one shown
        loads.clear()
        open_app(page, url, "benchmark")
        shown = page.text_content("#backend-detail")
        assert detail in shown, shown
        assert page.evaluate("crossOriginIsolated") is isolated, shown
        assert page.evaluate("navigator.serviceWorker.controller !== null") is controlled
        assert len(loads) == loads_, loads

    def benchmark_runs() -> None:
        page.fill("#runs", "4")
        page.click("#bench-btn")
        assert wait_state(page, "#bench-table", ("done", "error")) == "done", page.text_content(
            "#bench-message"
        )

    headers = f"{threads} thread(s) (cross-origin isolated by the server's headers)"
    visit(site_server.url, isolated=True, controlled=False, detail=headers, loads_=1)
    plain = StaticServer(web_workspace / "site", plain=True)
    try:
        worker = f"{threads} thread(s) (cross-origin isolated by the site's service worker)"
        visit(plain.url, isolated=True, controlled=True, detail=worker, loads_=2)
        benchmark_runs()  # the models came through the worker and passed their hash check
        visit(plain.url, isolated=True, controlled=True, detail=worker, loads_=1)
        # A hard reload (Shift+F5) bypasses the worker: the page reloads once more through it.
        loads.clear()
        page.evaluate("delete document.body.dataset.ready")
        page.context.new_cdp_session(page).send("Page.reload", {"ignoreCache": True})
        page.wait_for_function("document.body.dataset.ready === 'true'", timeout=30_000)
        assert page.evaluate("crossOriginIsolated") is True and len(loads) == 2, (
            loads,
            page.text_content("#backend-detail"),
        )
        one = "1 thread(s) (not cross-origin isolated: ?isolate=0)"
        visit(plain.url + "?isolate=0", isolated=False, controlled=False, detail=one, loads_=2)
        assert page.evaluate("navigator.serviceWorker.getRegistrations()") == []
        benchmark_runs()
        visit(plain.url + "?isolate=0", isolated=False, controlled=False, detail=one, loads_=1)
    finally:
        plain.stop()
    assert page.errors == []


def test_a_text_file_and_an_11_mb_file_are_refused(site_server, page, tmp_path: Path):
    open_app(page, site_server.url, "classify")
    text = tmp_path / "notes.txt"
    text.write_text("not a cat\n")
    page.set_input_files("#file", str(text))
    assert wait_state(page, "#classify-result", ("refused",)) == "refused"
    assert "notes.txt is not an image (text/plain)" in page.text_content("#classify-message")
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(11 * 1024 * 1024))
    page.set_input_files("#file", str(big))
    page.wait_for_function("document.getElementById('classify-message').textContent"
                           ".includes('limit is 10 MB')")  # fmt: skip
    assert "big.png is 11.0 MB; the limit is 10 MB" in page.text_content("#classify-message")
    assert page.eval_on_selector_all("#top5 li", "items => items.length") == 0
    assert page.text_content("#classify-latency") == ""  # nothing ran
    screenshot(page, "classify-refused")


def test_models_page_shows_the_card_report_and_versions(site_server, page):
    open_app(page, site_server.url, "models")
    page.wait_for_function("document.getElementById('report-gates').rows.length > 0")
    assert "v1 (latest)" in page.text_content("#version-picker")
    assert "tiny-cats for the browser tests" in page.text_content("#card")
    assert "passed" in page.text_content("#report-summary")
    assert "latency_p50_ms" in page.text_content("#report-metrics")
    page.wait_for_function("document.querySelector('#model-files tr').cells[4].textContent"
                           ".includes('hash checked')")  # fmt: skip
    screenshot(page, "models")


def warm_ups(page: Any) -> dict[str, str]:
    """The models page's warm-up cell of each model, once both have ended."""
    page.wait_for_function(
        "[...document.querySelectorAll('#model-files tr')].every(r => r.cells[5].dataset.state)",
        timeout=60_000,
    )
    return page.eval_on_selector_all(
        "#model-files tr",
        "rows => Object.fromEntries(rows.map(r => [r.dataset.model, r.cells[5].dataset.state + ':'"
        " + (r.cells[5].dataset.runs || '')]))",
    )


def first_classify_ms(page: Any) -> float:
    page.click("#nav-classify")
    page.select_option("#sample", index=0)
    page.click("#sample-btn")
    assert wait_state(page, "#classify-result", ("done", "error")) == "done"
    return float(page.eval_on_selector("#classify-latency", "e => e.dataset.ms"))


def test_models_warm_up_in_the_background_so_the_first_run_is_fast(site_server, browser):
    """Once loaded, each model runs on zeros in the background until V8 has tiered its
    WebAssembly up: a user's first classification then costs what a steady one does, not the
    baseline tier's 60-170 ms. ?warm=0 is the cold page, in a browser context of its own
    (nothing compiled is shared), as the baseline."""
    figures = {}
    for query in ("", "?warm=0"):
        context = browser.new_context()
        try:
            page = context.new_page()
            open_app(page, site_server.url + query, "models")
            states = warm_ups(page)
            if query:
                assert states == {"classifier": "off:", "dit": "off:"}
            else:
                assert states == {"classifier": "done:50", "dit": "done:50"}
                screenshot(page, "models-warmed")
            figures[query or "warm"] = first_classify_ms(page)
        finally:
            context.close()
    print(f"first classification: warmed {figures['warm']:.2f}, cold {figures['?warm=0']:.2f} ms")
    assert figures["warm"] * 3 < figures["?warm=0"], figures


def test_a_broken_model_and_a_changed_model_give_readable_errors(
    web_workspace: Path, page, tmp_path: Path
):
    """Classifier: garbage whose hash the manifest names (a broken file). DiT: changed bytes
    the manifest does not know (a hash mismatch)."""
    import hashlib

    site = Path(shutil.copytree(web_workspace / "site", tmp_path / "site"))
    version = site / "models" / "v1"
    manifest = json.loads((version / "web-manifest.json").read_text())
    broken = b"this is not an ONNX model" * 100
    (version / manifest["models"]["classifier"]["path"]).write_bytes(broken)
    manifest["models"]["classifier"]["sha256"] = hashlib.sha256(broken).hexdigest()
    (version / "web-manifest.json").write_text(json.dumps(manifest))
    dit = version / manifest["models"]["dit"]["path"]
    dit.write_bytes(dit.read_bytes()[:-1] + b"\0")
    server = StaticServer(site)
    try:
        open_app(page, server.url, "classify")
        page.select_option("#sample", index=0)
        page.click("#sample-btn")
        assert wait_state(page, "#classify-result", ("done", "error")) == "error"
        message = page.text_content("#classify-message")
        assert "ONNX Runtime Web cannot load classifier.int8.onnx" in message
        assert "damaged or not an ONNX model" in message
        screenshot(page, "broken-model")
        page.click("#nav-generate")
        page.click("#generate-btn")
        assert wait_state(page, "#gen-status", ("done", "error")) == "error"
        message = page.text_content("#gen-message")
        assert "dit.int8.onnx from" in message and "it is not the published file" in message
        screenshot(page, "hash-mismatch")
    finally:
        server.stop()
    assert page.errors == []
