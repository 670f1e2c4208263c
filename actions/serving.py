"""Serving the published models: start the server, smoke-test, roll out in stages, roll back.

The server is ``python -m models serve`` (models/serve.py): it serves the local registry's
versions and splits traffic between a *stable* and a *candidate* version by a percentage that
changes while it runs. These executors drive it over HTTP, and :func:`serving_status`, the
sensor, reads the world back from it, so a rollout is a GOAP route, not an if in an executor:

    start_server -> load_candidate -> smoke_test_candidate -> rollout_stage 5, 25, 50, 100
                 -> promote_candidate                    (the candidate becomes the stable one)
    a failed smoke test or stage -> candidate_regressed -> rollback_candidate

A stage sets the candidate's share, waits for a window of real requests (``[serving] traffic
= "local"`` drives them itself with the bounded load generator of models/loadgen.py, as the
demo and the tests do; ``"live"`` waits for the requests users send) and passes only when the
candidate's error rate, invalid-output rate, p95 latency and probe accuracy stay within the
margins (:class:`Margins`) of the stable version's in the same window (at 100% nothing is
routed to the stable version: local traffic then sends as many requests forced to it beside
the routed ones; live traffic compares with its window of the 50% stage). Each verdict is written
to the serving folder's ``verdicts.json`` before the action ends; the sensor's
``rollout_percent`` is the highest stage that *passed* for the current candidate, so a runner
killed in the middle of a stage re-runs that stage after ``--resume`` with a fresh window.

Files (``[serving] state_dir``, default ``.goap/serve`` in the workdir): ``ready.json`` (url
and pid, written by the server), ``routing.json`` (the server's persisted split), ``token``
(the write token, mode 0600, never in facts or logs), ``verdicts.json``, ``server.log``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import Field

from actions.config import GoapConfig, load_config
from actions.contract import ExecutorArgs, FiniteFloat, InWorkdir, WorkdirArgs
from actions.pipeline import now, read_json, relative, write_json
from actions.process import tail
from actions.publish import version_history
from goap.executor import ActionFailed, facts, progress

STAGES = (5, 25, 50, 100)
READY_FILE = "ready.json"
TOKEN_FILE = "token"
VERDICTS_FILE = "verdicts.json"
LOG_FILE = "server.log"
HTTP_TIMEOUT = 30.0
LOOPBACK = ("127.0.0.1", "localhost", "::1")  # where S01's server listens, and calls go


class Margins(ExecutorArgs):
    """How much worse than the stable version a candidate may be in a stage's window."""

    error_rate: FiniteFloat = Field(
        0.02, ge=0, le=1, description="Candidate error rate at most stable's + this (absolute)."
    )
    invalid_rate: FiniteFloat = Field(
        0.01, ge=0, le=1, description="Candidate invalid-output rate at most stable's + this."
    )
    p95_ratio: FiniteFloat = Field(
        1.5, ge=1, description="Candidate p95 latency at most stable's times this ..."
    )
    p95_slack_ms: FiniteFloat = Field(
        5.0, ge=0, description="... plus this many ms (tiny models' latencies are noisy)."
    )
    accuracy_drop: FiniteFloat = Field(
        0.1, ge=0, le=1, description="Candidate probe accuracy at least stable's - this, ..."
    )
    accuracy_alpha: FiniteFloat = Field(
        0.01,
        gt=0,
        lt=1,
        description="... unless Fisher's exact test (one-sided) finds the "
        "drop not significant at this level (small windows are noisy).",
    )
    min_probes: int = Field(
        20, ge=1, description="Probe accuracy is compared only with this many probes each."
    )


class ServingArgs(WorkdirArgs):
    name: str = Field(
        "tiny-cats",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Model name in the local registry ([registry] path).",
    )


class SmokeArgs(ServingArgs):
    latency_p95_ms: FiniteFloat = Field(
        100.0, gt=0, description="Smoke test's latency check: p95 of single runs within this."
    )


class StageArgs(ServingArgs):
    percent: int = Field(ge=1, le=100, description="The candidate's share of traffic.")
    min_requests: int = Field(
        30, ge=1, description="Requests the candidate must answer in the stage's window."
    )
    max_requests: int = Field(
        4000, ge=1, description="Local traffic: at most this many requests to fill the window."
    )
    margins: Margins = Field(default_factory=Margins, description="Pass margins.")


class DriftArgs(ServingArgs):
    data_root: InWorkdir = Field(
        "data/pets", description="The training data (Oxford-IIIT Pet layout): the reference."
    )
    image_size: int = Field(32, ge=8, description="The classifier's input size.")


class PromoteArgs(ServingArgs):
    ab_requests: int = Field(
        200, ge=10, description="A/B report: labelled probe requests sent to both versions."
    )


# ----------------------------------------------------------------------------------- settings


class Serving:
    """Where this workdir's server lives and how to talk to it (``[serving]`` of goap.toml)."""

    def __init__(self, workdir: Path, name: str):
        self.config: GoapConfig = load_config(workdir)
        self.settings = self.config.serving
        self.workdir, self.name = workdir, name
        self.folder = self.config.path(self.settings.state_dir)
        self.registry = self.config.path(self.config.registry.path)

    def ready(self) -> dict[str, Any] | None:
        """The running server's url and pid, or None when none is running. A ready file
        copied with a workspace names another workspace's server: its pid lives, but it
        serves another registry, so it is not this workspace's server."""
        data = read_json(self.folder / READY_FILE)
        if not data or not isinstance(data.get("pid"), int) or not _alive(data["pid"]):
            return None
        if data.get("registry") != str((self.registry / self.name).resolve()):
            return None
        return data

    def token(self) -> str:
        path = self.folder / TOKEN_FILE
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, encoding="utf-8") as handle:
            return handle.read().strip()

    def new_token(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / TOKEN_FILE
        path.unlink(missing_ok=True)  # a planted link is removed, never written through
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(24))

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One HTTP call to the running server (``body`` sent as JSON); a refused call is
        an ActionFailed. The server is always this machine's (S01 binds 127.0.0.1), so the
        call is plain http.client: no TLS context, no client library, which a sensor forked
        after every step would otherwise build each time (about 0.1 s of CPU a call)."""
        ready = self.ready()
        if ready is None:
            raise ActionFailed(
                f"the model server is not running (no live {self.folder}/ready.json)"
            )
        url = urllib.parse.urlsplit(ready["url"])
        if url.scheme != "http" or url.hostname not in LOOPBACK:
            raise ActionFailed(
                f"{self.folder}/ready.json: {ready['url']!r} is not this machine's server "
                "(http://127.0.0.1:PORT); the token goes nowhere else: start it with S01"
            )
        headers = {"Accept": "application/json"}
        if method != "GET":
            headers["Authorization"] = f"Bearer {self.token()}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=HTTP_TIMEOUT)
        try:
            connection.request(method, path, body=data, headers=headers)
            reply = connection.getresponse()
            status, text = reply.status, reply.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            raise ActionFailed(f"model server at {ready['url']}: {exc}") from exc
        finally:
            connection.close()
        try:
            answer = json.loads(text)
        except ValueError:
            answer = {"error": text[:200]}
        if not isinstance(answer, dict):
            answer = {"error": text[:200]}
        if status >= 400:
            raise ActionFailed(
                f"model server: {method} {path} answered {status}: {answer.get('error', answer)}"
            )
        return answer

    def health(self) -> dict[str, Any] | None:
        """``/health`` of this workdir's server, or None when none answers (for sensors)."""
        try:
            return self.call("GET", "/health")
        except ActionFailed:
            return None

    def trained_for(self, version: str) -> dict[str, Any] | None:
        """The exposure map a published version's classifier was trained for (its validation
        report, published with it), or None: trained on the data as it is."""
        report = read_json(self.registry / self.name / version / "validation_report.json") or {}
        exposure = report.get("models", {}).get("classifier", {}).get("exposure")
        return exposure if isinstance(exposure, dict) else None

    def latest(self) -> str | None:
        versions = version_history(self.workdir, self.name) if self.registry.is_dir() else []
        return versions[-1]["version"] if versions else None

    # verdicts: what the stages found, per version, written before an action ends

    def verdicts(self) -> dict[str, Any]:
        return read_json(self.folder / VERDICTS_FILE) or {}

    def record(self, version: str, **changes: Any) -> dict[str, Any]:
        verdicts = self.verdicts()
        entry = verdicts.setdefault(version, {"stages": {}})
        for key, value in changes.items():
            if key == "stage":
                entry["stages"][str(value["percent"])] = value
            else:
                entry[key] = value
        write_json(self.folder / VERDICTS_FILE, verdicts)
        return entry


# ------------------------------------------------------------------------------------- sensor


@facts(
    "up",
    "stable",
    "candidate",
    "latest",
    "traffic_percent",
    "serving_latest",
    "candidate_loaded",
    "smoke_passed",
    "rollout_percent",
    "regressed",
    "rejected",
    note="up false: every other fact is left out except latest, rejected and serving_latest.",
)
def serving_status(args: ServingArgs) -> dict[str, Any]:
    """The serving world as the server and the verdicts say it is (the runner's sensor)."""
    serving = Serving(args.workdir, args.name)
    latest = serving.latest()
    verdict = serving.verdicts().get(latest or "", {})
    rejected = verdict.get("rejected", False)
    health = serving.health()
    if health is None:
        return {"up": False, "latest": latest or "", "serving_latest": False, "rejected": rejected}
    candidate = health.get("candidate") or ""
    current = bool(candidate) and candidate == latest
    passed = [int(p) for p, s in verdict.get("stages", {}).items() if s.get("passed")]
    reached = max([p for p in passed if p <= health.get("percent", 0)], default=0)
    return {
        "up": True,
        "stable": health.get("stable") or "",
        "candidate": candidate,
        "latest": latest or "",
        "traffic_percent": health.get("percent", 0),
        "serving_latest": latest is not None and health.get("stable") == latest and not candidate,
        "candidate_loaded": current,
        "smoke_passed": current and verdict.get("smoke", {}).get("passed", False),
        "rollout_percent": reached if current else 0,
        "regressed": current and verdict.get("regressed", False),
        "rejected": rejected,
    }


@facts("drift", "samples", "reason", "drifted", "report")
def drift_status(args: DriftArgs) -> dict[str, Any]:
    """Input drift since the stable version went live: the server's recent classify inputs
    against the training data (models.drift: KS and PSI per feature). No server, or fewer
    inputs than models.drift.MIN_SAMPLES: drift false (nothing to judge)."""
    from models.drift import compare, compose, dataset_profile

    serving = Serving(args.workdir, args.name)
    health = serving.health()
    if health is None:
        return {"drift": False, "samples": 0, "reason": "no server"}
    since = serving.verdicts().get(health["stable"], {}).get("promoted_epoch", 1)
    recent = serving.call("GET", f"/v1/inputs?epoch={since}")
    data = args.workdir / args.data_root
    # a version retrained for drift was made for the training data under its map: that is the
    # reference its inputs are judged against (else every later window would drift again)
    made_for = serving.trained_for(health["stable"])
    key = hashlib.sha256(
        f"{data.resolve()}:{args.image_size}:{json.dumps(made_for)}".encode()
    ).hexdigest()[:12]
    cache = serving.folder / f"reference-{key}.json"
    reference = read_json(cache)
    if reference is None:
        if not (data / "annotations").is_dir():
            return {
                "drift": False,
                "samples": recent["count"],
                "reason": f"no training data at {args.data_root}",
            }
        reference = dataset_profile(data, args.image_size, exposure=made_for)
        write_json(cache, reference)
    report = compare(reference["rows"], recent["rows"])
    if "exposure" in report:  # relative to the reference: as a map of the raw training data
        report["exposure"] = compose(made_for, report["exposure"])
    target = serving.folder / "drift_report.json"
    write_json(target, {**report, "since_epoch": since, "stable": health["stable"],
                        "reference_exposure": made_for})  # fmt: skip
    return {
        "drift": report["drift"], "samples": report["samples"], "reason": report["reason"],
        "drifted": ", ".join(report["drifted"]), "report": relative(args.workdir, target),
    }  # fmt: skip


# ---------------------------------------------------------------------------------- executors


@facts("url", "stable", "started", "pid")
def start_server(args: ServingArgs) -> dict[str, Any]:
    """Start the model server (detached: it outlives the run) or find the one running."""
    serving = Serving(args.workdir, args.name)
    ready = serving.ready()
    if ready is not None:
        health = serving.call("GET", "/health")
        return {
            "url": ready["url"],
            "stable": health["stable"],
            "started": False,
            "pid": ready["pid"],
        }
    if serving.latest() is None:
        raise ActionFailed(
            f"nothing to serve: no published version of {args.name} in {serving.registry}"
        )
    serving.new_token()
    (serving.folder / READY_FILE).unlink(missing_ok=True)
    settings = serving.settings
    argv = [
        sys.executable, "-m", "models", "serve",
        "--registry", str(serving.registry), "--name", args.name,
        "--host", settings.host, "--port", str(settings.port),
        "--state-dir", str(serving.folder),
        "--token-file", str(serving.folder / TOKEN_FILE),
        "--ready-file", str(serving.folder / READY_FILE),
    ]  # fmt: skip
    log = os.open(
        serving.folder / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644
    )
    # a service, meant to outlive the run: without goap's process marks (goap.running.orphans
    # ends every marked process an action leaves behind) and in a session of its own
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOAP_")}
    try:
        proc = subprocess.Popen(
            argv, cwd=args.workdir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True,  # the run's Ctrl-C and its process group never reach it
        )  # fmt: skip
    finally:
        os.close(log)
    deadline = time.monotonic() + settings.start_timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ActionFailed(
                f"the model server exited with {proc.returncode} while starting; see "
                f"{serving.folder / LOG_FILE}: {_log_tail(serving.folder / LOG_FILE)}"
            )
        ready = serving.ready()
        if ready is not None:
            health = serving.call("GET", "/health")
            progress(message=f"serving {health['stable']} at {ready['url']}")
            return {
                "url": ready["url"],
                "stable": health["stable"],
                "started": True,
                "pid": proc.pid,
            }
        time.sleep(0.1)
    proc.terminate()
    raise ActionFailed(
        f"the model server did not get ready in {settings.start_timeout_s:g} s; "
        f"see {serving.folder / LOG_FILE}"
    )


@facts("stopped", "pid")
def stop_server(args: ServingArgs) -> dict[str, Any]:
    """Stop the model server (SIGTERM, then SIGKILL after 10 s)."""
    ready = Serving(args.workdir, args.name).ready()
    if ready is None:
        return {"stopped": False}
    os.kill(ready["pid"], signal.SIGTERM)
    for _ in range(100):
        if not _alive(ready["pid"]):
            return {"stopped": True, "pid": ready["pid"]}
        time.sleep(0.1)
    os.kill(ready["pid"], signal.SIGKILL)
    return {"stopped": True, "pid": ready["pid"]}


@facts("stable", "candidate", "epoch")
def load_candidate(args: ServingArgs) -> dict[str, Any]:
    """Make the registry's latest version the candidate at 0% (loaded before it gets traffic)."""
    serving = Serving(args.workdir, args.name)
    latest = serving.latest()
    health = serving.call("GET", "/health")
    if latest is None or latest == health["stable"]:
        raise ActionFailed(
            f"no new version to roll out: the server's stable version is {health['stable']}"
        )
    if serving.verdicts().get(latest, {}).get("rejected"):
        raise ActionFailed(f"{latest} was rolled back before; publish a new version to roll out")
    routing = serving.call(
        "PUT", "/v1/routing", body={"stable": health["stable"], "candidate": latest, "percent": 0}
    )
    serving.record(latest, stages={}, smoke={}, regressed=False, loaded_at=now())
    return {
        "stable": routing["stable"],
        "candidate": routing["candidate"],
        "epoch": routing["epoch"],
    }


@facts("candidate", "passed", "regressed", "failed_checks")
def smoke_test_candidate(args: SmokeArgs) -> dict[str, Any]:
    """The seed's five smoke checks (load, inference, output validity, batch, latency)."""
    serving = Serving(args.workdir, args.name)
    candidate, _ = _candidate(serving)
    report = serving.call(
        "POST", "/v1/smoke", body={"version": candidate, "latency_p95_ms": args.latency_p95_ms}
    )
    failed = [c["name"] for c in report["checks"] if not c["passed"]]
    serving.record(
        candidate, smoke={"passed": report["passed"], "checks": report["checks"], "at": now()}
    )
    if not report["passed"]:
        serving.record(candidate, regressed=True, reason=f"smoke test failed: {', '.join(failed)}")
    return {
        "candidate": candidate,
        "passed": report["passed"],
        "regressed": not report["passed"],
        "failed_checks": ", ".join(failed),
    }


@facts("candidate", "percent", "passed", "regressed", "requests", "reasons")
def rollout_stage(args: StageArgs) -> dict[str, Any]:
    """Give the candidate ``percent`` of traffic, wait for a window, compare with stable."""
    serving = Serving(args.workdir, args.name)
    candidate, health = _candidate(serving)
    routing = serving.call(
        "PUT", "/v1/routing",
        body={"stable": health["stable"], "candidate": candidate, "percent": args.percent},
    )  # fmt: skip
    epoch = routing["epoch"]
    # nothing is routed to the stable version at 100%: local traffic measures it in the same
    # window by requests forced to it (X-Version, counted apart from the routed ones), so both
    # see the same load; live traffic falls back on the stable's window of the last stage
    shadow = (
        health["stable"] if args.percent == 100 and serving.settings.traffic == "local" else None
    )
    stats = _fill_window(serving, args, epoch, candidate, shadow)
    versions = stats["versions"]
    cand = versions.get(candidate, {})
    if args.percent < 100:
        base = versions.get(health["stable"], {})
    elif shadow:
        base = stats["forced"].get(shadow, {})
    else:
        base = _last_baseline(serving.verdicts().get(candidate, {}))
    reasons = _regressions(cand, base, args.margins)
    passed = not reasons
    serving.record(
        candidate,
        stage={"percent": args.percent, "passed": passed, "epoch": epoch, "at": now(),
               "candidate": cand, "stable": base, "reasons": reasons},
    )  # fmt: skip
    if not passed:
        serving.record(
            candidate, regressed=True, reason=f"{args.percent}% stage: {'; '.join(reasons)}"
        )
    return {
        "candidate": candidate, "percent": args.percent, "passed": passed,
        "regressed": not passed, "requests": cand.get("requests", 0), "reasons": "; ".join(reasons),
    }  # fmt: skip


@facts("stable", "previous", "ab_report", "ab_p_value", "accuracy_candidate", "accuracy_stable")
def promote_candidate(args: PromoteArgs) -> dict[str, Any]:
    """After the 100% stage: an A/B report on the same probe requests, then the candidate
    becomes the stable version (it already answers all routed traffic)."""
    serving = Serving(args.workdir, args.name)
    candidate, health = _candidate(serving)
    verdict = serving.verdicts().get(candidate, {})
    if not verdict.get("stages", {}).get("100", {}).get("passed"):
        raise ActionFailed(f"{candidate} has not passed the 100% stage; it cannot be promoted")
    previous = health["stable"]
    report = ab_report(serving, previous, candidate, args.ab_requests)
    routing = serving.call(
        "PUT", "/v1/routing", body={"stable": candidate, "candidate": None, "percent": 0}
    )
    serving.record(candidate, promoted_at=now(), promoted_epoch=routing["epoch"], ab=report["file"])
    return {
        "stable": routing["stable"], "previous": previous, "ab_report": report["file"],
        "ab_p_value": report["accuracy_test"]["p_value"],
        "accuracy_candidate": report["accuracy"][candidate],
        "accuracy_stable": report["accuracy"][previous],
    }  # fmt: skip


@facts("stable", "rolled_back", "reason")
def rollback_candidate(args: ServingArgs) -> dict[str, Any]:
    """Send all traffic back to the stable version and mark the candidate rejected."""
    serving = Serving(args.workdir, args.name)
    candidate, health = _candidate(serving)
    serving.call(
        "PUT", "/v1/routing", body={"stable": health["stable"], "candidate": None, "percent": 0}
    )
    verdict = serving.record(candidate, rejected=True, rolled_back_at=now())
    return {
        "stable": health["stable"],
        "rolled_back": candidate,
        "reason": verdict.get("reason", ""),
    }


# ----------------------------------------------------------------------------------- helpers


def _candidate(serving: Serving) -> tuple[str, dict[str, Any]]:
    """The server's candidate version, and the ``/health`` that named it."""
    health = serving.call("GET", "/health")
    if not health.get("candidate"):
        raise ActionFailed("the model server has no candidate version; load one first")
    return health["candidate"], health


def _fill_window(
    serving: Serving, args: StageArgs, epoch: int, candidate: str, shadow: str | None = None
) -> dict[str, Any]:
    """Wait until the candidate answered ``min_requests`` routed requests in this epoch; with
    ``shadow``, local traffic sends as many requests forced to that version at the same time."""
    settings = serving.settings
    deadline = time.monotonic() + settings.window_timeout_s
    sent = 0
    while True:
        stats = serving.call("GET", f"/v1/stats?epoch={epoch}")
        done = stats["versions"].get(candidate, {}).get("requests", 0)
        shown = f"{args.percent}% stage: {done}/{args.min_requests} candidate requests"
        progress(step=min(done, args.min_requests), total=args.min_requests, message=shown)
        if done >= args.min_requests:
            return stats
        if time.monotonic() > deadline:
            raise ActionFailed(
                f"{args.percent}% stage: only {done} of {args.min_requests} candidate requests "
                f"in {settings.window_timeout_s:g} s; the window is not full, nothing was decided"
            )
        if settings.traffic == "live":
            time.sleep(1.0)
            continue
        if sent >= args.max_requests:
            raise ActionFailed(
                f"{args.percent}% stage: {sent} local requests gave the candidate only {done}; "
                f"raise max_requests or the share"
            )
        batch = min(
            args.max_requests - sent,
            max(50, int((args.min_requests - done) * 100 / args.percent * 1.2)),
        )
        if shadow is None:
            _drive(serving, batch)
        else:  # the two streams side by side, each at the configured concurrency
            token = serving.token()
            with ThreadPoolExecutor(2) as pool:
                both = [pool.submit(_drive, serving, batch),
                        pool.submit(_drive, serving, batch, token, shadow)]  # fmt: skip
                for future in both:
                    future.result()
        sent += batch


def _drive(
    serving: Serving, requests: int, token: str | None = None, version: str | None = None
) -> dict[str, Any]:
    from models.loadgen import drive

    settings = serving.settings
    url = serving.ready()["url"]
    return drive(
        url, serving.workdir / settings.traffic_data, requests=requests,
        concurrency=settings.traffic_concurrency, clients=settings.traffic_clients,
        shift=settings.traffic_shift, split=settings.traffic_split, seed=int(time.time()) % 1000,
        token=token, version=version,
    )  # fmt: skip


def _regressions(cand: dict[str, Any], base: dict[str, Any], m: Margins) -> list[str]:
    """Why the candidate is worse than the stable version beyond the margins (empty: it is not)."""
    if not base or not base.get("requests"):
        return ["no stable traffic to compare with"]
    reasons = []
    rate = lambda s, k: s.get(k, 0) / max(s.get("requests", 0), 1)  # noqa: E731
    if rate(cand, "errors") > rate(base, "errors") + m.error_rate:
        reasons.append(
            f"error rate {rate(cand, 'errors'):.3f} vs stable {rate(base, 'errors'):.3f}"
        )
    if rate(cand, "invalid") > rate(base, "invalid") + m.invalid_rate:
        reasons.append(
            f"invalid outputs {rate(cand, 'invalid'):.3f} vs stable {rate(base, 'invalid'):.3f}"
        )
    c95, b95 = cand.get("p95_ms"), base.get("p95_ms")
    if c95 is not None and b95 is not None and c95 > b95 * m.p95_ratio + m.p95_slack_ms:
        reasons.append(f"p95 latency {c95:.1f} ms vs stable {b95:.1f} ms")
    if min(cand.get("probes", 0), base.get("probes", 0)) >= m.min_probes:
        ca = cand["probe_correct"] / cand["probes"]
        ba = base["probe_correct"] / base["probes"]
        if ca < ba - m.accuracy_drop:
            from scipy.stats import fisher_exact

            table = [[cand["probe_correct"], cand["probes"] - cand["probe_correct"]],
                     [base["probe_correct"], base["probes"] - base["probe_correct"]]]  # fmt: skip
            p = float(fisher_exact(table, alternative="less").pvalue)
            if p < m.accuracy_alpha:
                reasons.append(f"probe accuracy {ca:.3f} vs stable {ba:.3f} (Fisher p={p:.2g})")
    return reasons


def _last_baseline(verdict: dict[str, Any]) -> dict[str, Any]:
    stages = [
        s
        for p, s in sorted(verdict.get("stages", {}).items(), key=lambda i: int(i[0]))
        if int(p) < 100
    ]
    return stages[-1]["stable"] if stages else {}


def ab_report(serving: Serving, stable: str, candidate: str, n: int) -> dict[str, Any]:
    """The two versions on the same labelled probe requests: accuracy with an exact McNemar
    test on the paired outcomes, latency with a Mann-Whitney U test. Kept in the registry."""
    import httpx
    from scipy.stats import binomtest, mannwhitneyu

    from models.pets import read_annotations
    from models.serve import percentiles

    records = read_annotations(
        serving.workdir / serving.settings.traffic_data, serving.settings.traffic_split
    )[:n]
    if not records:
        raise ActionFailed("A/B report: no labelled probe images in the traffic data's split")
    url, token = serving.ready()["url"], serving.token()
    correct: dict[str, list[bool]] = {stable: [], candidate: []}
    latency: dict[str, list[float]] = {stable: [], candidate: []}
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        for record in records:
            body = record.path.read_bytes()
            for version in (stable, candidate):
                reply = client.post(
                    url + "/v1/classify", content=body,
                    headers={"Content-Type": "image/jpeg", "X-Version": version,
                             "Authorization": f"Bearer {token}"},
                )  # fmt: skip
                ok = reply.status_code == 200
                answer = reply.json() if ok else {}
                correct[version].append(ok and answer["top5"][0]["index"] == record.label)
                latency[version].append(
                    answer.get("latency_ms", float("nan")) if ok else float("nan")
                )
    b = sum(s and not c for s, c in zip(correct[stable], correct[candidate], strict=True))
    c = sum(c and not s for s, c in zip(correct[stable], correct[candidate], strict=True))
    mcnemar = binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    finite = {v: [x for x in latency[v] if x == x] for v in latency}
    mwu = mannwhitneyu(finite[candidate], finite[stable]).pvalue if all(finite.values()) else 1.0
    report = {
        "stable": stable, "candidate": candidate, "requests": len(records), "at": now(),
        "accuracy": {v: round(sum(x) / len(x), 4) for v, x in correct.items()},
        "accuracy_test": {"test": "exact McNemar (binomial on discordant pairs)",
                          "stable_only_correct": b, "candidate_only_correct": c,
                          "p_value": round(float(mcnemar), 6)},
        "latency_p50_ms": {v: percentiles(x)["p50_ms"] for v, x in finite.items()},
        "latency_p95_ms": {v: percentiles(x)["p95_ms"] for v, x in finite.items()},
        "latency_test": {"test": "Mann-Whitney U, two-sided", "p_value": round(float(mwu), 6)},
    }  # fmt: skip
    target = serving.registry / serving.name / candidate / "ab" / f"vs-{stable}.json"
    write_json(target, report)
    return {**report, "file": relative(serving.workdir, target)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not a server
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return True


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return tail(text, lines).replace("\n", " | ")
