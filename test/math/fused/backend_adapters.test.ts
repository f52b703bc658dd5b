// The tfjs internals the fused kernels rely on, one adapter each: these tests fail loudly, naming the
// missing field, when a tfjs upgrade removes one (the kernels would otherwise fall back silently or
// throw at the first training step).
import * as tf from '@tensorflow/tfjs-core';
import {describe, expect, it} from 'vitest';
import {ENGINE_FIELDS, lazyGradientsAdapterMissing} from '../../../src/math/fused/run_with_lazy_gradients.js';
import {WASM_BACKEND_FIELDS, wasmBackendAdapterMissing, wasmHeapView} from '../../../src/math/fused/wasm_backend_adapter.js';

describe('backend adapters of the fused kernels', () => {
  it(`tfjs-core's engine has ${ENGINE_FIELDS.join(', ')} (lazy gradients)`, () => {
    expect(lazyGradientsAdapterMissing(), 'tfjs-core engine fields missing').toEqual([]);
    expect(lazyGradientsAdapterMissing({isTapeOn: () => false})).toEqual(['runKernelFunc']);
  });

  // Runs in the wasm project of the suite (the backend must be initialised).
  it.runIf(process.env.TFJS_BACKEND === 'wasm')(`the wasm backend has ${WASM_BACKEND_FIELDS.join(', ')} (in-place heap reads)`, () => {
    expect(wasmBackendAdapterMissing(tf.backend()), 'tfjs-backend-wasm fields missing').toEqual([]);
  });

  it('names each missing field of a backend', () => {
    expect(wasmBackendAdapterMissing({dataIdMap: new Map()})).toEqual(['typedArrayFromHeap']);
    expect(wasmBackendAdapterMissing(undefined)).toEqual(['typedArrayFromHeap', 'dataIdMap.has']);
  });

  it('reads a tensor in place on wasm (the same values as dataSync), nothing elsewhere', () => {
    const t = tf.tensor2d([[1, -2], [3, 4.5]]);
    const view = wasmHeapView(t);
    if (tf.getBackend() === 'wasm') expect(Array.from(view!)).toEqual([1, -2, 3, 4.5]);
    else expect(view).toBeNull();
    t.dispose();
  });
});
