// Minimal test-only safetensors reader (F32, BF16, F16) for the DeepSeek fixtures, until the
// library's loader is merged; FP8 is left to the loader.
import {readFileSync} from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';

export function readSafetensorsF32(path: string): Map<string, tf.Tensor> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, {dtype: string; shape: number[]; data_offsets: [number, number]}>;
  const base = 8 + n;
  const out = new Map<string, tf.Tensor>();
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const bytes = buf.subarray(base + h.data_offsets[0], base + h.data_offsets[1]);
    const count = h.shape.reduce((a, b) => a * b, 1);
    const f = new Float32Array(count);
    if (h.dtype === 'F32') {
      for (let i = 0; i < count; i++) f[i] = bytes.readFloatLE(4 * i);
    } else if (h.dtype === 'BF16') {
      const u = new Uint32Array(f.buffer);
      for (let i = 0; i < count; i++) u[i] = bytes.readUInt16LE(2 * i) << 16;
    } else {
      continue;
    }
    out.set(name, tf.tensor(f, h.shape, 'float32'));
  }
  return out;
}
