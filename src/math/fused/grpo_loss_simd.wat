;; Per-token part of the fused GRPO loss in WebAssembly SIMD (f32x4 math, f64x2 loss accumulation).
;;
;; Source of the module embedded in grpo_loss_simd_module.ts; rebuild with
;; `node scripts/build_wasm_kernel.mjs` (wabt's wat2wasm, a dev dependency), which first expands the
;; `;; @repeat N` ... `;; @end` blocks (the loop bodies, unrolled N times).
;; The JavaScript side (grpo_loss_simd.ts) lays the inputs out in this module's memory as rows of
;; `stride` float32s (time rounded up to a multiple of 8, the padding masked out), computes the
;; aggregation weight of every row, and reads the loss and gradient back. Same formulas and boundary
;; choices as grpoLossCpuKernel (grpo_loss_cpu.ts), in float32 per token.
(module
  (memory (export "memory") 1)

  ;; out[k] = exp(clamp(a[k] - b[k], lo, hi)) for k < count (a multiple of 8), float32 arrays at byte offsets a, b, out.
  (func $exp_diff (param $a i32) (param $b i32) (param $out i32) (param $count i32) (param $lo f32) (param $hi f32)
    (local $end i32)
    (local $ex v128) (local $ek v128) (local $en v128) (local $ef v128) (local $ey v128)
    (local $cMax v128) (local $cMin v128) (local $cLog2e v128) (local $cMagic v128) (local $cLn2Hi v128) (local $cLn2Lo v128) (local $cP0 v128) (local $cP1 v128) (local $cP2 v128) (local $cP3 v128) (local $cP4 v128) (local $cP5 v128) (local $cOne v128) (local $cTwo v128)
    ;; exp(x) per lane (r = exp(lp - old) clamped to [-20, 20] as verl, k3's exp(ref - lp) and the TIS
    ;; weight's exp(old - rollout) clamped to [-87.33, 89] only): float32-accurate (Cephes expf:
    ;; x = n ln2 + f, |f| <= ln2/2, degree-7 polynomial, about 1 ulp).
    ;; x is clamped to [lo, hi] (pmin/pmax keep NaN: NaN gives NaN); n = round(x log2 e) by adding
    ;; 1.5 * 2^23 + 126 (the float32 sum rounds to an integer; its low bits are n + 126, the exponent
    ;; field of 2^(n - 1)); result = p(f) * 2^(n - 1) * 2, so that n = 128 stays representable.
    ;; x > 88.73 gives +Infinity (the product overflows), x < -86.99 gives 0 (exp < 2.5e-38, the
    ;; bottom of float32's normal range). Constants live in locals: V8 keeps them in registers
    ;; (this function has few other live values).
    (local.set $cMax (f32x4.splat (local.get $hi)))
    (local.set $cMin (f32x4.splat (local.get $lo)))
    (local.set $cLog2e (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))
    (local.set $cMagic (v128.const f32x4 12583038 12583038 12583038 12583038))
    (local.set $cLn2Hi (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))
    (local.set $cLn2Lo (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))
    (local.set $cP0 (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $cP1 (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3))
    (local.set $cP2 (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3))
    (local.set $cP3 (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2))
    (local.set $cP4 (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1))
    (local.set $cP5 (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1))
    (local.set $cOne (v128.const f32x4 1 1 1 1))
    (local.set $cTwo (v128.const f32x4 2 2 2 2))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (loop $vectors
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        ;; two vectors per iteration
        ;; @repeat 2
      (local.set $ex (f32x4.pmax (f32x4.pmin (f32x4.sub (v128.load (local.get $a)) (v128.load (local.get $b))) (local.get $cMax)) (local.get $cMin)))
      (local.set $ek (f32x4.add (f32x4.mul (local.get $ex) (local.get $cLog2e)) (local.get $cMagic)))
      (local.set $en (f32x4.sub (local.get $ek) (local.get $cMagic)))
      (local.set $ef (f32x4.sub (f32x4.sub (local.get $ex) (f32x4.mul (local.get $en) (local.get $cLn2Hi)))
                                (f32x4.mul (local.get $en) (local.get $cLn2Lo))))
      (local.set $ey (f32x4.add (f32x4.mul (local.get $cP0) (local.get $ef)) (local.get $cP1)))
      (local.set $ey (f32x4.add (f32x4.mul (local.get $ey) (local.get $ef)) (local.get $cP2)))
      (local.set $ey (f32x4.add (f32x4.mul (local.get $ey) (local.get $ef)) (local.get $cP3)))
      (local.set $ey (f32x4.add (f32x4.mul (local.get $ey) (local.get $ef)) (local.get $cP4)))
      (local.set $ey (f32x4.add (f32x4.mul (local.get $ey) (local.get $ef)) (local.get $cP5)))
      (local.set $ey (f32x4.add (f32x4.add (f32x4.mul (f32x4.mul (local.get $ey) (local.get $ef)) (local.get $ef))
                                           (local.get $ef)) (local.get $cOne)))
      (v128.store (local.get $out) (f32x4.mul (f32x4.mul (local.get $ey)
          (i32x4.shl (local.get $ek) (i32.const 23))) (local.get $cTwo)))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        ;; @end
        (br $vectors))))

  ;; counts[i] (int32) = number of nonzero mask entries of row i.
  (func (export "row_counts") (param $mask i32) (param $batch i32) (param $stride i32) (param $out i32)
    (local $i i32) (local $p i32) (local $end i32) (local $acc v128)
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $batch)))
        (local.set $p (i32.add (local.get $mask) (i32.shl (i32.mul (local.get $i) (local.get $stride)) (i32.const 2))))
        (local.set $end (i32.add (local.get $p) (i32.shl (local.get $stride) (i32.const 2))))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (block $row_done
          (loop $cols
            (br_if $row_done (i32.ge_u (local.get $p) (local.get $end)))
            ;; f32x4.ne gives -1 in the lanes that count
            (local.set $acc (i32x4.sub (local.get $acc)
                (f32x4.ne (v128.load (local.get $p)) (v128.const f32x4 0 0 0 0))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $cols)))
        (i32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
          (i32.add (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
                   (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; Returns sum_i weights[i] * (sum over row i's mask tokens of the per-token loss), in float64, and
  ;; (flag 16) writes grad = weights[row] * d loss_t / d logProbs_t (0 at masked tokens).
  ;; Pointers are byte offsets of float32 arrays laid out as [batch, stride] (adv: [batch] unless
  ;; flag 8); weights: float64 [batch]. flags: 1 old log-probs given (else ratio 1), 2 KL term,
  ;; 4 dual-clip, 8 advantages per token, 16 write the gradient, 32 check values, 64 truncated
  ;; importance sampling (TIS) against the rollout log-probs at $roll.
  ;; est: 0 k1, 1 k2, 2 k3, 3 abs. lo = 1 - clipLow, hi = 1 + clipHigh.
  ;; Per row, a first pass ($exp_diff) writes r = exp(clamp(lp - old, -20, 20)) into the row of grad
  ;; (read back, then overwritten, by the second pass), k3's exp(ref - lp) into scratch and the TIS
  ;; weight's exp(old - rollout) into tisScratch ([stride] float32 each).
  ;; Per token (the formula of grpo_loss_cpu.ts's module doc, which every kernel mirrors):
  ;;   pg = -min(r A, clip(r, lo, hi) A) (capped at -dual A for A < 0 with dual-clip), gradient -r A
  ;;   inside the clip range, 0 where a clip, the dual bound or the log-ratio clamp is active;
  ;;   TIS: pg and its gradient times w = min(exp(old - rollout), tisCap) (a constant);
  ;;   plus beta * KL(lp, ref).
  ;; Value checks (flag 32): a lane is bad when its mask is not 0 or 1, or it is unmasked and a
  ;; log-prob (lp, old, ref, rollout) is not in (-Infinity, 1e-4] or a per-token advantage is not
  ;; finite; status (int32 at $status) = 1 when any lane was bad (JavaScript then finds and names it).
  (func (export "grpo_loss") (param $lp i32) (param $old i32) (param $ref i32) (param $adv i32) (param $mask i32)
      (param $grad i32) (param $scratch i32) (param $weights i32) (param $batch i32) (param $stride i32) (param $flags i32)
      (param $lo f32) (param $hi f32) (param $dual f32) (param $beta f32) (param $est i32)
      (param $roll i32) (param $tisScratch i32) (param $tisCap f32) (param $status i32) (result f64)
    (local $i i32) (local $o i32) (local $end i32) (local $total f64) (local $w f64)
    (local $hasOld i32) (local $hasRef i32) (local $useDual i32) (local $advPerToken i32) (local $writeGrad i32)
    (local $check i32) (local $tis i32) (local $klInLoss i32)
    (local $vlo v128) (local $vhi v128) (local $vdual v128) (local $vbeta v128) (local $vcap v128)
    (local $va v128) (local $vw v128) (local $acc v128) (local $bad v128)
    (local $x v128) (local $a v128) (local $r v128) (local $active v128) (local $clipLowC v128) (local $clipHighC v128)
    (local $clipped v128) (local $cr v128) (local $loss v128) (local $g v128) (local $d v128) (local $e v128)
    (local $dualC v128) (local $aneg v128) (local $mv v128) (local $ov v128) (local $rv v128) (local $kl v128)
    (local $cOne v128) (local $cLimit v128) (local $cNegInf v128) (local $cInf v128) (local $cClamp v128)
    (local $rowStart i32) (local $k3 i32)
    (local.set $cOne (v128.const f32x4 1 1 1 1))
    (local.set $cLimit (v128.const f32x4 1e-4 1e-4 1e-4 1e-4))
    (local.set $cNegInf (v128.const f32x4 -inf -inf -inf -inf))
    (local.set $cInf (v128.const f32x4 inf inf inf inf))
    (local.set $cClamp (v128.const f32x4 20 20 20 20))
    (local.set $hasOld (i32.and (local.get $flags) (i32.const 1)))
    (local.set $hasRef (i32.and (local.get $flags) (i32.const 2)))
    (local.set $useDual (i32.and (local.get $flags) (i32.const 4)))
    (local.set $advPerToken (i32.and (local.get $flags) (i32.const 8)))
    (local.set $writeGrad (i32.and (local.get $flags) (i32.const 16)))
    (local.set $check (i32.and (local.get $flags) (i32.const 32)))
    (local.set $tis (i32.and (local.get $flags) (i32.const 64)))
    (local.set $klInLoss (f32.ne (local.get $beta) (f32.const 0)))
    (local.set $k3 (i32.and (i32.ne (local.get $hasRef) (i32.const 0)) (i32.eq (local.get $est) (i32.const 2))))
    (local.set $vlo (f32x4.splat (local.get $lo)))
    (local.set $vhi (f32x4.splat (local.get $hi)))
    (local.set $vdual (f32x4.splat (local.get $dual)))
    (local.set $vbeta (f32x4.splat (local.get $beta)))
    (local.set $vcap (f32x4.splat (local.get $tisCap)))
    (local.set $bad (v128.const i32x4 0 0 0 0))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $batch)))
        ;; $o: byte offset of the row's first token in every [batch, stride] array
        (local.set $o (i32.shl (i32.mul (local.get $i) (local.get $stride)) (i32.const 2)))
        (local.set $end (i32.add (local.get $o) (i32.shl (local.get $stride) (i32.const 2))))
        (local.set $w (f64.load (i32.add (local.get $weights) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $vw (f32x4.splat (f32.demote_f64 (local.get $w))))
        (if (i32.eqz (local.get $advPerToken))
          (then (local.set $va (v128.load32_splat (i32.add (local.get $adv) (i32.shl (local.get $i) (i32.const 2)))))))
        (local.set $acc (v128.const f64x2 0 0))
        ;; first pass over the row (in cache for the second): the exponentials, in a function of their
        ;; own so that the polynomial's constants and the loss's values do not compete for registers.
        (local.set $rowStart (local.get $o))
        (if (local.get $hasOld)
          (then (call $exp_diff (i32.add (local.get $lp) (local.get $o)) (i32.add (local.get $old) (local.get $o))
                                (i32.add (local.get $grad) (local.get $o)) (local.get $stride)
                                (f32.const -20) (f32.const 20))))
        (if (local.get $k3)
          (then (call $exp_diff (i32.add (local.get $ref) (local.get $o)) (i32.add (local.get $lp) (local.get $o))
                                (local.get $scratch) (local.get $stride) (f32.const -87.33) (f32.const 89))))
        (if (local.get $tis)
          (then (call $exp_diff (i32.add (if (result i32) (local.get $hasOld) (then (local.get $old)) (else (local.get $lp)))
                                         (local.get $o))
                                (i32.add (local.get $roll) (local.get $o))
                                (local.get $tisScratch) (local.get $stride) (f32.const -87.33) (f32.const 89))))
        (block $row_done
          (loop $cols
            (br_if $row_done (i32.ge_u (local.get $o) (local.get $end)))
            ;; two vectors (8 tokens) per iteration: the same body twice (stride is a multiple of 8)
            ;; @repeat 2
            (local.set $mv (v128.load (i32.add (local.get $mask) (local.get $o))))
            (local.set $active (f32x4.ne (local.get $mv) (v128.const f32x4 0 0 0 0)))
            (local.set $x (v128.load (i32.add (local.get $lp) (local.get $o))))
            (local.set $a (if (result v128) (local.get $advPerToken)
                (then (v128.load (i32.add (local.get $adv) (local.get $o))))
                (else (local.get $va))))
            ;; r = exp(clamp(lp - old, -20, 20)), written into the gradient's place by the first pass
            (local.set $r (if (result v128) (local.get $hasOld)
                (then (v128.load (i32.add (local.get $grad) (local.get $o))))
                (else (local.get $cOne))))
            ;; -min(r A, clip(r, lo, hi) A): the clipped branch is active (constant, gradient 0) for
            ;; A < 0, r < lo and for A > 0, r > hi; else -r A, whose gradient is -r A too.
            (local.set $aneg (f32x4.lt (local.get $a) (v128.const f32x4 0 0 0 0)))
            (local.set $clipLowC (v128.and (local.get $aneg) (f32x4.lt (local.get $r) (local.get $vlo))))
            (local.set $clipHighC (v128.and (f32x4.gt (local.get $a) (v128.const f32x4 0 0 0 0))
                                            (f32x4.gt (local.get $r) (local.get $vhi))))
            (local.set $cr (v128.bitselect (local.get $vlo) (local.get $r) (local.get $clipLowC)))
            (local.set $cr (v128.bitselect (local.get $vhi) (local.get $cr) (local.get $clipHighC)))
            (local.set $clipped (v128.or (local.get $clipLowC) (local.get $clipHighC)))
            (if (local.get $hasOld)
              (then
                ;; the log-ratio clamp: |lp - old| > 20 gives gradient 0 (as clip's gradient outside its range)
                (local.set $ov (v128.load (i32.add (local.get $old) (local.get $o))))
                (local.set $clipped (v128.or (local.get $clipped)
                    (f32x4.gt (f32x4.abs (f32x4.sub (local.get $x) (local.get $ov))) (local.get $cClamp))))))
            (if (local.get $useDual)
              (then
                ;; dual-clip: A < 0 and r > c gives -c A (gradient 0)
                (local.set $dualC (v128.and (local.get $aneg) (f32x4.gt (local.get $r) (local.get $vdual))))
                (local.set $cr (v128.bitselect (local.get $vdual) (local.get $cr) (local.get $dualC)))
                (local.set $clipped (v128.or (local.get $clipped) (local.get $dualC)))))
            (local.set $loss (f32x4.neg (f32x4.mul (local.get $cr) (local.get $a))))
            (local.set $g (v128.andnot (f32x4.neg (f32x4.mul (local.get $r) (local.get $a))) (local.get $clipped)))
            (if (local.get $tis)
              (then
                ;; TIS: w = min(exp(old - rollout), cap), a constant weight of the policy-gradient term
                (local.set $e (f32x4.min (v128.load (i32.add (local.get $tisScratch) (i32.sub (local.get $o) (local.get $rowStart))))
                                         (local.get $vcap)))
                (local.set $loss (f32x4.mul (local.get $loss) (local.get $e)))
                (local.set $g (f32x4.mul (local.get $g) (local.get $e)))
                (if (local.get $check)
                  (then (local.set $rv (v128.load (i32.add (local.get $roll) (local.get $o))))
                        (local.set $bad (v128.or (local.get $bad) (v128.andnot (local.get $active)
                            (v128.and (f32x4.le (local.get $rv) (local.get $cLimit)) (f32x4.gt (local.get $rv) (local.get $cNegInf))))))))))
            (if (local.get $hasRef)
              (then
                (local.set $rv (v128.load (i32.add (local.get $ref) (local.get $o))))
                (local.set $d (f32x4.sub (local.get $x) (local.get $rv)))
                (if (local.get $check)
                  (then (local.set $bad (v128.or (local.get $bad) (v128.andnot (local.get $active)
                      (v128.and (f32x4.le (local.get $rv) (local.get $cLimit)) (f32x4.gt (local.get $rv) (local.get $cNegInf))))))))
                (if (local.get $klInLoss)
                  (then
                (if (i32.eq (local.get $est) (i32.const 2))
                  (then
                    ;; k3: e^-d - 1 + d, gradient 1 - e^-d
                    (local.set $e (v128.load (i32.add (local.get $scratch) (i32.sub (local.get $o) (local.get $rowStart)))))
                    (local.set $loss (f32x4.add (local.get $loss) (f32x4.mul (local.get $vbeta)
                        (f32x4.add (f32x4.sub (local.get $e) (local.get $cOne)) (local.get $d)))))
                    (local.set $g (f32x4.add (local.get $g) (f32x4.mul (local.get $vbeta)
                        (f32x4.sub (local.get $cOne) (local.get $e))))))
                  (else (if (i32.eqz (local.get $est))
                    (then
                      ;; k1: d, gradient 1
                      (local.set $loss (f32x4.add (local.get $loss) (f32x4.mul (local.get $vbeta) (local.get $d))))
                      (local.set $g (f32x4.add (local.get $g) (local.get $vbeta))))
                    (else (if (i32.eq (local.get $est) (i32.const 1))
                      (then
                        ;; k2: d^2 / 2, gradient d
                        (local.set $loss (f32x4.add (local.get $loss) (f32x4.mul (f32x4.mul (local.get $vbeta) (v128.const f32x4 0.5 0.5 0.5 0.5))
                            (f32x4.mul (local.get $d) (local.get $d)))))
                        (local.set $g (f32x4.add (local.get $g) (f32x4.mul (local.get $vbeta) (local.get $d)))))
                      (else
                        ;; abs: |d|, gradient sign(d) with -1 at 0 (tfjs's step(d, -1))
                        (local.set $loss (f32x4.add (local.get $loss) (f32x4.mul (local.get $vbeta) (f32x4.abs (local.get $d)))))
                        (local.set $g (f32x4.add (local.get $g)
                            (v128.bitselect (local.get $vbeta) (f32x4.neg (local.get $vbeta))
                              (f32x4.gt (local.get $d) (v128.const f32x4 0 0 0 0)))))))))))))))
            (if (local.get $check)
              (then
                ;; the mask is 0 or 1 (every lane); lp, old finite and <= 1e-4, per-token A finite (unmasked lanes)
                (local.set $bad (v128.or (local.get $bad) (v128.and (local.get $active) (f32x4.ne (local.get $mv) (local.get $cOne)))))
                (local.set $bad (v128.or (local.get $bad) (v128.andnot (local.get $active)
                    (v128.and (f32x4.le (local.get $x) (local.get $cLimit)) (f32x4.gt (local.get $x) (local.get $cNegInf))))))
                (if (local.get $hasOld)
                  (then (local.set $bad (v128.or (local.get $bad) (v128.andnot (local.get $active)
                      (v128.and (f32x4.le (local.get $ov) (local.get $cLimit)) (f32x4.gt (local.get $ov) (local.get $cNegInf))))))))
                (if (local.get $advPerToken)
                  (then (local.set $bad (v128.or (local.get $bad) (v128.andnot (local.get $active)
                      (f32x4.lt (f32x4.abs (local.get $a)) (local.get $cInf)))))))))
            ;; masked tokens: exactly 0 (also when their inputs are NaN or infinite)
            (local.set $loss (v128.and (local.get $loss) (local.get $active)))
            (local.set $acc (f64x2.add (local.get $acc) (f64x2.promote_low_f32x4 (local.get $loss))))
            (local.set $acc (f64x2.add (local.get $acc) (f64x2.promote_low_f32x4
                (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $loss) (local.get $loss)))))
            (if (local.get $writeGrad)
              (then (v128.store (i32.add (local.get $grad) (local.get $o))
                (v128.and (f32x4.mul (local.get $g) (local.get $vw)) (local.get $active)))))
            (local.set $o (i32.add (local.get $o) (i32.const 16)))
            ;; @end
            (br $cols)))
        (local.set $total (f64.add (local.get $total) (f64.mul (local.get $w)
            (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
    (i32.store (local.get $status) (v128.any_true (local.get $bad)))
    (local.get $total))
)
