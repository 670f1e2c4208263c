// Start-up: make the page cross-origin isolated if its server did not (isolation.ts), read
// the site config and the chosen version's manifest, start the worker, wire the four pages,
// and route by the URL hash. A problem before the pages work is shown in the banner rather
// than left in the console.

import { App, byId, errorText, show } from "./app";
import { setupBenchmark } from "./benchmark";
import { setupClassify } from "./classify";
import { InferenceClient } from "./client";
import { setupGenerate } from "./generate";
import { isolate } from "./isolation";
import { loadConfig, loadManifest, versionBase } from "./manifest";
import { setupModels } from "./models";

const PAGES = ["classify", "generate", "benchmark", "models"];

function route(): void {
  const wanted = location.hash.replace("#", "");
  const page = PAGES.includes(wanted) ? wanted : "classify";
  for (const name of PAGES) {
    byId(`page-${name}`).hidden = name !== page;
    byId(`nav-${name}`).classList.toggle("active", name === page);
  }
}

async function start(): Promise<void> {
  route();
  window.addEventListener("hashchange", route);
  const params = new URLSearchParams(location.search);
  const isolation = await isolate(params); // may reload the page once
  const config = await loadConfig();
  const version = params.get("version") ?? config.latest;
  if (!config.versions.some((v) => v.version === version)) {
    throw new Error(`version ${version} is not deployed here; choose one of ${config.versions.map((v) => v.version).join(", ")}`);
  }
  const manifest = await loadManifest(versionBase(version));
  const client = new InferenceClient(new URL("worker.js", location.href).href);
  const forceBackend = params.get("backend") === "wasm" ? "wasm" : null;
  const ready = await client.call({ type: "init", forceBackend, isolation });
  if (ready.type !== "ready") throw new Error(`unexpected reply ${ready.type}`);
  const backend = byId("backend");
  backend.textContent = `${ready.backend}`;
  backend.title = ready.detail;
  byId("backend-detail").textContent = ready.detail;
  byId("version-label").textContent = `${manifest.name} ${manifest.version}`;
  const app = new App(config, manifest, client, ready.backend, params.get("warm") !== "0");
  setupClassify(app);
  setupGenerate(app);
  setupBenchmark(app);
  setupModels(app);
  document.body.dataset.ready = "true";
}

start().catch((error: unknown) => {
  show("error", `The app could not start: ${errorText(error)}`);
  document.body.dataset.ready = "error";
});
