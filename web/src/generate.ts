// The generate page: breed, steps, CFG scale, sampler and seed; the sampling loop runs in the
// worker over the exported guided-step graph, reporting every step (the page draws the latest
// once per frame); the image on a canvas and as a PNG download.

import { type App, byId, errorText, ms, show } from "./app";
import { draw } from "./image";
import type { Method } from "./sampler";

export function setupGenerate(app: App): void {
  const { classes, sampler, image_size: size } = app.manifest;
  const breed = byId<HTMLSelectElement>("breed");
  classes.forEach((name, i) => breed.add(new Option(name.replace(/_/g, " "), String(i))));
  byId<HTMLInputElement>("steps").value = String(sampler.steps);
  byId<HTMLInputElement>("cfg").value = String(sampler.cfg_scale);
  byId<HTMLSelectElement>("method").value = sampler.method;
  const button = byId<HTMLButtonElement>("generate-btn");
  const download = byId<HTMLAnchorElement>("download");
  const canvas = byId<HTMLCanvasElement>("gen-canvas");
  const progress = byId<HTMLProgressElement>("gen-progress");
  const status = byId("gen-status");
  const shown = perFrame();

  button.addEventListener("click", async () => {
    const steps = Number(byId<HTMLInputElement>("steps").value);
    const cfgScale = Number(byId<HTMLInputElement>("cfg").value);
    const seed = Number(byId<HTMLInputElement>("seed").value);
    const method = byId<HTMLSelectElement>("method").value as Method;
    const label = Number(breed.value);
    show("gen-message", "");
    if (!Number.isInteger(steps) || steps < 1 || steps > 500) {
      show("gen-message", "steps must be a whole number from 1 to 500.");
      return;
    }
    if (!Number.isFinite(cfgScale) || cfgScale < 0 || cfgScale > 20) {
      show("gen-message", "CFG scale must be a number from 0 to 20 (1 is no guidance).");
      return;
    }
    if (!Number.isInteger(seed) || seed < 0 || seed > 4294967295) {
      show("gen-message", "seed must be a whole number from 0 to 4294967295.");
      return;
    }
    button.disabled = true;
    download.hidden = true;
    progress.max = steps;
    progress.value = 0;
    status.dataset.state = "running";
    try {
      status.textContent = "loading the generator…";
      await app.model("dit");
      const reply = await app.client.call(
        { type: "generate", label, steps, cfgScale, method, seed, size },
        (update) => {
          if (update.type !== "progress") return;
          shown.show(() => {
            progress.value = update.step;
            status.textContent = `step ${update.step}/${update.steps}: ${ms(update.stepMs)}`;
          });
        },
      );
      shown.cancel();
      progress.value = steps;
      if (reply.type !== "generated") throw new Error(`unexpected reply ${reply.type}`);
      draw(reply.image, size, canvas);
      const mean = reply.stepMs.reduce((a, b) => a + b, 0) / reply.stepMs.length;
      status.textContent = `${steps} ${method} steps in ${ms(reply.totalMs)} (${ms(mean)} per step, ${app.backend})`;
      status.dataset.totalMs = String(reply.totalMs);
      status.dataset.state = "done";
      canvas.toBlob((blob) => {
        if (blob === null) return;
        URL.revokeObjectURL(download.href);
        download.href = URL.createObjectURL(blob);
        download.download = `${classes[label]}-seed${seed}-${steps}${method}-cfg${cfgScale}.png`;
        download.hidden = false;
      }, "image/png");
    } catch (error) {
      shown.cancel();
      show("gen-message", errorText(error));
      status.textContent = "";
      status.dataset.state = "error";
    } finally {
      button.disabled = false;
    }
  });
}

/** The latest of many updates, drawn once per animation frame. The worker reports every
 * step (3 ms apart for the demo DiT): a paint per step took the CPU from the worker (10 steps
 * 29.5 ms with no updates, 32 ms with one per step, on 2 cores), and a screen shows one frame
 * in 16 ms anyway. */
function perFrame(): { show(update: () => void): void; cancel(): void } {
  let pending: (() => void) | null = null;
  let frame = 0;
  return {
    show(update) {
      pending = update;
      if (frame === 0) {
        frame = requestAnimationFrame(() => {
          frame = 0;
          pending?.();
          pending = null;
        });
      }
    },
    cancel() {
      cancelAnimationFrame(frame);
      frame = 0;
      pending = null;
    },
  };
}
