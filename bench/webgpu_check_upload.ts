// GPU self-check of the pooled uploads (src/math/fused/webgpu_upload.ts; run by bench/webgpu_check.ts):
// values made on the CPU (float32, int32, bool; scalars, odd sizes, views) reach the GPU intact, also
// when buffers of disposed tensors are reused between programs that are recorded but not submitted,
// and the results of ops on them equal the values computed in JavaScript. Run with the uploads on.
import * as tf from '@tensorflow/tfjs-core';
import {hasWebGPUUpload} from '../src/math/fused/webgpu_upload.js';

interface Tally {failures: number; worst: number; count: number}

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]!) && Number.isNaN(b[i]!))) return false;
  return true;
}

/** Runs the upload checks on the active (webgpu) backend; every comparison must be exact. */
export async function uploadChecks(): Promise<Tally> {
  const t: Tally = {failures: 0, worst: 0, count: 0};
  const expect = (what: string, got: ArrayLike<number>, want: ArrayLike<number>) => {
    t.count++;
    const ok = same(got, want);
    if (!ok) t.failures++;
    if (!ok) console.log(`FAIL upload ${what}: got ${Array.from(got).slice(0, 6)} want ${Array.from(want).slice(0, 6)}`);
  };
  console.log(`upload checks: pooled uploads ${hasWebGPUUpload(tf.backend()) ? 'on' : 'OFF'}`);
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 8 - 4;
  for (const n of [1, 3, 1000, 65537]) {
    const f = Float32Array.from({length: n}, rnd);
    const i = Int32Array.from({length: n}, () => Math.round(rnd() * 1000));
    const b = Uint8Array.from({length: n}, () => (rnd() > 0 ? 1 : 0));
    const ft = tf.tensor1d(f), it = tf.tensor1d(i, 'int32'), bt = tf.tensor1d(b, 'bool');
    expect(`float32 round trip n=${n}`, await ft.data(), f);
    expect(`int32 round trip n=${n}`, await it.data(), i);
    expect(`bool round trip n=${n}`, await bt.data(), b);
    tf.dispose([ft, it, bt]);
  }
  // A view with an offset into a larger buffer.
  const big = Float32Array.from({length: 40}, (_, k) => k);
  const view = tf.tensor1d(big.subarray(5, 17));
  expect('float32 view', await view.data(), big.subarray(5, 17));
  view.dispose();
  // Reuse within one unsubmitted encoder: each round uploads fresh values into buffers that the
  // previous round's disposed tensors just returned to the pool, with scalars from JS numbers.
  const n = 4099;
  const want = new Float32Array(n);
  let acc = tf.zeros([n]);
  for (let r = 0; r < 40; r++) {
    const v = Float32Array.from({length: n}, rnd);
    const s = rnd();
    const x = tf.tensor1d(v);
    const prev = acc;
    const next = tf.tidy(() => tf.add(tf.mul(prev, 0.5), tf.mul(x, s))); // 0.5 and s: uploaded scalars
    x.dispose();
    acc.dispose();
    acc = next;
    for (let k = 0; k < n; k++) want[k] = Math.fround(Math.fround(want[k]! * 0.5) + Math.fround(v[k]! * Math.fround(s)));
  }
  const got = await acc.data();
  let err = 0;
  for (let k = 0; k < n; k++) err = Math.max(err, Math.abs(got[k]! - want[k]!) / Math.max(1, Math.abs(want[k]!)));
  t.count++;
  t.worst = Math.max(t.worst, err);
  if (err > 1e-6) {
    t.failures++;
    console.log(`FAIL upload reuse chain: max rel err ${err}`);
  }
  acc.dispose();
  console.log(`upload checks: ${t.count} comparisons, ${t.failures} failures`);
  return t;
}
