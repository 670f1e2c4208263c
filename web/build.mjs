// Build the static site into dist/: the page script and the worker bundled by esbuild (ES
// modules; ONNX Runtime Web's WebGPU and WASM builds are split so a browser fetches only the
// one it uses), the isolation service worker (a classic script), the HTML and CSS, and the
// runtime's .wasm files under ort/.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

const out = "dist";
const ort = "node_modules/onnxruntime-web/dist";
const started = Date.now();
rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}/ort`, { recursive: true });
await build({
  entryPoints: { app: "src/main.ts", worker: "src/worker.ts" },
  outdir: out,
  bundle: true,
  format: "esm",
  splitting: true,
  minify: true,
  target: "es2022",
  chunkNames: "chunks/[name]-[hash]",
  logLevel: "warning",
});
// The isolation service worker: a classic script at the site's root, so its scope is the site.
await build({
  entryPoints: { "isolation-sw": "src/isolation-sw.ts" },
  outdir: out,
  bundle: true,
  format: "iife",
  minify: true,
  target: "es2022",
  logLevel: "warning",
});
for (const file of ["index.html", "style.css"]) copyFileSync(file, `${out}/${file}`);
for (const file of ["ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.asyncify.wasm"]) {
  copyFileSync(`${ort}/${file}`, `${out}/ort/${file}`);
}
console.log(`built ${out}/ in ${Date.now() - started} ms`);
