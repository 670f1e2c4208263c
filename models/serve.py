"""``python -m models serve``: the registry's versions over HTTP, with a live traffic split.

FastAPI on uvicorn, onnxruntime for inference. The server serves one model name of a local
registry (``<registry>/<name>/v1, v2, ...``, as actions/publish.py writes it): the classifier
(``classifier.int8.onnx``) and the DiT's guided step (``dit.int8.onnx``, sampled with the web
page's loop, models/browser.py).

Routing: a *stable* and an optional *candidate* version, and the candidate's percentage of
traffic. A client key (``X-Client-Key``, else the client's address) hashes with the
candidate's name to a bucket in [0, 100): below the percentage means the candidate, so a key
moved to the candidate at 5% stays there at 25%. Each change of the routing starts a new
*epoch*; the statistics are kept per (epoch, version) so a rollout stage judges only its own
window. The routing is persisted (``<state-dir>/routing.json``) and read back at start. A
request takes its version's sessions when it starts and finishes with them, so changing the
routing never drops a request in flight; sessions of loaded versions are kept.

Writes (``PUT /v1/routing``, ``POST /v1/smoke``, a forced ``X-Version``) need the bearer token
of ``--token-file``. Inputs are validated (content type, 10 MB, decode, parameter ranges: 4xx
with ``{"error": ...}``); outputs too (classifier: probabilities finite, in [0, 1], summing to
1; generator: finite, at most half the pixels saturated at the clip): an invalid output
answers 500 and is counted as invalid, not as an error. No traceback reaches a client.
"""

import base64
import hashlib
import hmac
import io
import json
import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from models.errors import ModelsError

MAX_BODY = 10 * 1024 * 1024
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
RESERVOIR = 5000  # latencies kept per (epoch, version)
INPUTS_KEPT = 2000  # drift features of recent inputs
VERSION = re.compile(r"^v(\d+)$")


class ServeError(ModelsError):
    """A request the server refuses: an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class InvalidOutput(Exception):
    """A model output that failed its checks: counted as invalid, answered 500."""

    def __init__(self, version: str, problem: str):
        super().__init__(problem)
        self.version = version


# ------------------------------------------------------------------------------- the versions


@dataclass
class Version:
    """One registry version's loaded sessions."""

    name: str
    classifier: Any
    dit: Any | None
    size: int

    def classify(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, S, S) in [-1, 1] -> probabilities (N, 13)."""
        logits = self.classifier.run(None, {"image": batch.astype(np.float32)})[0]
        z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def registry_versions(folder: Path) -> list[str]:
    """The version folders of a model, oldest first (v2 before v10)."""
    if not folder.is_dir():
        return []
    names = [p.name for p in folder.iterdir() if p.is_dir() and VERSION.match(p.name)]
    return sorted(names, key=lambda n: int(n[1:]))


def load_version(folder: Path, name: str, classifier: str, dit: str) -> Version:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get("GOAP_SERVE_THREADS", "1"))
    options.log_severity_level = 3
    path = folder / name / classifier
    if not path.is_file():
        raise ServeError(409, f"version {name} has no {classifier}")
    try:
        clf = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        dit_path = folder / name / dit
        step = (
            ort.InferenceSession(str(dit_path), options, providers=["CPUExecutionProvider"])
            if dit_path.is_file()
            else None
        )
    except Exception as exc:  # onnxruntime raises its own classes for a broken graph
        raise ServeError(409, f"version {name} does not load: {str(exc)[:200]}") from None
    shape = clf.get_inputs()[0].shape
    size = shape[2] if isinstance(shape[2], int) else 32
    return Version(name, clf, step, size)


# ---------------------------------------------------------------------------------- statistics


@dataclass
class Counts:
    requests: int = 0
    errors: int = 0
    invalid: int = 0
    probes: int = 0
    probe_correct: int = 0
    latencies: deque = field(default_factory=lambda: deque(maxlen=RESERVOIR))

    def document(self) -> dict[str, Any]:
        return {
            "requests": self.requests, "errors": self.errors, "invalid": self.invalid,
            "probes": self.probes, "probe_correct": self.probe_correct,
            **percentiles(self.latencies),
        }  # fmt: skip


def nearest_rank(ordered: list[float], q: float) -> float | None:
    """The ``q`` quantile of sorted values by nearest rank (None for none)."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


def percentiles(values: Any) -> dict[str, float | None]:
    """p50, p95 and p99 of latencies in ms, rounded to the microsecond (the server's windows,
    the load generator's client side and the A/B report use the same)."""
    ordered = sorted(values)
    return {
        f"p{round(q * 100)}_ms": None if (v := nearest_rank(ordered, q)) is None else round(v, 3)
        for q in (0.5, 0.95, 0.99)
    }


@dataclass
class Totals:
    """All-time counters for /metrics, per (version, endpoint)."""

    counts: dict[tuple[str, str], Counts] = field(default_factory=dict)
    seconds: dict[tuple[str, str], float] = field(default_factory=dict)

    def get(self, key: tuple[str, str]) -> Counts:
        return self.counts.setdefault(key, Counts())


# ------------------------------------------------------------------------------------- routing


@dataclass
class Routing:
    stable: str
    candidate: str | None = None
    percent: int = 0
    epoch: int = 1
    changed_at: str = ""

    def pick(self, key: str) -> str:
        if not self.candidate or self.percent <= 0:
            return self.stable
        digest = hashlib.sha256(f"{key}:{self.candidate}".encode()).hexdigest()
        bucket = int(digest[:8], 16) % 10000 / 100
        return self.candidate if bucket < self.percent else self.stable

    def document(self) -> dict[str, Any]:
        return {"stable": self.stable, "candidate": self.candidate, "percent": self.percent,
                "epoch": self.epoch, "changed_at": self.changed_at}  # fmt: skip


class Server:
    """The server's state: versions, routing, statistics; one lock for the small updates."""

    def __init__(self, registry: Path, name: str, state_dir: Path, token: str | None,
                 classifier: str = "classifier.int8.onnx", dit: str = "dit.int8.onnx"):  # fmt: skip
        self.folder = registry / name
        self.name, self.state_dir, self.token = name, state_dir, token
        self.files = (classifier, dit)
        self.lock = threading.Lock()
        self.loaded: dict[str, Version] = {}
        self.windows: dict[tuple[int, str], Counts] = {}
        self.forced: dict[tuple[int, str], Counts] = {}  # X-Version requests, apart
        self.totals = Totals()
        self.inputs: deque = deque(maxlen=INPUTS_KEPT)
        self.routing = self._initial_routing()
        self.version(self.routing.stable)
        if self.routing.candidate:
            self.version(self.routing.candidate)

    def _initial_routing(self) -> Routing:
        saved = _read_json(self.state_dir / "routing.json")
        versions = registry_versions(self.folder)
        if saved and saved.get("stable") in versions:
            # a restart starts a new epoch: the windows counted before it are gone
            candidate = saved.get("candidate") if saved.get("candidate") in versions else None
            percent = int(saved.get("percent", 0)) if candidate else 0
            routing = Routing(
                saved["stable"], candidate, percent, int(saved.get("epoch", 1)) + 1, _now()
            )
            self._persist(routing)
            return routing
        if not versions:
            raise ServeError(500, f"no version of {self.name} in {self.folder}")
        routing = Routing(versions[-1], None, 0, 1, _now())
        self._persist(routing)
        return routing

    def version(self, name: str) -> Version:
        with self.lock:
            if name in self.loaded:
                return self.loaded[name]
        if name not in registry_versions(self.folder):
            raise ServeError(409, f"no version {name} of {self.name} in the registry")
        loaded = load_version(self.folder, name, *self.files)
        with self.lock:
            return self.loaded.setdefault(name, loaded)

    def route(self, stable: str, candidate: str | None, percent: int) -> Routing:
        self.version(stable)  # load before switching: a broken version never gets traffic
        if candidate:
            self.version(candidate)
        with self.lock:
            routing = Routing(stable, candidate, percent if candidate else 0,
                              self.routing.epoch + 1, _now())  # fmt: skip
            self._persist(routing)
            self.routing = routing
            return routing

    def _persist(self, routing: Routing) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        _write_json(self.state_dir / "routing.json", routing.document())

    def choose(self, key: str, forced: str | None) -> tuple[Version, int, bool]:
        with self.lock:
            routing = self.routing
        name = forced or routing.pick(key)
        return self.version(name), routing.epoch, forced is not None

    def count(self, version: str, epoch: int, forced: bool, endpoint: str, outcome: str,
              ms: float, probe: bool | None = None) -> None:  # fmt: skip
        with self.lock:
            window = (self.forced if forced else self.windows).setdefault(
                (epoch, version), Counts()
            )
            total = self.totals.get((version, endpoint))
            for counts in (window, total):
                counts.requests += 1
                counts.errors += outcome == "error"
                counts.invalid += outcome == "invalid"
                if outcome == "ok":
                    counts.latencies.append(ms)
                if probe is not None:
                    counts.probes += 1
                    counts.probe_correct += probe
            key = (version, endpoint)
            self.totals.seconds[key] = self.totals.seconds.get(key, 0.0) + ms / 1000

    def authorized(self, header: str | None) -> None:
        if self.token is None:
            raise ServeError(
                403, "writes are disabled: the server was started without --token-file"
            )
        given = (header or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise ServeError(401, "this call needs the server's token: Authorization: Bearer TOKEN")


# --------------------------------------------------------------------------------- inference


def decode(body: bytes, size: int) -> np.ndarray:
    from models.errors import DatasetError
    from models.pets import load_image

    try:
        return load_image(io.BytesIO(body), size)  # type: ignore[arg-type]
    except DatasetError:
        raise ServeError(400, "the body is not a decodable image (JPEG, PNG or WebP)") from None


def valid_probabilities(p: np.ndarray) -> bool:
    return bool(np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()
                and np.allclose(p.sum(axis=-1), 1, atol=1e-3))  # fmt: skip


def generate_image(version: Version, label: int, steps: int, cfg: float, seed: int,
                   sampler: Literal["euler", "heun"]) -> np.ndarray:  # fmt: skip
    from models.browser import sample, seeded_noise

    if version.dit is None:
        raise ServeError(409, f"version {version.name} has no generator")
    size = version.dit.get_inputs()[0].shape[2]
    size = size if isinstance(size, int) else version.size
    noise = seeded_noise(seed, (1, 3, size, size))
    return sample(version.dit, label, steps, cfg, sampler, noise)


def valid_image(x: np.ndarray) -> bool:
    """Finite, and at most half the pixels at the sampler's clip (a diverged loop saturates)."""
    return bool(np.isfinite(x).all() and (np.abs(x) >= 0.999).mean() <= 0.5)


def smoke(version: Version, budget_ms: float) -> list[dict[str, Any]]:
    """The seed's five smoke checks on a loaded version."""
    rng = np.random.default_rng(0)
    batch = rng.uniform(-1, 1, (4, 3, version.size, version.size)).astype(np.float32)
    checks = [{"name": "load", "passed": True, "detail": f"{version.name}: {version.size}px"}]
    try:
        probs = version.classify(batch[:1])
        checks.append(
            {"name": "inference", "passed": probs.shape == (1, 13), "detail": str(probs.shape)}
        )
        checks.append({"name": "output_validity", "passed": valid_probabilities(probs),
                       "detail": "probabilities finite, in [0, 1], summing to 1"})  # fmt: skip
        whole = version.classify(batch)
        singles = np.concatenate([version.classify(batch[i : i + 1]) for i in range(4)])
        # int8 graphs quantize activations per batch: the same breeds, probabilities close
        diff = float(np.abs(whole - singles).max())
        same = bool((whole.argmax(1) == singles.argmax(1)).all())
        checks.append({"name": "batch", "passed": same and diff < 0.05,
                       "detail": f"batch of 4 vs one at a time: same top-1 {same}, "
                                 f"max probability diff {diff:.2e}"})  # fmt: skip
        times = []
        for _ in range(20):
            start = time.perf_counter()
            version.classify(batch[:1])
            times.append((time.perf_counter() - start) * 1000)
        p95 = sorted(times)[int(0.95 * len(times))]
        checks.append({"name": "latency", "passed": p95 <= budget_ms,
                       "detail": f"p95 {p95:.2f} ms (budget {budget_ms:g} ms)"})  # fmt: skip
    except Exception as exc:  # a graph that fails at run time fails the check, not the server
        checks.append({"name": "inference", "passed": False, "detail": str(exc)[:200]})
    return checks


# ------------------------------------------------------------------------------------ the app


def build_app(server: Server) -> Any:
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, PlainTextResponse
    from pydantic import BaseModel, ConfigDict, Field
    from starlette.concurrency import run_in_threadpool

    from models.drift import FEATURES, image_features
    from models.errors import DatasetError
    from models.pets import BREEDS, breed_index

    app = FastAPI(title=f"goap model server: {server.name}", docs_url=None, redoc_url=None)

    @app.exception_handler(ServeError)
    async def refused(request: Request, exc: ServeError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
        return JSONResponse({"error": f"{where}: {first['msg']}"}, status_code=422)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)

    @app.exception_handler(InvalidOutput)
    async def invalid_output(request: Request, exc: InvalidOutput) -> JSONResponse:
        body = {"error": f"invalid output: {exc}", "version": exc.version}
        return JSONResponse(body, status_code=500, headers={"X-Model-Version": exc.version})

    async def infer(
        version: Version,
        epoch: int,
        forced: bool,
        endpoint: str,
        fn: Any,
        *args: Any,
        valid: Any,
        problem: str,
    ) -> tuple[Any, float]:
        """``fn(*args)`` on a worker thread, timed: a failure counts as the version's error,
        an output ``valid`` refuses as its invalid output (both answered 500)."""
        start = time.perf_counter()
        try:
            out = await run_in_threadpool(fn, *args)
        except ServeError:
            raise
        except Exception:
            server.count(version.name, epoch, forced, endpoint, "error", 0)
            raise ServeError(500, f"version {version.name} failed to run") from None
        ms = (time.perf_counter() - start) * 1000
        if not valid(out):
            server.count(version.name, epoch, forced, endpoint, "invalid", ms)
            raise InvalidOutput(version.name, problem)
        return out, ms

    def bounded(size: int, what: str = "body") -> None:
        if size > MAX_BODY:
            raise ServeError(413, f"the {what} is over {MAX_BODY // 1024 // 1024} MB")

    def declared(request: Request) -> None:
        """Refuse a body whose Content-Length is already too big, before reading any of it."""
        length = request.headers.get("content-length")
        if length and length.isdigit():
            bounded(int(length))

    async def body_of(request: Request) -> bytes:
        declared(request)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            bounded(size)
            chunks.append(chunk)
        return b"".join(chunks)

    def forced_version(request: Request) -> str | None:
        forced = request.headers.get("x-version")
        if forced:
            server.authorized(request.headers.get("authorization"))
        return forced

    def client_key(request: Request) -> str:
        return request.headers.get("x-client-key") or (
            request.client.host if request.client else ""
        )

    @app.get("/health")
    def health() -> dict[str, Any]:
        with server.lock:
            loaded = sorted(server.loaded, key=lambda n: int(n[1:]))
            return {
                "status": "ok",
                "name": server.name,
                **server.routing.document(),
                "loaded": loaded,
            }

    @app.get("/v1/versions")
    def versions() -> dict[str, Any]:
        found = registry_versions(server.folder)
        files = {v: sorted(p.name for p in (server.folder / v).iterdir()) for v in found}
        return {"versions": [{"version": v, "files": files[v]} for v in found]}

    @app.post("/v1/classify")
    async def classify(request: Request) -> JSONResponse:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in (*IMAGE_TYPES, "multipart/form-data"):
            raise ServeError(
                415, f"Content-Type {kind or 'none'} is not an image: send {', '.join(IMAGE_TYPES)}"
            )
        forced = forced_version(request)
        if kind == "multipart/form-data":
            declared(request)
            form = await request.form(max_files=1)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ServeError(400, "multipart/form-data needs a file field named 'file'")
            body = await upload.read(MAX_BODY + 1)
            bounded(len(body), "file")
        else:
            body = await body_of(request)
        label = request.headers.get("x-probe-label")
        truth = None
        if label is not None:
            try:
                truth = int(label) if label.isdigit() else breed_index(label)
            except DatasetError:
                raise ServeError(
                    400, f"X-Probe-Label {label[:40]!r} is not a breed name or index"
                ) from None
            if not 0 <= truth < len(BREEDS):
                raise ServeError(400, f"X-Probe-Label {truth} is out of range 0-{len(BREEDS) - 1}")
        version, epoch, is_forced = server.choose(client_key(request), forced)
        pixels = await run_in_threadpool(decode, body, version.size)
        probs, ms = await infer(
            version, epoch, is_forced, "classify", lambda x: version.classify(x)[0],
            _tensor(pixels), valid=valid_probabilities,
            problem="probabilities not finite, in [0, 1] and summing to 1",
        )  # fmt: skip
        top = np.argsort(-probs)[:5]
        correct = None if truth is None else int(top[0]) == truth
        server.count(version.name, epoch, is_forced, "classify", "ok", ms, correct)
        if not is_forced:
            with server.lock:
                server.inputs.append((epoch, image_features(pixels).tolist()))
        answer = {
            "version": version.name,
            "top5": [
                {"label": BREEDS[i], "index": int(i), "probability": round(float(probs[i]), 6)}
                for i in top
            ],
            "latency_ms": round(ms, 3),
        }
        return JSONResponse(answer, headers={"X-Model-Version": version.name})

    class GenerateRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        breed: str | int = Field(description="Breed name or class index")
        steps: int = Field(10, ge=1, le=100)
        cfg_scale: float = Field(4.0, ge=0, le=20, allow_inf_nan=False)
        seed: int = Field(0, ge=0, le=2**31 - 1)
        sampler: Literal["euler", "heun"] = "euler"

    @app.post("/v1/generate")
    async def generate(request: Request, job: GenerateRequest) -> JSONResponse:
        try:
            label = job.breed if isinstance(job.breed, int) else breed_index(job.breed)
        except DatasetError as exc:
            raise ServeError(422, f"breed: {exc}") from None
        if not 0 <= label < len(BREEDS):
            raise ServeError(422, f"breed: index {label} is out of range 0-{len(BREEDS) - 1}")
        version, epoch, is_forced = server.choose(client_key(request), forced_version(request))
        image, ms = await infer(
            version, epoch, is_forced, "generate", generate_image,
            version, label, job.steps, job.cfg_scale, job.seed, job.sampler,
            valid=valid_image, problem="the image is not finite or saturated",
        )  # fmt: skip
        server.count(version.name, epoch, is_forced, "generate", "ok", ms)
        png = _png(image[0])
        answer = {"version": version.name, "image_png_base64": png, "latency_ms": round(ms, 3)}
        return JSONResponse(answer, headers={"X-Model-Version": version.name})

    class RoutingRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        stable: str = Field(pattern=r"^v\d+$")
        candidate: str | None = Field(None, pattern=r"^v\d+$")
        percent: int = Field(0, ge=0, le=100)

    @app.put("/v1/routing")
    async def set_routing(request: Request, change: RoutingRequest) -> dict[str, Any]:
        server.authorized(request.headers.get("authorization"))
        routing = await run_in_threadpool(
            server.route, change.stable, change.candidate, change.percent
        )
        return routing.document()

    @app.get("/v1/stats")
    def stats(epoch: int | None = None) -> dict[str, Any]:
        with server.lock:
            routing = server.routing
            chosen = routing.epoch if epoch is None else epoch
            windows = {v: c.document() for (e, v), c in server.windows.items() if e == chosen}
            forced = {v: c.document() for (e, v), c in server.forced.items() if e == chosen}
        split = {
            "stable": routing.stable,
            "candidate": routing.candidate,
            "percent": routing.percent,
        }
        return {"epoch": chosen, **split, "versions": windows, "forced": forced}

    class SmokeRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        version: str = Field(pattern=r"^v\d+$")
        latency_p95_ms: float = Field(100.0, gt=0, allow_inf_nan=False)

    @app.post("/v1/smoke")
    async def smoke_test(request: Request, job: SmokeRequest) -> dict[str, Any]:
        server.authorized(request.headers.get("authorization"))
        try:
            version = await run_in_threadpool(server.version, job.version)
        except ServeError as exc:
            checks = [{"name": "load", "passed": False, "detail": str(exc)}]
            return {"version": job.version, "passed": False, "checks": checks}
        checks = await run_in_threadpool(smoke, version, job.latency_p95_ms)
        return {
            "version": job.version,
            "passed": all(c["passed"] for c in checks),
            "checks": checks,
        }

    @app.get("/v1/inputs")
    def inputs(epoch: int | None = None, limit: int = INPUTS_KEPT) -> dict[str, Any]:
        with server.lock:
            rows = [row for e, row in server.inputs if epoch is None or e >= epoch]
        rows = rows[-max(0, limit) :]
        return {"features": list(FEATURES), "rows": rows, "count": len(rows)}

    @app.get("/metrics")
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(prometheus(server), media_type="text/plain; version=0.0.4")

    return app


def prometheus(server: Server) -> str:
    """The Prometheus text exposition format (0.0.4) of the all-time counters."""
    lines = []
    with server.lock:
        items = sorted(server.totals.counts.items())
        seconds = dict(server.totals.seconds)
        routing = server.routing
    for metric, kind, help_text, attr in (
        ("goap_serve_requests_total", "counter", "Requests answered.", "requests"),
        ("goap_serve_errors_total", "counter", "Requests the version failed.", "errors"),
        ("goap_serve_invalid_outputs_total", "counter", "Outputs that failed checks.", "invalid"),
        ("goap_serve_probe_total", "counter", "Labelled probe requests.", "probes"),
        ("goap_serve_probe_correct_total", "counter", "Probes answered right.", "probe_correct"),
    ):  # fmt: skip
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} {kind}"]
        lines += [
            f'{metric}{{version="{v}",endpoint="{e}"}} {getattr(c, attr)}' for (v, e), c in items
        ]
    lines += [
        "# HELP goap_serve_latency_seconds Inference latency.",
        "# TYPE goap_serve_latency_seconds summary",
    ]
    for (v, e), c in items:
        labels = f'version="{v}",endpoint="{e}"'
        ordered = sorted(c.latencies)
        for q in (0.5, 0.95, 0.99):
            value = nearest_rank(ordered, q)
            value = float("nan") if value is None else value / 1000
            lines.append(f'goap_serve_latency_seconds{{{labels},quantile="{q}"}} {value:.6g}')
        lines.append(f"goap_serve_latency_seconds_sum{{{labels}}} {seconds.get((v, e), 0):.6g}")
        lines.append(f"goap_serve_latency_seconds_count{{{labels}}} {c.requests}")
    lines += [
        "# HELP goap_serve_traffic_percent Share of routed traffic.",
        "# TYPE goap_serve_traffic_percent gauge",
    ]
    shares = {routing.stable: 100 - routing.percent} | (
        {routing.candidate: routing.percent} if routing.candidate else {}
    )
    lines += [f'goap_serve_traffic_percent{{version="{v}"}} {p}' for v, p in shares.items()]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------- helpers


def _tensor(pixels: np.ndarray) -> np.ndarray:
    return (pixels.astype(np.float32) / np.float32(127.5) - 1).transpose(2, 0, 1)[None]


def _png(image: np.ndarray) -> str:
    from PIL import Image

    from models.browser import to_uint8

    buffer = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomic and link-safe: a new file under a random name, renamed over ``path``."""
    partial = path.with_name(f".{path.name}.{os.urandom(6).hex()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    os.replace(partial, path)


def read_token(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)  # a planted link is refused
    with os.fdopen(fd, encoding="utf-8") as handle:
        token = handle.read().strip()
    if not token:
        raise ServeError(500, f"{path} is empty: write a token into it")
    return token


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run(registry: Path, name: str, host: str, port: int, state_dir: Path, token_file: Path | None,
        ready_file: Path | None, classifier: str, dit: str) -> None:  # fmt: skip
    """Start the server; write the ready file once the socket is bound; SIGTERM stops it."""
    import socket

    import uvicorn

    token = read_token(token_file) if token_file else None
    server = Server(registry, name, state_dir, token, classifier, dit)
    app = build_app(server)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # inherited by every accepted connection: without it a keep-alive response written in two
    # parts waits for the client's delayed ACK, 40 ms a request (measured: 44 ms -> 5 ms)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, timeout_graceful_shutdown=10
    )
    http = uvicorn.Server(config)
    if ready_file:
        url = f"http://{host}:{bound}"

        def announce() -> None:
            while not http.started:
                time.sleep(0.02)
            registry_path = str(server.folder.resolve())
            _write_json(
                ready_file,
                {"url": url, "port": bound, "pid": os.getpid(), "registry": registry_path},
            )

        threading.Thread(target=announce, daemon=True).start()
    http.run(sockets=[sock])
