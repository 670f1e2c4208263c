// The page's side of the worker: one promise per request, progress callbacks, and a worker
// crash turned into an error of every pending call.

import type { Reply, Request } from "./protocol";

type Body = Request extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;
type Pending = {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
  progress?: (reply: Reply) => void;
};

export class InferenceClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(url: string) {
    this.worker = new Worker(url, { type: "module" });
    this.worker.onmessage = (event: MessageEvent<Reply>) => this.receive(event.data);
    this.worker.onerror = (event: ErrorEvent) => {
      const error = new Error(`the inference worker failed: ${event.message || "unknown error"}`);
      for (const call of this.pending.values()) call.reject(error);
      this.pending.clear();
    };
  }

  call(body: Body, progress?: (reply: Reply) => void, transfer: Transferable[] = []): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, progress });
      this.worker.postMessage({ ...body, id } as Request, transfer);
    });
  }

  private receive(reply: Reply): void {
    const call = this.pending.get(reply.id);
    if (call === undefined) return;
    if (reply.type === "progress") {
      call.progress?.(reply);
      return;
    }
    this.pending.delete(reply.id);
    if (reply.type === "error") call.reject(new Error(reply.message));
    else call.resolve(reply);
  }
}
