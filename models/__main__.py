"""Command line: python -m models {make-data, train, sample, evaluate, export, presets, ...}.

The subcommands: make-data, train, sample, evaluate, export, presets, serve, load.

Every subcommand prints a short summary, or one JSON object with --json. Bad input (a missing
file, a malformed dataset, an invalid setting) ends with "error: ..." on stderr and exit code 2,
no traceback (set MODELS_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from models.errors import ModelsError


def _emit(args: argparse.Namespace, summary: dict[str, Any], lines: list[str]) -> None:
    if args.json:
        print(json.dumps({"ok": True, **summary}, default=str))
    else:
        print("\n".join(lines))


def cmd_make_data(args: argparse.Namespace) -> None:
    from models.pets import BREEDS, make_synthetic_pets

    root = make_synthetic_pets(args.root, args.per_class, args.size, args.seed, args.test_fraction)
    images = len(list((root / "images").glob("*.jpg")))
    summary = {"root": str(root), "images": images, "classes": list(BREEDS)}
    _emit(args, summary, [f"wrote {images} images ({len(BREEDS)} classes) under {root}"])


def _train_config(args: argparse.Namespace) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise ModelsError(f"{path}: config file not found")
        try:
            config = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ModelsError(f"{path}: not valid JSON ({e})") from None
    flags = {
        "data_root": args.data, "out_dir": args.out, "steps": args.steps,
        "batch_size": args.batch_size, "grad_accum": args.grad_accum, "lr": args.lr,
        "warmup_steps": args.warmup_steps, "preset": args.preset, "seed": args.seed,
        "image_size": args.image_size, "augment": args.augment, "every": args.every,
        "stop_after": args.stop_after, "device": args.device,
        "checkpoint_every": args.checkpoint_every,
    }  # fmt: skip
    config.update({k: v for k, v in flags.items() if v is not None})
    if args.no_resume:
        config["resume"] = False
    if args.json:
        config.setdefault("progress", False)
    return config


def cmd_train(args: argparse.Namespace) -> None:
    from models.modal_app import call

    name = "train_classifier" if args.model == "classifier" else "train_dit"
    result = call(name, _train_config(args), backend=args.backend)
    lines = [
        f"{args.model}: step {result['step']}/{result['steps']}, loss {result['final_loss']}",
        f"checkpoint: {result['checkpoint']}",
        f"metrics:    {result['metrics']}",
    ]
    lines += [f"{k}: {v}" for k, v in result["final_metrics"].items()]
    if result["dropped_images"]:
        lines.append(f"warning: {result['dropped_images']} unreadable images were left out")
    _emit(args, result, lines)


def cmd_sample(args: argparse.Namespace) -> None:
    from models.modal_app import call
    from models.pets import BREEDS, labels_of

    labels = labels_of(args.breed) if args.breed else list(range(len(BREEDS)))
    labels = [label for label in labels for _ in range(args.per_breed)]
    if args.backend == "local":  # fail early with a clear message when the file is wrong
        from models.checkpoint import read_checkpoint

        read_checkpoint(args.checkpoint, "dit")
    result = call(
        "sample", str(args.checkpoint), labels, str(args.out), args.steps, args.cfg_scale,
        args.seed, args.method, backend=args.backend,
    )  # fmt: skip
    _emit(args, result, [f"wrote {result['images']} samples to {result['png']}"])


def cmd_evaluate(args: argparse.Namespace) -> None:
    from models.evaluate import evaluate_classifier, evaluate_generator

    if args.model == "classifier":
        report = evaluate_classifier(args.checkpoint, args.data, args.split, args.report)
        lines = [f"accuracy {report['accuracy']:.4f} on {report['images']} {args.split} images"]
    else:
        report = evaluate_generator(
            args.checkpoint, args.classifier, args.data, args.out, args.samples_per_class,
            args.steps, args.cfg_scale, args.method, args.seed,
        )  # fmt: skip
        lines = [
            f"recognised as the requested breed: {report['share_cfg']:.3f} with CFG "
            f"{report['cfg_scale']}, {report['share_no_cfg']:.3f} without, chance "
            f"{report['chance']:.3f}",
            f"Frechet distance (classifier features): {report['fd_cfg']:.3f} with CFG, "
            f"{report['fd_no_cfg']:.3f} without",
            f"report: {Path(args.out) / 'report.json'}",
        ]
    _emit(args, report, lines)


def cmd_export(args: argparse.Namespace) -> None:
    from models.export import export_onnx, export_safetensors

    fmt = args.format or ("safetensors" if str(args.out).endswith(".safetensors") else "onnx")
    path = (export_onnx if fmt == "onnx" else export_safetensors)(args.checkpoint, args.out)
    _emit(args, {"path": str(path), "format": fmt}, [f"wrote {path}"])


def cmd_presets(args: argparse.Namespace) -> None:
    import torch

    from models.classifier import CLASSIFIER_PRESETS, build_classifier
    from models.dit import PRESETS, build, count_parameters

    rows = {}
    with torch.device("meta"):
        for name, cfg in PRESETS.items():
            rows[f"dit/{name}"] = {"parameters": count_parameters(build(name)), **cfg.__dict__}
        for name in CLASSIFIER_PRESETS:
            rows[f"classifier/{name}"] = {"parameters": count_parameters(build_classifier(name))}
    lines = [f"{k:28s} {v['parameters']:>12,d}" for k, v in rows.items()]
    _emit(args, {"presets": rows}, lines)


def cmd_serve(args: argparse.Namespace) -> None:
    from models.serve import run

    run(args.registry, args.name, args.host, args.port, args.state_dir, args.token_file,
        args.ready_file, args.classifier, args.dit)  # fmt: skip


def cmd_load(args: argparse.Namespace) -> None:
    from models.loadgen import drive

    summary = drive(args.url, args.data, args.requests, args.concurrency, args.clients,
                    args.shift, args.split, args.seed, progress=not args.json)  # fmt: skip
    lines = [f"{summary['requests']} requests in {summary['seconds']:.2f} s: "
             f"{summary['rps']:.1f}/s, p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms, "
             f"errors {summary['errors']}", f"versions: {summary['versions']}"]  # fmt: skip
    _emit(args, summary, lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m models", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def add(name: str, fn, help: str) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help, description=help)
        s.add_argument("--json", action="store_true", help="print one JSON object")
        s.set_defaults(fn=fn)
        return s

    s = add("make-data", cmd_make_data, "write a synthetic Oxford-IIIT Pet dataset")
    s.add_argument("root", type=Path)
    s.add_argument("--per-class", type=int, default=60)
    s.add_argument("--size", type=int, default=128)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--test-fraction", type=float, default=0.3)

    s = add("train", cmd_train, "train the classifier or the DiT")
    s.add_argument("model", choices=["classifier", "dit"])
    s.add_argument("--data", type=str, help="dataset root (Oxford-IIIT Pet layout)")
    s.add_argument("--out", type=str, help="output directory (checkpoint, metrics, samples)")
    s.add_argument("--config", type=str, help="JSON file with config fields; flags override")
    for flag, kind in [
        ("--steps", int), ("--batch-size", int), ("--grad-accum", int), ("--lr", float),
        ("--warmup-steps", int), ("--preset", str), ("--seed", int), ("--image-size", int),
        ("--every", int), ("--stop-after", int), ("--device", str), ("--checkpoint-every", int),
    ]:  # fmt: skip
        s.add_argument(flag, type=kind)
    s.add_argument("--augment", choices=["none", "basic", "full"])
    s.add_argument(
        "--no-resume", action="store_true", help="start over even if a checkpoint exists"
    )
    s.add_argument("--backend", choices=["local", "modal"], default="local")

    s = add("sample", cmd_sample, "draw samples from a DiT checkpoint into a PNG grid")
    s.add_argument("checkpoint", type=Path)
    s.add_argument("--out", type=Path, required=True, help="PNG file")
    s.add_argument("--breed", action="append", help="breed name or index (repeat); default all")
    s.add_argument("--per-breed", type=int, default=1)
    s.add_argument("--steps", type=int, default=50)
    s.add_argument("--cfg-scale", type=float, default=4.0)
    s.add_argument("--method", choices=["euler", "heun"], default="euler")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--backend", choices=["local", "modal"], default="local")

    s = add("evaluate", cmd_evaluate, "evaluate a classifier or a generator")
    s.add_argument("model", choices=["classifier", "generator"])
    s.add_argument("checkpoint", type=Path, help="classifier or DiT checkpoint")
    s.add_argument("--data", type=Path, required=True)
    s.add_argument("--classifier", type=Path, help="(generator) classifier checkpoint to judge")
    s.add_argument("--out", type=Path, default=Path("eval"), help="(generator) report directory")
    s.add_argument("--split", choices=["trainval", "test"], default="test")
    s.add_argument("--report", type=Path, help="(classifier) JSON report path")
    s.add_argument("--samples-per-class", type=int, default=16)
    s.add_argument("--steps", type=int, default=25)
    s.add_argument("--cfg-scale", type=float, default=4.0)
    s.add_argument("--method", choices=["euler", "heun"], default="euler")
    s.add_argument("--seed", type=int, default=0)

    s = add("export", cmd_export, "export a checkpoint to ONNX or safetensors")
    s.add_argument("checkpoint", type=Path)
    s.add_argument("out", type=Path)
    s.add_argument("--format", choices=["onnx", "safetensors"])

    add("presets", cmd_presets, "list the model presets and their parameter counts")

    s = add("serve", cmd_serve, "serve a registry's versions over HTTP (stable/candidate split)")
    s.add_argument("--registry", type=Path, required=True, help="registry folder (<name>/vN/)")
    s.add_argument("--name", required=True, help="model name in the registry")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080, help="0: a free port (see --ready-file)")
    s.add_argument("--state-dir", type=Path, required=True, help="where routing.json is kept")
    s.add_argument("--token-file", type=Path, help="bearer token of writes; none: no writes")
    s.add_argument("--ready-file", type=Path, help="written with url, port, pid once bound")
    s.add_argument("--classifier", default="classifier.int8.onnx")
    s.add_argument("--dit", default="dit.int8.onnx")

    s = add("load", cmd_load, "a bounded load test: N labelled classify requests, K at once")
    s.add_argument("--url", required=True)
    s.add_argument("--data", type=Path, required=True, help="dataset root (labelled images)")
    s.add_argument("--split", choices=["trainval", "test"], default="test")
    s.add_argument("--requests", type=int, default=200)
    s.add_argument("--concurrency", type=int, default=4)
    s.add_argument("--clients", type=int, default=50, help="distinct X-Client-Key values")
    s.add_argument("--shift", type=float, default=0.0, help="input shift (drift), -1..1")
    s.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "evaluate" and args.model == "generator" and args.classifier is None:
        return _fail(args, "evaluate generator needs --classifier CHECKPOINT")
    try:
        args.fn(args)
    except (ModelsError, ValidationError, ValueError, KeyError, OSError) as e:
        if os.environ.get("MODELS_DEBUG"):
            raise
        return _fail(args, _message(e))
    return 0


def _message(e: Exception) -> str:
    if isinstance(e, ValidationError):
        return "invalid settings: " + "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'config'}: {err['msg']}" for err in e.errors()
        )
    if isinstance(e, KeyError):
        return str(e.args[0]) if e.args else repr(e)
    return str(e)


def _fail(args: argparse.Namespace, message: str) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"ok": False, "error": message}))
    print(f"error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
