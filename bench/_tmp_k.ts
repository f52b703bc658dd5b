import {grpoLossSimdKernel} from '../src/math/fused/grpo_loss_simd.js';
import {grpoLossCpuKernel} from '../src/math/fused/grpo_loss_cpu.js';
const B = 256, T = 2048, n = B * T;
const lp = new Float32Array(n), old = new Float32Array(n), ref = new Float32Array(n), mask = new Float32Array(n), adv = new Float32Array(B);
for (let k = 0; k < n; k++) { lp[k] = -3 * Math.random(); old[k] = lp[k]! + 0.6 * (Math.random() - 0.5); ref[k] = lp[k]! + 0.6 * (Math.random() - 0.5); mask[k] = Math.random() < 0.9 ? 1 : 0; }
for (let i = 0; i < B; i++) adv[i] = Math.random() * 2 - 1;
const x = {logProbs: lp, oldLogProbs: old, refLogProbs: ref, advantages: adv, mask, batch: B, time: T, advantagesPerToken: false};
const c = {beta: 0.04, klEstimator: 'k3', clipLow: 0.2, clipHigh: 0.28, dualClip: undefined, ratioLevel: 'token', aggregation: 'token-mean', maxLength: undefined, normalizer: undefined} as const;
function time(name: string, f: () => unknown) {
  const ts: number[] = [];
  for (let k = 0; k < 21; k++) { const t0 = performance.now(); f(); ts.push(performance.now() - t0); }
  ts.sort((a, b) => a - b); console.log(name, 'median', ts[10]!.toFixed(2), 'min', ts[0]!.toFixed(2));
}
const g = new Float32Array(n);
time('js kernel', () => grpoLossCpuKernel(x, c as never, g));
time('simd total', () => grpoLossSimdKernel(x, c as never, true));
time('simd nograd', () => grpoLossSimdKernel(x, c as never, false));
time('4 copies', () => { const h = new Float32Array(5 * n); h.set(lp, 0); h.set(old, n); h.set(ref, 2 * n); h.set(mask, 3 * n); });
const h = new Float32Array(6 * n);
time('4 copies prealloc', () => { h.set(lp, 0); h.set(old, n); h.set(ref, 2 * n); h.set(mask, 3 * n); });
time('slice 2MB', () => h.slice(0, n));
time('js kernel', () => grpoLossCpuKernel(x, c as never, g));
time('simd total', () => grpoLossSimdKernel(x, c as never, true));
time('simd nograd beta0', () => grpoLossSimdKernel(x, {...c, beta: 0} as never, false));
time('simd nograd beta0 noold', () => grpoLossSimdKernel({...x, oldLogProbs: undefined}, {...c, beta: 0} as never, false));
time('simd nograd k1', () => grpoLossSimdKernel(x, {...c, klEstimator: 'k1'} as never, false));
