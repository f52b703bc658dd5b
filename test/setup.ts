// Selects the tfjs backend for a test file from TFJS_BACKEND (set per vitest project), and registers
// tfjs's gradient functions (tfjs-core alone registers none; `@tensorflow/tfjs` does for users).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import {beforeAll} from 'vitest';

beforeAll(async () => {
  const backend = process.env.TFJS_BACKEND ?? 'cpu';
  const ok = await tf.setBackend(backend);
  if (!ok) throw new Error(`test setup: backend '${backend}' could not be initialized`);
  await tf.ready();
});
