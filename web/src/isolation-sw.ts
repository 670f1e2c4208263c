// The site's service worker: it gives every same-origin response the COOP, COEP and CORP
// headers that make the page cross-origin isolated, for a server that cannot send them
// (GitHub Pages, a plain static server). Isolated, ONNX Runtime Web runs its WASM kernels on
// a thread per core (SharedArrayBuffer); without it, on one. It caches nothing and changes no
// body: each request goes to the network as the browser asked. The page registers it
// (isolation.ts) and reloads once, since a page's isolation is fixed when it loads.
// Built as a classic script (isolation-sw.js): module service workers are not everywhere yet.

export {}; // a module to the type checker, so these names stay its own

const HEADERS: [string, string][] = [
  ["Cross-Origin-Opener-Policy", "same-origin"],
  ["Cross-Origin-Embedder-Policy", "require-corp"],
  ["Cross-Origin-Resource-Policy", "same-origin"],
];

interface FetchEvent extends Event {
  request: Request;
  respondWith(response: Promise<Response>): void;
}
interface ExtendableEvent extends Event {
  waitUntil(done: Promise<unknown>): void;
}
interface ServiceWorkerScope {
  location: Location;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
  addEventListener(type: "install", listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: "activate", listener: (event: ExtendableEvent) => void): void;
  addEventListener(type: "fetch", listener: (event: FetchEvent) => void): void;
}
const worker = self as unknown as ServiceWorkerScope;

// Take over at once: the page reloads as soon as this worker controls it.
worker.addEventListener("install", (event) => event.waitUntil(worker.skipWaiting()));
worker.addEventListener("activate", (event) => event.waitUntil(worker.clients.claim()));

worker.addEventListener("fetch", (event) => {
  const request = event.request;
  // Cross-origin requests (a configured Hub) are the browser's own: CORS lets them through
  // COEP. Chromium refuses `only-if-cached` outside same-origin mode, so those pass too.
  if (new URL(request.url).origin !== worker.location.origin) return;
  if (request.cache === "only-if-cached" && request.mode !== "same-origin") return;
  event.respondWith(isolated(request));
});

async function isolated(request: Request): Promise<Response> {
  const response = await fetch(request);
  if (response.type === "opaque" || response.type === "opaqueredirect") return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of HEADERS) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
