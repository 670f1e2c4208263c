// The benchmark page: N timed runs of each model in the worker, after a warm-up that lasts
// until WebAssembly has been recompiled by V8's optimizing tier (see worker.ts); p50/p95/p99
// and the mean, the first run and the warm-up, the backend, each model's size.

import { type App, byId, errorText, show } from "./app";
import type { ModelName } from "./manifest";
import { summarize } from "./stats";

const WHAT: Record<ModelName, string> = {
  classifier: "classifier (one image)",
  dit: "generator (one guided step)",
};

export function setupBenchmark(app: App): void {
  const button = byId<HTMLButtonElement>("bench-btn");
  const body = byId("bench-rows");
  byId("bench-backend").textContent = app.backend;
  button.addEventListener("click", async () => {
    const runs = Number(byId<HTMLInputElement>("runs").value);
    show("bench-message", "");
    if (!Number.isInteger(runs) || runs < 1 || runs > 10000) {
      show("bench-message", "runs must be a whole number from 1 to 10000.");
      return;
    }
    button.disabled = true;
    body.replaceChildren();
    byId("bench-table").dataset.state = "running";
    try {
      for (const model of ["classifier", "dit"] as const) {
        await app.model(model);
        const size = app.manifest.image_size;
        const reply = await app.client.call({ type: "bench", model, runs, size });
        if (reply.type !== "benched") throw new Error(`unexpected reply ${reply.type}`);
        const s = summarize(reply.times);
        const row = document.createElement("tr");
        row.dataset.model = model;
        const file = app.manifest.models[model];
        const cells = [
          WHAT[model],
          `${(file.size / 1e6).toFixed(2)} MB`,
          String(s.runs),
          ...[s.p50, s.p95, s.p99, s.mean, reply.warmup.firstMs].map((v) => v.toFixed(3)),
          `${reply.warmup.runs} runs, ${(reply.warmup.ms / 1000).toFixed(1)} s`,
        ];
        for (const [i, text] of cells.entries()) {
          const cell = document.createElement("td");
          cell.textContent = text;
          cell.dataset.key = ["model", "size", "runs", "p50", "p95", "p99", "mean", "first", "warmup"][i];
          row.append(cell);
        }
        body.append(row);
      }
      byId("bench-table").dataset.state = "done";
    } catch (error) {
      show("bench-message", errorText(error));
      byId("bench-table").dataset.state = "error";
    } finally {
      button.disabled = false;
    }
  });
}
