// The messages between the page and the inference worker (one request id per call).

import type { Method } from "./sampler";
import type { ModelFile, ModelName } from "./manifest";

export interface ModelSource {
  file: ModelFile;
  localUrl: string;
  hubUrl: string | null;
}

/** How the benchmark warmed a model up: its first run, then runs until they stop speeding up. */
export interface Warmup {
  firstMs: number;
  runs: number;
  ms: number;
}

/** A background warm-up after loading: its runs, how long, and whether a user's run cut it. */
export interface Warmed {
  runs: number;
  ms: number;
  cut: boolean;
}

export type Request =
  | { id: number; type: "init"; forceBackend: "wasm" | null; isolation: string }
  | { id: number; type: "load"; model: ModelName; source: ModelSource }
  | { id: number; type: "classify"; pixels: Float32Array; size: number }
  | {
      id: number;
      type: "generate";
      label: number;
      steps: number;
      cfgScale: number;
      method: Method;
      seed: number;
      size: number;
    }
  | { id: number; type: "bench"; model: ModelName; runs: number; size: number }
  | { id: number; type: "warm"; model: ModelName; size: number };

export type Reply =
  | { id: number; type: "ready"; backend: string; detail: string }
  | { id: number; type: "loaded"; model: ModelName; from: "hub" | "local"; bytes: number; ms: number }
  | { id: number; type: "classified"; logits: Float32Array; ms: number }
  | { id: number; type: "progress"; step: number; steps: number; stepMs: number }
  | { id: number; type: "generated"; image: Float32Array; totalMs: number; stepMs: number[] }
  | { id: number; type: "benched"; model: ModelName; times: number[]; warmup: Warmup }
  | ({ id: number; type: "warmed"; model: ModelName } & Warmed)
  | { id: number; type: "error"; message: string };
