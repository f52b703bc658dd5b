// The error measure of the GPU self-checks that compare a fused path with the composed ops
// (webgpu_check_ops.ts, webgpu_check_rmsnorm.ts): max |a - b| over max |b| (at least `floor`); a NaN
// on one side only, or a length mismatch, is an infinite error; NaN on both sides agrees.

/** Max absolute difference of `a` and `b`, relative to max |b| (at least `floor`). */
export function maxRel(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-12): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]!));
    const d = Number.isNaN(a[i]!) !== Number.isNaN(b[i]!) ? Infinity : Number.isNaN(b[i]!) ? 0 : Math.abs(a[i]! - b[i]!);
    err = Math.max(err, d);
  }
  return a.length !== b.length ? Infinity : err / Math.max(scale, floor);
}
