// The inference worker: ONNX Runtime Web runs here so the page never blocks. It picks WebGPU
// when the browser has an adapter, else WASM; fetches each model (the Hub first when one is
// configured, else or on failure the site's own copy), checks its SHA-256 against the
// manifest, and runs classification, the sampling loop and the benchmark.

import type * as Ort from "onnxruntime-web";
import type { ModelName } from "./manifest";
import type { ModelSource, Reply, Request, Warmed, Warmup } from "./protocol";
import { type Method, sample } from "./sampler";
import { seededNoise } from "./noise";

interface WorkerScope {
  postMessage(message: Reply, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  location: { href: string };
}
const scope = self as unknown as WorkerScope;

let ort: typeof Ort | null = null;
let provider: "webgpu" | "wasm" = "wasm";
const sessions = new Map<ModelName, Ort.InferenceSession>();

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function pickBackend(force: "wasm" | null, isolation: string): Promise<[string, string]> {
  let reason = "forced by ?backend=wasm";
  if (force === null) {
    reason = "this browser has no WebGPU";
    const gpu = navigator.gpu;
    if (gpu !== undefined) {
      const adapter = await gpu.requestAdapter().catch(() => null);
      if (adapter !== null) {
        ort = await import("onnxruntime-web/webgpu");
        provider = "webgpu";
        configure(ort, "ort-wasm-simd-threaded.asyncify.wasm");
        return ["WebGPU", "a WebGPU adapter was found"];
      }
      reason = "WebGPU is present but no adapter is available";
    }
  }
  ort = await import("onnxruntime-web/wasm");
  provider = "wasm";
  configure(ort, "ort-wasm-simd-threaded.wasm");
  const threads = ort.env.wasm.numThreads ?? 1;
  return ["WASM", `${reason}; ${threads} thread(s) (${isolation}), SIMD`];
}

function isolated(): boolean {
  return (self as unknown as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

function configure(runtime: typeof Ort, wasm: string): void {
  // Only the .wasm binary is fetched (from ort/); the JavaScript glue is in the bundle.
  runtime.env.wasm.wasmPaths = { wasm: new URL(`./ort/${wasm}`, scope.location.href).href };
  // Threads need a cross-origin-isolated page (COOP/COEP headers: `python -m web.serve`
  // sends them; where a server does not, as GitHub Pages, the site's service worker adds
  // them: isolation.ts). Isolated, the runtime takes one thread per core up to 4 (its own
  // default is half the cores, one on a 2-core machine, where two measured faster:
  // bench/web.py); else one. The page states which.
  runtime.env.wasm.numThreads = isolated() ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  runtime.env.logLevel = "error";
}

async function fetchChecked(source: ModelSource): Promise<[Uint8Array, "hub" | "local"]> {
  const name = source.file.path;
  const tries: ["hub" | "local", string][] = [];
  if (source.hubUrl !== null) tries.push(["hub", source.hubUrl]);
  tries.push(["local", source.localUrl]);
  const failures: string[] = [];
  for (const [from, url] of tries) {
    let response: Response;
    try {
      response = await fetch(url);
    } catch (error) {
      failures.push(`${url}: ${String(error)}`);
      continue;
    }
    if (!response.ok) {
      failures.push(`${url}: HTTP ${response.status}`);
      continue;
    }
    const bytes = await response.arrayBuffer();
    const digest = hex(await crypto.subtle.digest("SHA-256", bytes));
    if (digest !== source.file.sha256) {
      throw new Error(
        `${name} from ${url} has SHA-256 ${digest.slice(0, 12)}…, but the manifest says ` +
          `${source.file.sha256.slice(0, 12)}…: it is not the published file; deploy the site again`,
      );
    }
    return [new Uint8Array(bytes), from];
  }
  throw new Error(`cannot fetch ${name}: ${failures.join("; ")}`);
}

async function load(model: ModelName, source: ModelSource): Promise<[number, "hub" | "local"]> {
  if (ort === null) throw new Error("the worker was not initialised");
  const [bytes, from] = await fetchChecked(source);
  try {
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: [provider],
      graphOptimizationLevel: "all",
    });
    sessions.set(model, session);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    if (detail.includes("no available backend")) {
      throw new Error(`ONNX Runtime Web could not start its ${provider} backend: ${detail.slice(0, 300)}`);
    }
    throw new Error(
      `ONNX Runtime Web cannot load ${source.file.path} (${detail.slice(0, 300)}); ` +
        "the file is damaged or not an ONNX model: publish and deploy it again",
    );
  }
  return [bytes.length, from];
}

function session(model: ModelName): Ort.InferenceSession {
  const found = sessions.get(model);
  if (found === undefined) throw new Error(`the ${model} model is not loaded`);
  return found;
}

// One session run at a time, in the order asked: a background warm-up and a user's request
// never run a session at once (an ONNX Runtime Web session is not re-entrant), and a user's
// run waits at most for the one warm-up run in flight.
let queue: Promise<unknown> = Promise.resolve();

function exclusive<T>(run: () => Promise<T>): Promise<T> {
  const next = queue.then(run);
  queue = next.catch(() => undefined);
  return next;
}

async function run(model: ModelName, feeds: Ort.InferenceSession.FeedsType): Promise<[Ort.InferenceSession.ReturnType, number]> {
  return exclusive(async () => {
    const started = performance.now();
    const out = await session(model).run(feeds);
    return [out, performance.now() - started];
  });
}

async function classify(pixels: Float32Array, size: number): Promise<[Float32Array, number]> {
  const runtime = ort as typeof Ort;
  const image = new runtime.Tensor("float32", pixels, [1, 3, size, size]);
  const [out, ms] = await run("classifier", { image });
  return [new Float32Array(out.logits.data as Float32Array), ms];
}

function stepFeeds(x: Float32Array, t: number, label: number, cfgScale: number, size: number) {
  const runtime = ort as typeof Ort;
  return {
    x: new runtime.Tensor("float32", x, [1, 3, size, size]),
    t: new runtime.Tensor("float32", Float32Array.of(t), [1]),
    y: new runtime.Tensor("int64", BigInt64Array.of(BigInt(label)), [1]),
    cfg_scale: new runtime.Tensor("float32", Float32Array.of(cfgScale), [1]),
  };
}

async function velocity(x: Float32Array, t: number, label: number, cfg: number, size: number) {
  const [out] = await run("dit", stepFeeds(x, t, label, cfg, size));
  return new Float32Array(out.velocity.data as Float32Array);
}

async function generate(
  id: number,
  request: { label: number; steps: number; cfgScale: number; method: Method; seed: number; size: number },
): Promise<Reply> {
  const { label, steps, cfgScale, method, seed, size } = request;
  const noise = seededNoise(seed, 3 * size * size);
  const stepMs: number[] = [];
  const started = performance.now();
  const image = await sample(
    (x, t) => velocity(x, t, label, cfgScale, size),
    noise,
    steps,
    method,
    (step, total, ms) => {
      stepMs.push(ms);
      scope.postMessage({ id, type: "progress", step, steps: total, stepMs: ms });
    },
  );
  return { id, type: "generated", image, totalMs: performance.now() - started, stepMs };
}

// V8 first runs WebAssembly in its baseline compiler (Liftoff) and recompiles hot functions
// with its optimizing one (TurboFan) in the background: the first seconds of ONNX Runtime Web
// run several times slower than its steady state (measured: the classifier 4 ms at first, 1 ms
// once tiered up). Native onnxruntime has no such phase, so the benchmark warms up until the
// runs stop getting faster (two blocks of at least 500 ms in a row whose medians do not beat
// the best block by 10%: functions tier up one by one, so one flat block is not the end), at
// least 3 s (on a loaded machine the recompilation waits for a core) and at most 20 s, and
// reports the first run and the warm-up beside the figures.
const WARMUP_MIN_MS = 3000;
const WARMUP_MAX_MS = 20000;
const WARMUP_BLOCK_MS = 500;

async function timed(once: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await once();
  return performance.now() - started;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function warmUp(once: () => Promise<unknown>): Promise<Warmup> {
  const started = performance.now();
  const firstMs = await timed(once);
  let runs = 1;
  let best = Number.POSITIVE_INFINITY;
  let flat = 0;
  for (;;) {
    const block: number[] = [];
    const blockStarted = performance.now();
    while (block.length < 3 || performance.now() - blockStarted < WARMUP_BLOCK_MS) {
      block.push(await timed(once));
    }
    runs += block.length;
    const elapsed = performance.now() - started;
    const blockMedian = median(block);
    flat = blockMedian > 0.9 * best ? flat + 1 : 0;
    best = Math.min(best, blockMedian);
    if ((elapsed >= WARMUP_MIN_MS && flat >= 2) || elapsed >= WARMUP_MAX_MS) break;
  }
  return { firstMs, runs, ms: performance.now() - started };
}

function probe(model: ModelName, size: number): () => Promise<unknown> {
  const pixels = new Float32Array(3 * size * size);
  const noise = seededNoise(0, pixels.length);
  return model === "classifier" ? () => classify(pixels, size) : () => velocity(noise, 0.5, 0, 4, size);
}

// A user's first action after loading would run on V8's baseline tier (the classifier's first
// run 63-165 ms against 0.9 ms steady). V8 tiers up the functions that run, not with time: so
// once a model is loaded, the page asks for a warm-up in the background, WARM_RUNS runs on
// zeros (about 0.6 s for the classifier) or WARM_MAX_MS, whichever comes first. The first run
// a user asks for stops every warm-up (from then on their own runs warm it up), so a warm-up
// never slows a generation. ?warm=0 on the page turns it off (the benchmark's cold figures).
const WARM_RUNS = 50;
const WARM_MAX_MS = 3000;
let acted = false; // a user asked for a run: background warm-ups stop

async function warmInBackground(model: ModelName, size: number): Promise<Warmed> {
  const once = probe(model, size);
  const started = performance.now();
  let runs = 0;
  while (!acted && runs < WARM_RUNS && performance.now() - started < WARM_MAX_MS) {
    await once();
    runs += 1;
  }
  return { runs, ms: performance.now() - started, cut: acted && runs < WARM_RUNS };
}

async function bench(model: ModelName, runs: number, size: number): Promise<[number[], Warmup]> {
  const once = probe(model, size);
  const warmup = await warmUp(once);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await timed(once));
  return [times, warmup];
}

async function handle(request: Request): Promise<Reply> {
  switch (request.type) {
    case "init": {
      const [backend, detail] = await pickBackend(request.forceBackend, request.isolation);
      return { id: request.id, type: "ready", backend, detail };
    }
    case "load": {
      const started = performance.now();
      const [bytes, from] = await load(request.model, request.source);
      const ms = performance.now() - started;
      return { id: request.id, type: "loaded", model: request.model, from, bytes, ms };
    }
    case "warm": {
      const warmed = await warmInBackground(request.model, request.size);
      return { id: request.id, type: "warmed", model: request.model, ...warmed };
    }
    case "classify": {
      acted = true;
      const [logits, ms] = await classify(request.pixels, request.size);
      return { id: request.id, type: "classified", logits, ms };
    }
    case "generate":
      acted = true;
      return generate(request.id, request);
    case "bench": {
      acted = true;
      const [times, warmup] = await bench(request.model, request.runs, request.size);
      return { id: request.id, type: "benched", model: request.model, times, warmup };
    }
  }
}

scope.onmessage = (event) => {
  const request = event.data;
  handle(request).then(
    (reply) => scope.postMessage(reply),
    (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      scope.postMessage({ id: request.id, type: "error", message });
    },
  );
};
