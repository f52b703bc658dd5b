/**
 * The `loadPretrained` builder of `DeepseekV3ForCausalLM`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {DeepseekV3Policy} from '../deepseek_v3.js';
import {deepseekV3WeightShapes, resolveDeepseekV3Config, type DeepseekV3Config} from '../deepseek_v3_config.js';
import type {CheckpointWeights} from './checkpoint_weights.js';

/**
 * Builds a {@link DeepseekV3Policy} from a DeepSeek-V3 checkpoint: every tensor of
 * `deepseekV3WeightShapes` (per-expert `mlp.experts.E.*`, the router `e_score_correction_bias`, the MTP
 * layers `model.layers.{L+k}.*` when `num_nextn_predict_layers` > 0) in one `load` call, so that all
 * missing tensors are named at once; FP8 blocks arrive dequantized from the checkpoint reader.
 *
 * @param config the parsed `config.json`.
 * @param weights the checkpoint's tensors.
 * @param options.trainable whether the variables are trainable.
 * @returns the policy (it owns its variables; the loaded tensors are freed).
 * @example
 * // registered as ARCHITECTURES.DeepseekV3ForCausalLM: reached through loadPretrained
 * const load: typeof loadPretrained = loadPretrained;
 */
export function deepseekV3FromCheckpoint(
    config: Record<string, unknown>, weights: CheckpointWeights, options: {trainable: boolean}): DeepseekV3Policy {
  const c = config as DeepseekV3Config;
  const loaded = weights.load(deepseekV3WeightShapes(resolveDeepseekV3Config(c)));
  try {
    return DeepseekV3Policy.fromWeights(c, (n) => loaded.get(n)!, {trainable: options.trainable});
  } finally {
    tf.dispose([...loaded.values()]);
  }
}
