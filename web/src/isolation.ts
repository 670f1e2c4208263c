// Make the page cross-origin isolated where its server does not (GitHub Pages sends no COOP or
// COEP headers): register the site's service worker (isolation-sw.ts), which adds them to every
// same-origin response, and reload once it controls the page, since isolation is decided when
// a page loads. The first visit costs that one reload; later visits start isolated. Returns
// what the worker reports beside its thread count: isolated and by what, or why not.
// ?isolate=0 turns the service worker off in this browser (unregistered; one WASM thread).

const SCRIPT = "isolation-sw.js";
const RELOADED = "goapIsolationReload"; // in history.state: this load is the page's own reload
const READY_TIMEOUT_MS = 10_000;

/** Whether this load is the page's own reload for the worker, and (``mark``) mark the next one.
 * Kept in the history entry's state, which a reload keeps: not sessionStorage, which Chromium
 * copies when isolation changes the page's browsing context group, so that a later hard reload
 * (not isolated) found the first visit's mark there. */
function remembered(mark: boolean): boolean {
  const state: unknown = history.state;
  const was = typeof state === "object" && state !== null && RELOADED in state;
  try {
    if (mark) history.replaceState({ [RELOADED]: true }, "");
    else if (was) history.replaceState(null, "");
  } catch {
    return true; // the state cannot be written: no reload, so never a loop
  }
  return was;
}

function reload(): Promise<never> {
  remembered(true);
  location.reload();
  return new Promise<never>(() => {}); // the page goes away
}

function ours(registration: ServiceWorkerRegistration): boolean {
  const script = (registration.active ?? registration.waiting ?? registration.installing)?.scriptURL;
  return script !== undefined && new URL(script).pathname.endsWith(`/${SCRIPT}`);
}

/** The registration once its worker is active: the next load of this page goes through it. */
function active(container: ServiceWorkerContainer): Promise<unknown> {
  return Promise.race([
    container.ready,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`it was not active within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS),
    ),
  ]);
}

export async function isolate(params: URLSearchParams): Promise<string> {
  const container: ServiceWorkerContainer | undefined = navigator.serviceWorker;
  const tried = remembered(false);
  const controlled = container !== undefined && container.controller !== null;
  if (params.get("isolate") === "0") {
    if (container !== undefined) {
      const registrations = await container.getRegistrations();
      await Promise.all(registrations.filter(ours).map((r) => r.unregister()));
      if (crossOriginIsolated && controlled) {
        // Isolated by the worker just unregistered: the next load is not.
        if (!tried) return reload();
        return "cross-origin isolated by the site's service worker, which ?isolate=0 unregistered: the next load is not";
      }
    }
    if (crossOriginIsolated) return "cross-origin isolated by the server's headers (?isolate=0 turns off only the site's service worker)";
    return "not cross-origin isolated: ?isolate=0";
  }
  if (crossOriginIsolated) {
    return controlled ? "cross-origin isolated by the site's service worker" : "cross-origin isolated by the server's headers";
  }
  if (!isSecureContext || container === undefined) {
    return "not cross-origin isolated: service workers need https or localhost, and the server sends no COOP/COEP headers";
  }
  // This load came through the worker and is still not isolated: a reload would change nothing.
  if (controlled) return "not cross-origin isolated: the site's service worker serves the page but this browser did not isolate it";
  if (tried) return "not cross-origin isolated: the page reloaded once for the site's service worker, which did not take it over";
  try {
    await container.register(SCRIPT);
    await active(container);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return `not cross-origin isolated: the site's service worker could not start (${detail})`;
  }
  return reload(); // a first visit, or a hard reload (it bypasses service workers)
}
