// What the pipeline's deploy step writes beside the site, read strictly: config.json (the
// versions, the one served by default, an optional Hub URL) and each version's
// web-manifest.json (classes, image size, sampler defaults, model files with SHA-256).

import type { Method } from "./sampler";

export interface ModelFile {
  path: string;
  sha256: string;
  size: number;
}

export interface WebManifest {
  name: string;
  version: string;
  content_hash: string;
  classes: string[];
  image_size: number;
  null_label: number;
  sampler: { steps: number; cfg_scale: number; method: Method };
  models: { classifier: ModelFile; dit: ModelFile };
  card: string | null;
  report: string | null;
}

export interface SiteVersion {
  version: string;
  created_at: string | null;
}

export interface SiteConfig {
  name: string;
  latest: string;
  versions: SiteVersion[];
  hub_url: string | null;
  deployed_at: string;
}

export type ModelName = keyof WebManifest["models"];

/** A manifest problem: the page shows it as it is. */
export class ManifestError extends Error {}

async function fetchJson(url: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { cache: "no-cache" });
  } catch (error) {
    throw new ManifestError(`cannot fetch ${url}: ${String(error)}`);
  }
  if (!response.ok) throw new ManifestError(`${url}: HTTP ${response.status}`);
  try {
    return await response.json();
  } catch {
    throw new ManifestError(`${url} is not valid JSON; deploy the site again`);
  }
}

function need<T>(ok: boolean, where: string, what: string, value: T): T {
  if (!ok) throw new ManifestError(`${where}: ${what}; deploy the site again`);
  return value;
}

function record(value: unknown, where: string): Record<string, unknown> {
  const ok = typeof value === "object" && value !== null && !Array.isArray(value);
  return need(ok, where, "expected an object", value as Record<string, unknown>);
}

function text(value: unknown, where: string): string {
  return need(typeof value === "string", where, "expected a string", value as string);
}

function count(value: unknown, where: string): number {
  const ok = typeof value === "number" && Number.isInteger(value) && value >= 0;
  return need(ok, where, "expected a non-negative integer", value as number);
}

function modelFile(value: unknown, where: string): ModelFile {
  const o = record(value, where);
  const sha256 = text(o.sha256, `${where}.sha256`);
  need(/^[0-9a-f]{64}$/.test(sha256), `${where}.sha256`, "expected 64 hex digits", 0);
  return { path: text(o.path, `${where}.path`), sha256, size: count(o.size, `${where}.size`) };
}

export async function loadConfig(url = "config.json"): Promise<SiteConfig> {
  const o = record(await fetchJson(url), url);
  const versions = need(Array.isArray(o.versions), `${url}.versions`, "expected a list", o.versions);
  const list = (versions as unknown[]).map((entry, i) => {
    const v = record(entry, `${url}.versions[${i}]`);
    const created = v.created_at === null ? null : text(v.created_at, `${url}.versions[${i}]`);
    return { version: text(v.version, `${url}.versions[${i}].version`), created_at: created };
  });
  need(list.length > 0, `${url}.versions`, "no published version", 0);
  const hub = o.hub_url === null || o.hub_url === undefined ? null : text(o.hub_url, `${url}.hub_url`);
  return {
    name: text(o.name, `${url}.name`),
    latest: text(o.latest, `${url}.latest`),
    versions: list,
    hub_url: hub,
    deployed_at: text(o.deployed_at, `${url}.deployed_at`),
  };
}

export async function loadManifest(base: string): Promise<WebManifest> {
  const url = `${base}web-manifest.json`;
  const o = record(await fetchJson(url), url);
  const sampler = record(o.sampler, `${url}.sampler`);
  const method = text(sampler.method, `${url}.sampler.method`);
  need(method === "euler" || method === "heun", `${url}.sampler.method`, "euler or heun", 0);
  const models = record(o.models, `${url}.models`);
  const classes = need(Array.isArray(o.classes), `${url}.classes`, "expected a list", o.classes);
  return {
    name: text(o.name, `${url}.name`),
    version: text(o.version, `${url}.version`),
    content_hash: text(o.content_hash, `${url}.content_hash`),
    classes: (classes as unknown[]).map((c, i) => text(c, `${url}.classes[${i}]`)),
    image_size: count(o.image_size, `${url}.image_size`),
    null_label: count(o.null_label, `${url}.null_label`),
    sampler: {
      steps: count(sampler.steps, `${url}.sampler.steps`),
      cfg_scale: Number(sampler.cfg_scale),
      method: method as Method,
    },
    models: {
      classifier: modelFile(models.classifier, `${url}.models.classifier`),
      dit: modelFile(models.dit, `${url}.models.dit`),
    },
    card: o.card == null ? null : text(o.card, `${url}.card`),
    report: o.report == null ? null : text(o.report, `${url}.report`),
  };
}

/** The folder of a version's files on this site. */
export function versionBase(version: string): string {
  return `models/${encodeURIComponent(version)}/`;
}
