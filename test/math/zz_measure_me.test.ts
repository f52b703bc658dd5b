import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {it} from 'vitest';
import {tokenLogProbs} from '../../src/math/token_log_probs.js';
import {linearTokenLogProbs} from '../../src/math/linear_token_log_probs.js';
function peakNewBytes(f: () => void): number {
  const backend = tf.backend() as any; const {write, disposeData} = backend;
  const live = new Map(); let cur = 0, peak = 0;
  backend.write = function(v: any, s: any, d: any) { const id = write.call(this, v, s, d); const b = tf.util.sizeFromShape(s) * tf.util.bytesPerElement(d); live.set(id, b); cur += b; peak = Math.max(peak, cur); return id; };
  backend.disposeData = function(id: any, f2: any) { const r = disposeData.call(this, id, f2); if (r && live.has(id)) { cur -= live.get(id); live.delete(id); } return r; };
  try { f(); } finally { backend.write = write; backend.disposeData = disposeData; }
  return peak;
}
it('measure', () => {
  const [B, T, H, V] = [4, 128, 64, 8192];
  const hidden = tf.randomNormal([B, T, H], 0, 1, 'float32', 1) as tf.Tensor3D;
  const weight = tf.randomNormal([H, V], 0, 0.1, 'float32', 2) as tf.Tensor2D;
  const tokens = tf.randomUniformInt([B, T], 0, V, 3) as tf.Tensor2D;
  const dy = tf.onesLike(tokens).asType('float32');
  const MiB = (b: number) => (b / 2 ** 20).toFixed(2);
  const full = B * T * V * 4;
  const naiveLp = (logits: tf.Tensor) => tf.sum(tf.mul(tf.logSoftmax(logits), tf.cast(tf.oneHot(tokens, V), 'float32')), -1);
  const naive = (h: tf.Tensor, w: tf.Tensor) => naiveLp(tf.reshape(tf.matMul(tf.reshape(h, [B * T, H]), w), [B, T, V]));
  const time = (f: () => void) => { f(); const t0 = performance.now(); f(); return (performance.now() - t0).toFixed(0); };
  const rows: string[] = [`backend ${tf.getBackend()} B=${B} T=${T} H=${H} V=${V}; full logits ${MiB(full)} MiB`];
  const gLin = () => tf.dispose(tf.grads((h: tf.Tensor, w: tf.Tensor) => linearTokenLogProbs(h as tf.Tensor3D, w as tf.Tensor2D, tokens, {chunkSize: 64}))([hidden, weight], dy));
  const gNaive = () => tf.dispose(tf.grads(naive)([hidden, weight], dy));
  rows.push(`linear fwd+bwd peak new ${MiB(peakNewBytes(gLin))} MiB, ${time(gLin)} ms`);
  rows.push(`naive matMul+logSoftmax fwd+bwd peak new ${MiB(peakNewBytes(gNaive))} MiB, ${time(gNaive)} ms`);
  rows.push(`linear fwd peak ${MiB(peakNewBytes(() => tf.dispose(linearTokenLogProbs(hidden, weight, tokens, {chunkSize: 64}))))} MiB; naive fwd peak ${MiB(peakNewBytes(() => tf.dispose(naive(hidden, weight))))} MiB`);
  const logits = tf.reshape(tf.matMul(tf.reshape(hidden, [B * T, H]), weight), [B, T, V]) as tf.Tensor3D;
  const gTok = () => tf.dispose(tf.grad((x: tf.Tensor) => tokenLogProbs(x as tf.Tensor3D, tokens, {chunkSize: 64}))(logits, dy));
  const gTokNaive = () => tf.dispose(tf.grad((x: tf.Tensor) => naiveLp(x))(logits, dy));
  rows.push(`tokenLogProbs fwd+bwd (logits given) peak new ${MiB(peakNewBytes(gTok))} MiB, ${time(gTok)} ms; naive ${MiB(peakNewBytes(gTokNaive))} MiB, ${time(gTokNaive)} ms`);
  console.log(rows.join('\n'));
});
