/**
 * The weight-getter type the architecture builders read checkpoint tensors through.
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';

/** Returns the weight stored under a checkpoint name (e.g. `model.layers.0.mlp.gate_proj.weight`). */
export type WeightGetter = (name: string) => tf.Tensor;
