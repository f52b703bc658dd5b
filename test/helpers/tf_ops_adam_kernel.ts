// An AdamKernel of tf ops in tfjs-core 4.x's AdamOptimizer order of operations: on cpu it gives
// bit for bit what tf.train.adam's applyGradients gives on the gradients times their group's factor,
// so the fused Adam path (fused_adam_update.ts, applyClippedGradients) can be tested without a GPU.
import * as tf from '@tensorflow/tfjs-core';
import type {AdamKernel} from '../../src/math/fused/adam_webgpu.js';

/** tfjs-core's AdamOptimizer.applyGradients, op for op, on the gradient times its group's factor. */
export const tfOpsAdamKernel: AdamKernel = {
  available: () => true,
  update: (slots, factors, accBeta1, accBeta2, c) => tf.tidy(() => {
    const oneMinusAccBeta1 = tf.sub(1, accBeta1);
    const oneMinusAccBeta2 = tf.sub(1, accBeta2);
    const out = {params: [] as tf.Tensor[], firstMoments: [] as tf.Tensor[], secondMoments: [] as tf.Tensor[],
      accBeta1: tf.mul(accBeta1, c.beta1) as tf.Scalar, accBeta2: tf.mul(accBeta2, c.beta2) as tf.Scalar};
    for (const s of slots) {
      const g = tf.mul(s.grad, tf.reshape(tf.slice(factors, [s.group], [1]), []));
      const m = tf.add(tf.mul(s.firstMoment, c.beta1), tf.mul(g, 1 - c.beta1));
      const v = tf.add(tf.mul(s.secondMoment, c.beta2), tf.mul(tf.square(g), 1 - c.beta2));
      const update = tf.div(tf.div(m, oneMinusAccBeta1), tf.add(tf.sqrt(tf.div(v, oneMinusAccBeta2)), c.epsilon));
      out.params.push(tf.add(tf.mul(update, -c.learningRate), s.param));
      out.firstMoments.push(m);
      out.secondMoments.push(v);
    }
    return out;
  }),
};
