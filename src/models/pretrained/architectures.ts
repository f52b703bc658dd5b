/**
 * The architecture registry of `loadPretrained`: the `architectures[0]` name of a `config.json`
 * -> a builder that turns the parsed config and the checkpoint's weights into a {@link Policy}.
 *
 * To add an architecture, write a builder (validate the config fields it needs with
 * `MissingConfigFieldError`, list its weights with their shapes in one `weights.load(specs)` call so
 * that every missing tensor is reported at once) and add one line to {@link ARCHITECTURES}.
 * @module
 */
import type {Policy} from '../policy.js';
import type {CheckpointWeights} from './checkpoint_weights.js';
import {DenseDecoderPolicy} from '../dense_decoder.js';
import {llamaConfig, qwen2Config, qwen3Config} from './dense_config.js';
import {deepseekV3FromCheckpoint} from './deepseek_v3_checkpoint.js';
import {UnknownArchitectureError} from './errors.js';

/** Options every builder receives. */
export interface ArchitectureBuildOptions {
  /** Whether the model's variables are trainable. */
  trainable: boolean;
}

/**
 * Builds a policy from a parsed `config.json` and the checkpoint's weights. The builder owns the
 * tensors it loads (it keeps them as variables or disposes them).
 */
export type ArchitectureBuilder =
  (config: Record<string, unknown>, weights: CheckpointWeights, options: ArchitectureBuildOptions) => Policy;

/**
 * The supported architectures, by their transformers class name (`config.json` `architectures[0]`).
 *
 * @example
 * Object.keys(ARCHITECTURES); // ['LlamaForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM', ...]
 */
export const ARCHITECTURES: Readonly<Record<string, ArchitectureBuilder>> = {
  LlamaForCausalLM: (c, w, o) => DenseDecoderPolicy.fromCheckpoint(llamaConfig(c), w, o),
  Qwen2ForCausalLM: (c, w, o) => DenseDecoderPolicy.fromCheckpoint(qwen2Config(c), w, o),
  Qwen3ForCausalLM: (c, w, o) => DenseDecoderPolicy.fromCheckpoint(qwen3Config(c), w, o),
  DeepseekV3ForCausalLM: deepseekV3FromCheckpoint,
};

/**
 * The builder registered for `architecture`.
 *
 * @param architecture a transformers class name such as `'Qwen2ForCausalLM'`.
 * @returns its {@link ArchitectureBuilder}.
 * @throws `UnknownArchitectureError` listing the supported names.
 * @example
 * const build = architectureBuilder('LlamaForCausalLM');
 */
export function architectureBuilder(architecture: string): ArchitectureBuilder {
  const builder = Object.prototype.hasOwnProperty.call(ARCHITECTURES, architecture) ? ARCHITECTURES[architecture] : undefined;
  if (builder === undefined) throw new UnknownArchitectureError(String(architecture), Object.keys(ARCHITECTURES));
  return builder;
}
