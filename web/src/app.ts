// What every page shares: the site config, the served version's manifest, the worker, and
// each model loaded at most once (its load error is shown on the page that needed it).

import { InferenceClient } from "./client";
import type { ModelName, SiteConfig, WebManifest } from "./manifest";
import type { Warmed } from "./protocol";
import { versionBase } from "./manifest";

export interface LoadedModel {
  from: "hub" | "local";
  bytes: number;
  ms: number;
}

export class App {
  private readonly loads = new Map<ModelName, Promise<LoadedModel>>();
  private readonly warmups = new Map<ModelName, Promise<Warmed | null>>();

  constructor(
    readonly config: SiteConfig,
    readonly manifest: WebManifest,
    readonly client: InferenceClient,
    readonly backend: string,
    readonly warm: boolean = true, // warm each model up in the background once loaded
  ) {}

  get base(): string {
    return versionBase(this.manifest.version);
  }

  model(name: ModelName): Promise<LoadedModel> {
    let loading = this.loads.get(name);
    if (loading === undefined) {
      const file = this.manifest.models[name];
      const hub = this.config.hub_url;
      const source = {
        file,
        localUrl: new URL(this.base + file.path, location.href).href,
        hubUrl: hub === null ? null : `${hub.replace(/\/+$/, "")}/${file.path}`,
      };
      loading = this.client.call({ type: "load", model: name, source }).then((reply) => {
        if (reply.type !== "loaded") throw new Error(`unexpected reply ${reply.type}`);
        return { from: reply.from, bytes: reply.bytes, ms: reply.ms };
      });
      this.loads.set(name, loading);
      this.warmups.set(name, loading.then(() => this.warmUp(name)));
    }
    return loading;
  }

  /** The model's background warm-up once it has loaded (null: warm-ups are off). */
  warmed(name: ModelName): Promise<Warmed | null> {
    this.model(name);
    return this.warmups.get(name) as Promise<Warmed | null>;
  }

  private async warmUp(name: ModelName): Promise<Warmed | null> {
    if (!this.warm) return null;
    const reply = await this.client.call({ type: "warm", model: name, size: this.manifest.image_size });
    if (reply.type !== "warmed") throw new Error(`unexpected reply ${reply.type}`);
    return { runs: reply.runs, ms: reply.ms, cut: reply.cut };
  }
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element as T;
}

export function show(id: string, message: string, kind: "error" | "info" = "error"): void {
  const element = byId(id);
  element.textContent = message;
  element.className = `message ${kind}`;
  element.hidden = message === "";
}

export function ms(value: number): string {
  return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
