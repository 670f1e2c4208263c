// WebGPU is not in TypeScript's DOM library: the seed's CI failed on exactly this
// ("Property 'gpu' does not exist on type 'Navigator'"). Declare only what the app touches.
interface GPUAdapterLike {
  readonly features: ReadonlySet<string>;
}

interface GPULike {
  requestAdapter(): Promise<GPUAdapterLike | null>;
}

interface Navigator {
  readonly gpu?: GPULike;
}
