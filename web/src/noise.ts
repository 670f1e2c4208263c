// The seeded starting noise of a generation, computed exactly as models/browser.py does:
// mulberry32 (32-bit integer steps, so JavaScript and Python agree bit for bit) and
// Box-Muller in float64, rounded to float32. The page and Python then start from the same x0.

const TWO_POW_32 = 4294967296;

/** A mulberry32 stream: each call returns the next unsigned 32-bit integer. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** n standard normal samples (float32) from seed. */
export function seededNoise(seed: number, n: number): Float32Array {
  const next = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = (next() + 0.5) / TWO_POW_32;
    const u2 = (next() + 0.5) / TWO_POW_32;
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}
