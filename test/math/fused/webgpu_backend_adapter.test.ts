// The fused webgpu kernels drive internals of @tensorflow/tfjs-backend-webgpu through one adapter
// (src/math/fused/webgpu_backend_adapter.ts). This test constructs the installed backend class on a
// fake device (no GPU needed) and checks every field the adapter lists: a tfjs upgrade that renames
// or removes one fails here, naming it.
import {describe, expect, it} from 'vitest';
import {
  isWebGPUDirectBackend, missingWebGPUBackendFields, WEBGPU_BACKEND_FIELDS,
} from '../../../src/math/fused/webgpu_backend_adapter.js';

/** A device whose every method is a no-op (enough for the backend's constructor). */
function fakeDevice(): object {
  const fn = () => ({});
  return {
    queue: {submit: fn, writeBuffer: fn, onSubmittedWorkDone: async () => undefined},
    features: new Set<string>(),
    limits: {},
    createBuffer: fn, createShaderModule: fn, createBindGroupLayout: fn, createPipelineLayout: fn,
    createComputePipeline: fn, createComputePipelineAsync: async () => ({}), createBindGroup: fn,
    createCommandEncoder: fn, createQuerySet: fn, createTexture: fn,
  };
}

async function realBackend(): Promise<Record<string, unknown>> {
  const mod = await import('@tensorflow/tfjs-backend-webgpu') as unknown as {
    WebGPUBackend: new (device: object, adapterInfo?: object) => Record<string, unknown>;
  };
  const g = globalThis as {navigator?: unknown};
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  // The constructor checks navigator.gpu (WebGPU support) and nothing else of it.
  Object.defineProperty(globalThis, 'navigator', {value: {gpu: {}}, configurable: true, writable: true});
  try {
    return new mod.WebGPUBackend(fakeDevice(), {vendor: 'test', architecture: 'test'});
  } finally {
    if (saved) Object.defineProperty(globalThis, 'navigator', saved);
    else delete g.navigator;
  }
}

describe('webgpu backend adapter', () => {
  it('every field the fused kernels use exists on the installed WebGPUBackend', async () => {
    const backend = await realBackend();
    // One assertion per field, so a failure names the field that a tfjs upgrade removed.
    for (const {name} of WEBGPU_BACKEND_FIELDS) {
      expect(missingWebGPUBackendFields(backend).filter((m) => m.startsWith(`${name} `)),
          `WebGPUBackend.${name} is missing or changed kind; update src/math/fused/webgpu_backend_adapter.ts`).toEqual([]);
    }
    expect(isWebGPUDirectBackend(backend)).toBe(true);
  });

  it('names each missing field', async () => {
    const backend = await realBackend();
    for (const {name, kind} of WEBGPU_BACKEND_FIELDS) {
      const broken = Object.create(backend) as Record<string, unknown>;
      Object.defineProperty(broken, name, {value: undefined});
      expect(missingWebGPUBackendFields(broken)).toEqual([`${name} (${kind})`]);
      expect(isWebGPUDirectBackend(broken)).toBe(false);
    }
    expect(missingWebGPUBackendFields(null)).toHaveLength(WEBGPU_BACKEND_FIELDS.length);
  });
});
