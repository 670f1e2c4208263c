// The flow-matching samplers of models/flow.py (Euler and Heun from t = 0 noise to t = 1
// data), over any velocity function: in the worker it is the exported guided-step graph.

export type Method = "euler" | "heun";
export type Velocity = (x: Float32Array, t: number) => Promise<Float32Array>;
export type StepReport = (step: number, steps: number, stepMs: number) => void;

const f32 = Math.fround;

/** The times 0, 1/steps, ..., 1 as float32, like torch.linspace(0, 1, steps + 1). */
export function times(steps: number): number[] {
  return Array.from({ length: steps + 1 }, (_, i) => f32(i / steps));
}

function axpy(x: Float32Array, a: number, v: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] + a * v[i];
  return out;
}

/** Integrate dx/dt = v(x, t) from the noise; the result is clamped to [-1, 1]. */
export async function sample(
  velocity: Velocity,
  noise: Float32Array,
  steps: number,
  method: Method,
  report: StepReport = () => {},
): Promise<Float32Array> {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be >= 1, got ${steps}`);
  const ts = times(steps);
  let x = noise;
  for (let i = 0; i < steps; i++) {
    const started = performance.now();
    const t0 = ts[i];
    const t1 = ts[i + 1];
    const dt = f32(t1 - t0);
    const v0 = await velocity(x, t0);
    if (method === "euler") {
      x = axpy(x, dt, v0);
    } else {
      const v1 = await velocity(axpy(x, dt, v0), t1);
      const mean = new Float32Array(v0.length);
      for (let j = 0; j < v0.length; j++) mean[j] = 0.5 * (v0[j] + v1[j]);
      x = axpy(x, dt, mean);
    }
    report(i + 1, steps, performance.now() - started);
  }
  return x.map((value) => Math.min(1, Math.max(-1, value)));
}
