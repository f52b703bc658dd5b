// Installs the `webgpu` package's Dawn as navigator.gpu in Node.js, loads tfjs's webgpu backend and makes
// it the active backend; BENCH_DAWN_OPTIONS (comma-separated Dawn toggles, e.g. 'backend=null' for a dry
// run without a GPU) is passed to Dawn. Shared by the GPU bench scripts.
import * as tf from '@tensorflow/tfjs-core';

export async function activateWebGPU(): Promise<void> {
  const webgpu = await import('webgpu') as unknown as {create: (o: string[]) => unknown; globals: object};
  Object.assign(globalThis, webgpu.globals);
  const dawn = process.env['BENCH_DAWN_OPTIONS']?.split(',') ?? [];
  Object.defineProperty(globalThis, 'navigator', {value: {gpu: webgpu.create(dawn)}, configurable: true});
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('webgpu backend failed to initialize');
}
