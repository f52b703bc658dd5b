// grpoLoss in your own training loop: a linear softmax policy over random contexts and tokens,
// several clipped updates on one sampled batch (old policy fixed), KL to the initial policy.
// Run: npx tsx examples/grpo_custom_loop.ts
import * as tf from '@tensorflow/tfjs-core';
import {pathToFileURL} from 'node:url';
import {grpoLossWithStats} from '../src/index.js';

/** Trains for `steps` updates and returns the loss of each; needs tfjs gradients registered. */
export function trainCustomLoop({steps = 40, seed = 1, log = (_line: string) => {}} = {}): number[] {
  const [batch, time, hidden, vocab] = [8, 6, 16, 12];
  const contexts = tf.randomNormal([batch * time, hidden], 0, 1, 'float32', seed);
  const tokens = tf.randomUniform([batch, time], 0, vocab, 'int32', seed + 1);
  const lengths = tf.randomUniform([batch, 1], 2, time + 1, 'int32', seed + 2);
  const mask = tf.tidy(() => tf.cast(tf.less(tf.expandDims(tf.range(0, time, 1, 'int32'), 0), lengths), 'float32'));
  const advantages = tf.randomNormal([batch], 0, 1, 'float32', seed + 3);
  const weights = tf.variable(tf.randomNormal([hidden, vocab], 0, 0.1, 'float32', seed + 4));
  const logProbsOf = () => tf.tidy(() => {
    const logits = tf.reshape(tf.matMul(contexts, weights), [batch, time, vocab]);
    return tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tokens, vocab)), -1);
  });
  const oldLogProbs = logProbsOf(); // the sampling policy: a constant during the updates
  const refLogProbs = tf.clone(oldLogProbs); // the reference policy for the KL term
  const optimizer = tf.train.adam(0.01);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    let clipFrac: tf.Scalar | undefined;
    const loss = optimizer.minimize(() => {
      const {loss, stats} = grpoLossWithStats(
          {logProbs: logProbsOf(), oldLogProbs, refLogProbs, advantages, mask},
          {beta: 0.04, clipLow: 0.2, clipHigh: 0.28, aggregation: 'token-mean'});
      clipFrac = tf.keep(tf.add(stats.clipFracLow, stats.clipFracHigh) as tf.Scalar); // stats survive minimize's tidy
      return loss;
    }, true)!;
    losses.push(loss.dataSync()[0]!);
    log(`step ${step}: loss ${losses[step]!.toFixed(4)}, clipped ${(100 * clipFrac!.dataSync()[0]!).toFixed(0)}%`);
    tf.dispose([loss, clipFrac!]);
  }
  tf.dispose([contexts, tokens, lengths, mask, advantages, weights, oldLogProbs, refLogProbs]);
  optimizer.dispose();
  return losses;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await import('@tensorflow/tfjs'); // registers the gradients of every op (tfjs-core alone has none)
  await tf.setBackend('cpu');
  const losses = trainCustomLoop({log: console.log});
  console.log(`loss ${losses[0]!.toFixed(4)} -> ${losses[losses.length - 1]!.toFixed(4)}`);
}
