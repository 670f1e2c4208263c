// The models page: the served version's files (sizes, SHA-256, where they were loaded from),
// its validation report and metrics, the model card, and a picker of the deployed versions.

import { type App, byId, errorText, show } from "./app";

interface Gate {
  gate: string;
  passed: boolean | null;
  value: unknown;
  limit: unknown;
}

function cell(row: HTMLTableRowElement, text: string): void {
  const td = document.createElement("td");
  td.textContent = text;
  row.append(td);
}

function shown(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(", ");
  }
  return String(value);
}

export function setupModels(app: App): void {
  const picker = byId<HTMLSelectElement>("version-picker");
  for (const entry of [...app.config.versions].reverse()) {
    const latest = entry.version === app.config.latest ? " (latest)" : "";
    picker.add(new Option(`${entry.version}${latest}`, entry.version));
  }
  picker.value = app.manifest.version;
  picker.addEventListener("change", () => {
    const url = new URL(location.href);
    url.searchParams.set("version", picker.value);
    location.href = url.href;
  });

  const files = byId("model-files");
  for (const name of ["classifier", "dit"] as const) {
    const file = app.manifest.models[name];
    const row = document.createElement("tr");
    row.dataset.model = name;
    for (const text of [name, file.path, String(file.size), file.sha256]) cell(row, text);
    cell(row, "not loaded yet");
    cell(row, "");
    files.append(row);
    const [where, warm] = [row.cells[4], row.cells[5]];
    app.model(name).then(
      (loaded) => {
        where.textContent = `${loaded.from}, hash checked`;
        warm.textContent = "warming up…";
      },
      (error) => {
        where.textContent = `error: ${errorText(error)}`;
      },
    );
    app.warmed(name).then(
      (warmed) => {
        warm.dataset.state = warmed === null ? "off" : "done";
        if (warmed === null) warm.textContent = "off (?warm=0)";
        else {
          const cut = warmed.cut ? ", cut short by your first run" : "";
          warm.textContent = `${warmed.runs} runs in ${warmed.ms.toFixed(0)} ms${cut}`;
          warm.dataset.runs = String(warmed.runs);
        }
      },
      () => {
        warm.dataset.state = "error"; // the load's error is shown beside it
      },
    );
  }
  byId("hub").textContent = app.config.hub_url ?? "none (the site's own copy)";

  if (app.manifest.card !== null) {
    fetch(app.base + app.manifest.card)
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error(`model card: HTTP ${r.status}`))))
      .then((card) => (byId("card").textContent = card))
      .catch((error) => show("models-message", errorText(error)));
  }
  if (app.manifest.report === null) return;
  fetch(app.base + app.manifest.report)
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`report: HTTP ${r.status}`))))
    .then((report: Record<string, unknown>) => {
      byId("report-summary").textContent =
        `${report.passed === true ? "passed" : "FAILED"}; version id ${String(report.version_id)}, ` +
        `created ${String(report.created_at)}`;
      const gates = byId("report-gates");
      const models = (report.models ?? {}) as Record<string, { gates?: Gate[] }>;
      for (const [model, entry] of Object.entries(models)) {
        for (const gate of entry.gates ?? []) {
          const row = document.createElement("tr");
          const verdict = gate.passed === null ? "n/a" : gate.passed ? "pass" : "FAIL";
          for (const text of [model, gate.gate, verdict, shown(gate.value), shown(gate.limit)]) cell(row, text);
          gates.append(row);
        }
      }
      const metrics = byId("report-metrics");
      for (const [model, values] of Object.entries((report.metrics ?? {}) as Record<string, object>)) {
        for (const [name, value] of Object.entries(values)) {
          const row = document.createElement("tr");
          for (const text of [model, name, String(value)]) cell(row, text);
          metrics.append(row);
        }
      }
    })
    .catch((error) => show("models-message", errorText(error)));
}
