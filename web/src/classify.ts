// The classify page: upload, drop or pick a sample; top-5 breeds with probabilities and the
// latency. A refused file (type, 10 MB) is said on the page and nothing runs.

import { type App, byId, errorText, ms, show } from "./app";
import { refusal, toTensor } from "./image";
import { softmax } from "./stats";

interface Sample {
  file: string;
  label: string;
}

export function setupClassify(app: App): void {
  const input = byId<HTMLInputElement>("file");
  const drop = byId("drop");
  const preview = byId<HTMLCanvasElement>("classify-preview");
  const size = app.manifest.image_size;

  async function run(blob: Blob, name: string): Promise<void> {
    show("classify-message", "");
    byId("top5").replaceChildren();
    byId("classify-latency").textContent = "";
    byId("classify-result").dataset.state = "running";
    try {
      await app.model("classifier");
      const started = performance.now();
      const pixels = await toTensor(blob, size, preview);
      const reply = await app.client.call({ type: "classify", pixels, size }, undefined, [pixels.buffer]);
      if (reply.type !== "classified") throw new Error(`unexpected reply ${reply.type}`);
      const total = performance.now() - started;
      const probs = softmax(reply.logits);
      const order = probs.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0]);
      const items = order.slice(0, 5).map(([p, i]) => {
        const item = document.createElement("li");
        item.dataset.label = app.manifest.classes[i];
        item.dataset.probability = String(p);
        item.innerHTML = `<span class="breed"></span><meter min="0" max="1"></meter><span class="p"></span>`;
        item.querySelector(".breed")!.textContent = app.manifest.classes[i].replace(/_/g, " ");
        (item.querySelector("meter") as HTMLMeterElement).value = p;
        item.querySelector(".p")!.textContent = `${(100 * p).toFixed(2)} %`;
        return item;
      });
      byId("top5").replaceChildren(...items);
      const latency = byId("classify-latency");
      latency.textContent = `${name}: inference ${ms(reply.ms)}, with decoding and transfer ${ms(total)} (${app.backend})`;
      latency.dataset.ms = String(reply.ms);
      byId("classify-result").dataset.state = "done";
    } catch (error) {
      show("classify-message", errorText(error));
      byId("classify-result").dataset.state = "error";
    }
  }

  function accept(file: File | undefined): void {
    if (file === undefined) return;
    const refused = refusal(file);
    if (refused !== null) {
      show("classify-message", refused);
      byId("top5").replaceChildren();
      byId("classify-result").dataset.state = "refused";
      return;
    }
    void run(file, file.name);
  }

  input.addEventListener("change", () => accept(input.files?.[0]));
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    accept(event.dataTransfer?.files[0]);
  });

  const select = byId<HTMLSelectElement>("sample");
  fetch("samples/index.json")
    .then((response) => (response.ok ? (response.json() as Promise<Sample[]>) : []))
    .then((samples) => {
      for (const sample of samples) select.add(new Option(sample.label.replace(/_/g, " "), sample.file));
      byId("samples").hidden = samples.length === 0;
    })
    .catch(() => (byId("samples").hidden = true));
  byId("sample-btn").addEventListener("click", async () => {
    if (select.value === "") return;
    const response = await fetch(`samples/${select.value}`);
    void run(await response.blob(), select.value);
  });
}
