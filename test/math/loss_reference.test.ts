// Compares grpoLoss and klPenalty with test/fixtures/loss_reference.json: values and gradients from
// PyTorch re-implementations of TRL's GRPO loss and verl's policy loss / KL / aggregation
// (test/reference/loss_reference.py). Each case stores the tfjs-grpo options that map onto it
// (docs/loss-modes.md). No Python is needed here.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import {describe, expect, it} from 'vitest';
import {type GrpoLossInputs, type GrpoLossOptions, grpoLoss} from '../../src/math/grpo_loss.js';
import {klPenalty, type KlPenaltyOptions} from '../../src/math/kl_penalty.js';
import fixture from '../fixtures/loss_reference.json';

interface LossCase {
  name: string;
  source: string;
  options: GrpoLossOptions;
  inputs: {logProbs: number[][]; oldLogProbs?: number[][]; refLogProbs?: number[][]; advantages: number[] | number[][]; mask: number[][]};
  loss: number;
  grad: number[][];
}
interface KlCase {name: string; options: KlPenaltyOptions; logProbs: number[][]; refLogProbs: number[][]; values: number[][]}

const cases = fixture.cases as LossCase[];
const klCases = fixture.klCases as KlCase[];

/** float32 agreement: |a - b| <= atol + rtol |b|. */
function close(actual: number, expected: number, label: string, rtol = 1e-4, atol = 1e-6): void {
  expect(Math.abs(actual - expected), `${label}: ${actual} vs ${expected}`).toBeLessThanOrEqual(atol + rtol * Math.abs(expected));
}

describe('loss reference fixtures (TRL / verl semantics)', () => {
  it('the fixture covers TRL grpo/bnpo/dr_grpo/dapo/delta/GSPO and verl modes, GSPO, KL', () => {
    expect(cases.length).toBeGreaterThanOrEqual(13);
    expect(klCases.length).toBeGreaterThanOrEqual(5);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s: loss and gradient match', (_name, c) => {
    const i = c.inputs;
    const inputs: GrpoLossInputs = {
      logProbs: tf.tensor2d(i.logProbs),
      advantages: Array.isArray(i.advantages[0]) ? tf.tensor2d(i.advantages as number[][]) : tf.tensor1d(i.advantages as number[]),
      mask: tf.tensor2d(i.mask),
    };
    if (i.oldLogProbs) inputs.oldLogProbs = tf.tensor2d(i.oldLogProbs);
    if (i.refLogProbs) inputs.refLogProbs = tf.tensor2d(i.refLogProbs);
    const {value, grads} = tf.valueAndGrads((x: tf.Tensor) => grpoLoss({...inputs, logProbs: x}, c.options))([inputs.logProbs]);
    close(value.dataSync()[0]!, c.loss, `${c.name} loss`);
    const g = grads[0]!.arraySync() as number[][];
    const scale = Math.max(...c.grad.flat().map(Math.abs));
    g.forEach((row, b) => row.forEach((v, t) => close(v, c.grad[b]![t]!, `${c.name} grad[${b},${t}]`, 1e-4, 1e-5 * scale)));
    tf.dispose([value, ...grads, inputs.logProbs, inputs.advantages, inputs.mask,
      ...(inputs.oldLogProbs ? [inputs.oldLogProbs] : []), ...(inputs.refLogProbs ? [inputs.refLogProbs] : [])]);
  });

  it.each(klCases.map((c) => [c.name, c] as const))('%s: per-token values match', (_name, c) => {
    const [lp, ref] = [tf.tensor2d(c.logProbs), tf.tensor2d(c.refLogProbs)];
    const out = klPenalty(lp, ref, c.options);
    (out.arraySync() as number[][]).forEach((row, b) => row.forEach((v, t) => close(v, c.values[b]![t]!, `${c.name}[${t}]`)));
    tf.dispose([lp, ref, out]);
  });
});
