"""Why the DiT graph is exported as it is: ops and export forms in the browser's WASM kernels
against onnxruntime-Python, same CPU, one thread each (the page is not cross-origin isolated).

models.export writes LayerNorm as plain ops and uses opset 20's Gelu because ONNX Runtime Web's
WASM build vectorises some kernels (Add, Mul, Div, Sqrt, ReduceMean) and not others
(LayerNormalization, Tanh, Exp, Softmax). This measures that on small graphs at the demo DiT's
shapes (40 ops in a chain), and then the whole guided step of a tiny DiT (random weights,
int8 as the pipeline quantizes it) in each export form, so the choice can be checked again
when onnxruntime-web changes. Baseline: onnxruntime-Python on the same file, in the same run.
Each figure is the median of 5 blocks of 100 runs after 2 s of warm-up (V8 tiers WebAssembly
up in the background).

    python -m bench.web_ops [--json] [--out FILE]     (needs web/node_modules: npm ci in web/)
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bench.web import CHROMIUM, cpu_model, serve

ROOT = Path(__file__).resolve().parent.parent
ORT_DIST = ROOT / "web" / "node_modules" / "onnxruntime-web" / "dist"
CHAIN = 40  # ops per single-op graph
TOKENS = [2, 64, 96]  # the demo DiT's (2N, tokens, width) at N = 1 (CFG doubles the batch)
MLP = [2, 64, 384]
ATTENTION = [2, 4, 64, 64]  # (2N, heads, tokens, tokens)
SHAPES = {"tokens": TOKENS, "mlp": MLP, "attention": ATTENTION}

PAGE = """<!doctype html><html><body><script type="module">
import * as ort from "./ort.wasm.min.mjs";
ort.env.wasm.wasmPaths = { wasm: new URL("./ort-wasm-simd-threaded.wasm", location.href).href };
ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";
const typed = { float32: Float32Array, int64: BigInt64Array };
window.time = async (file, feeds) => {
  const bytes = new Uint8Array(await (await fetch(file)).arrayBuffer());
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"],
                                                             graphOptimizationLevel: "all" });
  const inputs = {};
  for (const [name, [type, shape, values]] of Object.entries(feeds)) {
    const data = type === "int64" ? BigInt64Array.from(values, BigInt) : Float32Array.from(values);
    inputs[name] = new ort.Tensor(type, data, shape);
  }
  const warm = performance.now() + 2000;
  while (performance.now() < warm) await session.run(inputs);
  const blocks = [];
  for (let b = 0; b < 5; b++) {
    const started = performance.now();
    for (let i = 0; i < 100; i++) await session.run(inputs);
    blocks.push((performance.now() - started) / 100);
  }
  await session.release();
  return blocks.sort((a, b) => a - b)[2];
};
window.ready = true;
</script></body></html>"""


def chain(path: Path, op: str, shape: list[int], opset: int = 17, **attrs: Any) -> Path:
    """x -> op -> op -> ... (CHAIN times). Add and Mul take a per-channel constant (as the
    DiT's modulation does); LayerNormalization its scale and bias."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def constant(name: str, value: float, dims: list[int]) -> Any:
        return numpy_helper.from_array(np.full(dims, value, np.float32), name)

    extra, inits = [], []
    if op in ("Add", "Mul"):
        extra, inits = ["c"], [constant("c", 1.0 if op == "Mul" else 0.01, [1, 1, shape[-1]])]
    if op == "LayerNormalization":
        extra = ["scale", "bias"]
        inits = [constant("scale", 1.0, [shape[-1]]), constant("bias", 0.0, [shape[-1]])]
    nodes = [
        helper.make_node(op, [f"v{i}" if i else "x", *extra], [f"v{i + 1}"], **attrs)
        for i in range(CHAIN)
    ]
    graph = helper.make_graph(
        nodes,
        op,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(f"v{CHAIN}", TensorProto.FLOAT, shape)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def plain_layer_norms(path: Path) -> Path:
    """The LayerNormalization chain as models.export writes it (a torch export of it)."""
    import torch

    from models.export import write_onnx

    class Norms(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norms = torch.nn.ModuleList(
                torch.nn.LayerNorm(TOKENS[-1], elementwise_affine=False, eps=1e-6)
                for _ in range(CHAIN)
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for norm in self.norms:
                x = norm(x)
            return x

    return write_onnx(Norms().eval(), (torch.zeros(TOKENS),), path, ["x"], [f"v{CHAIN}"])


def dit_forms(folder: Path) -> dict[str, Path]:
    """A tiny DiT's guided step, int8, in the four export forms: opset 17 or 20 (one Gelu op),
    torch's LayerNorm or plain ops; models.export's is opset 20 with plain ops, and the
    pipeline exported opset 17 with LayerNormalization before 2026-12-03."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from models import export
    from models.dit import build

    torch.manual_seed(0)
    step = export.guided_step(build("tiny"))
    for p in step.parameters():  # leave adaLN-Zero's zero start so the step does real work
        p.data.add_(torch.randn_like(p) * 0.02)
    example = (torch.zeros(2, 3, 32, 32), torch.full((2,), 0.5),
               torch.zeros(2, dtype=torch.long), torch.full((2,), 4.0))  # fmt: skip
    names = list(export.DIT_INPUTS)
    forms = {"DiT opset 17, LayerNormalization": (17, False),
             "DiT opset 17, plain LayerNorm": (17, True),
             "DiT opset 20, LayerNormalization": (20, False),
             "DiT opset 20, plain LayerNorm (shipped)": (20, True)}  # fmt: skip
    paths = {}
    for i, (name, (opset, plain)) in enumerate(forms.items()):
        fp32 = folder / f"dit{i}.onnx"
        export.write_onnx(step, example, fp32, names, ["velocity"], opset, plain_norms=plain)
        paths[name] = folder / f"dit{i}.int8.onnx"
        quantize_dynamic(str(fp32), str(paths[name]), weight_type=QuantType.QUInt8,
                         op_types_to_quantize=["MatMul", "Gemm", "Conv"])  # fmt: skip
    return paths


def feeds_of(kind: str) -> dict[str, tuple[str, list[int], list[float]]]:
    rng = np.random.default_rng(0)
    if kind == "dit":
        x = rng.standard_normal(3 * 32 * 32).round(4).tolist()
        return {"x": ("float32", [1, 3, 32, 32], x), "t": ("float32", [1], [0.5]),
                "y": ("int64", [1], [1]), "cfg_scale": ("float32", [1], [4.0])}  # fmt: skip
    shape = SHAPES[kind]
    return {"x": ("float32", shape, rng.standard_normal(int(np.prod(shape))).round(4).tolist())}


def python_ms(path: Path, feeds: dict[str, tuple[str, list[int], list[float]]]) -> float:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inputs = {n: np.array(v, np.int64 if t == "int64" else np.float32).reshape(s)
              for n, (t, s, v) in feeds.items()}  # fmt: skip
    warm = time.perf_counter() + 0.5
    while time.perf_counter() < warm:
        session.run(None, inputs)
    blocks = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(100):
            session.run(None, inputs)
        blocks.append((time.perf_counter() - started) / 100 * 1000)
    return statistics.median(blocks)


def cases(folder: Path) -> list[tuple[str, str, Path]]:
    """(name, feeds kind, graph) of everything measured, in the table's order."""
    ops = [
        ("Add (broadcast of 96)", "tokens", chain(folder / "add.onnx", "Add", TOKENS)),
        ("Mul", "tokens", chain(folder / "mul.onnx", "Mul", TOKENS)),
        ("LayerNormalization", "tokens",
         chain(folder / "ln.onnx", "LayerNormalization", TOKENS, axis=-1, epsilon=1e-6)),
        ("LayerNorm as plain ops (shipped)", "tokens", plain_layer_norms(folder / "plain.onnx")),
        ("Tanh", "mlp", chain(folder / "tanh.onnx", "Tanh", MLP)),
        ("Gelu, opset 20 (shipped)", "mlp",
         chain(folder / "gelu.onnx", "Gelu", MLP, opset=20, approximate="tanh")),
        ("Sigmoid", "mlp", chain(folder / "sigmoid.onnx", "Sigmoid", MLP)),
        ("Softmax", "attention", chain(folder / "softmax.onnx", "Softmax", ATTENTION, axis=-1)),
    ]  # fmt: skip
    return [*ops, *((name, "dit", path) for name, path in dit_forms(folder).items())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chromium", default=CHROMIUM)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not (ORT_DIST / "ort.wasm.min.mjs").is_file():
        raise SystemExit(f"{ORT_DIST} has no onnxruntime-web: run `npm ci` in web/ first")
    if not Path(args.chromium).is_file():
        raise SystemExit(f"no Chromium at {args.chromium}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in ("ort.wasm.min.mjs", *(f"ort-wasm-simd-threaded.{e}" for e in ("mjs", "wasm"))):
            shutil.copy(ORT_DIST / name, folder / name)
        (folder / "index.html").write_text(PAGE)
        print("building the graphs …", flush=True)
        logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic's pre-processing advice
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracing
            measured = cases(folder)
        server, url = serve(folder, isolated=False)
        try:
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=args.chromium,
                                                 args=["--no-sandbox"])  # fmt: skip
                page = browser.new_page()
                page.goto(url)
                page.wait_for_function("window.ready === true")
                for name, kind, path in measured:
                    feeds = feeds_of(kind)
                    web = page.evaluate("([f, d]) => time(f, d)", [path.name, feeds])
                    python = python_ms(path, feeds)
                    rows.append({"case": name, "python_ms": python, "browser_ms": web,
                                 "ratio": web / python})  # fmt: skip
                    print(f"  {name}: python {python:.3f} ms, browser {web:.3f} ms", flush=True)
                chromium = browser.version
                browser.close()
        finally:
            server.shutdown()
    result = {"date": date.today().isoformat(), "machine": cpu_model(), "chromium": chromium,
              "chain": CHAIN, "rows": rows}  # fmt: skip
    lines = [
        f"bench.web_ops {result['date']} ({result['machine']}), Chromium {chromium} headless, "
        "ONNX Runtime Web WASM 1 thread; baseline onnxruntime-Python 1 thread, same files",
        f"single-op graphs: {CHAIN} ops in a chain on {TOKENS} (tokens), {MLP} (MLP) or "
        f"{ATTENTION} (attention); "
        "DiT: one guided step of a tiny DiT, int8",
        f"{'':40s} {'python ms':>10s} {'browser ms':>11s} {'ratio':>7s}",
        *(f"{r['case']:40s} {r['python_ms']:10.3f} {r['browser_ms']:11.3f} {r['ratio']:6.2f}x"
          for r in rows),
    ]  # fmt: skip
    text = "\n".join(lines)
    if args.out:
        args.out.write_text(text + "\n")
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2) if args.json else text)


if __name__ == "__main__":
    main()
