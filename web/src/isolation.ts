// Make the page cross-origin isolated where its server does not (GitHub Pages sends no COOP or
// COEP headers): register the site's service worker (isolation-sw.ts), which adds them to every
// same-origin response, and reload once it controls the page, since isolation is decided when
// a page loads. The first visit costs that one reload; later visits start isolated. Returns
// what the worker reports beside its thread count: isolated and by what, or why not.
// ?isolate=0 turns the service worker off in this browser (unregistered; one WASM thread).

const SCRIPT = "isolation-sw.js";
const RELOADED = "goap-isolation-reloaded"; // sessionStorage: at most one reload per tab
const CONTROL_TIMEOUT_MS = 10_000;

function reload(): Promise<never> {
  sessionStorage.setItem(RELOADED, "1");
  location.reload();
  return new Promise<never>(() => {}); // the page goes away
}

function ours(registration: ServiceWorkerRegistration): boolean {
  const script = (registration.active ?? registration.waiting ?? registration.installing)?.scriptURL;
  return script !== undefined && new URL(script).pathname.endsWith(`/${SCRIPT}`);
}

/** Resolves once a service worker controls this page (its activate step claims it). */
function controlled(container: ServiceWorkerContainer): Promise<void> {
  if (container.controller !== null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`it did not take control within ${CONTROL_TIMEOUT_MS / 1000} s`)),
      CONTROL_TIMEOUT_MS,
    );
    container.addEventListener("controllerchange", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export async function isolate(params: URLSearchParams): Promise<string> {
  const container: ServiceWorkerContainer | undefined = navigator.serviceWorker;
  const tried = sessionStorage.getItem(RELOADED) !== null;
  sessionStorage.removeItem(RELOADED);
  if (params.get("isolate") === "0") {
    if (container !== undefined) {
      const registrations = await container.getRegistrations();
      await Promise.all(registrations.filter(ours).map((r) => r.unregister()));
      if (crossOriginIsolated && container.controller !== null) {
        // Isolated by the worker just unregistered: the next load is not.
        if (!tried) return reload();
        return "cross-origin isolated by the site's service worker, which ?isolate=0 unregistered: the next load is not";
      }
    }
    if (crossOriginIsolated) return "cross-origin isolated by the server's headers (?isolate=0 turns off only the site's service worker)";
    return "not cross-origin isolated: ?isolate=0";
  }
  if (crossOriginIsolated) {
    return container?.controller ? "cross-origin isolated by the site's service worker" : "cross-origin isolated by the server's headers";
  }
  if (!isSecureContext || container === undefined) {
    return "not cross-origin isolated: service workers need https or localhost, and the server sends no COOP/COEP headers";
  }
  if (tried) return "not cross-origin isolated: the site's service worker controls the page but the browser did not isolate it";
  try {
    await container.register(SCRIPT);
    await controlled(container);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return `not cross-origin isolated: the site's service worker could not start (${detail})`;
  }
  return reload();
}
