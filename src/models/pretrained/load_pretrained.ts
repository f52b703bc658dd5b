/**
 * `loadPretrained` from bytes (browser-safe): a Hugging Face checkpoint as a trainable {@link Policy}.
 * The Node form that reads a folder lives in `tfjs-grpo/node`.
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import type {Policy, PolicyApplyOptions, PolicyCachedInputs, PolicyCachedOutput, PolicyForward} from '../policy.js';
import {assertKnownInputs, assertKnownOptions} from '../../math/assert.js';
import {architectureBuilder} from './architectures.js';
import {safetensorsCheckpoint} from './checkpoint_weights.js';
import {MissingConfigFieldError, MissingTensorError, PretrainedLoadError} from './errors.js';
import {type HfTokenizer, hfTokenizer} from './hf_tokenizer.js';
import {parseSafetensors, type SafetensorsFile} from './safetensors.js';
import type {JsonObject} from './json.js';

/** The parsed tokenizer files of a checkpoint. */
export interface PretrainedTokenizerFiles {
  /** Parsed `tokenizer.json`. */
  tokenizerJson: JsonObject;
  /** Parsed `tokenizer_config.json`. */
  tokenizerConfig?: JsonObject;
  /** Contents of `chat_template.jinja`, when the folder has one (transformers 5 writes it there). */
  chatTemplate?: string;
}

/** A checkpoint in memory: what {@link loadPretrained} reads. */
export interface PretrainedSource {
  /** Parsed `config.json`. */
  config: JsonObject;
  /**
   * File name -> bytes: `model.safetensors`, or the shards and `model.safetensors.index.json`. Any other
   * `.safetensors` entry is read as well when there is no index.
   */
  files: Record<string, Uint8Array>;
  /** The tokenizer, if the checkpoint has one. */
  tokenizer?: PretrainedTokenizerFiles;
}

/** Options of {@link loadPretrained}. */
export interface LoadPretrainedOptions {
  /** Whether the variables are trainable; default `true`. */
  trainable?: boolean;
}

/**
 * A loaded checkpoint: a {@link Policy} (delegating to the architecture's model in `policy`) plus the
 * config, the architecture name and the tokenizer. Pass it to any training step or sampler.
 *
 * @example
 * const config = (await (await fetch('config.json')).json()) as Record<string, unknown>;
 * const weights = new Uint8Array(await (await fetch('model.safetensors')).arrayBuffer());
 * const model: PretrainedModel = await loadPretrained({config, files: {'model.safetensors': weights}});
 * model.numParams(); // the checkpoint's parameter count; model.tokenizer: its tokenizer, if shipped
 * model.dispose();
 */
export class PretrainedModel<Cache = unknown> implements Policy<Cache> {
  /** The parsed `config.json`. */
  readonly config: JsonObject;
  /** `architectures[0]` of the config, e.g. `'Qwen2ForCausalLM'`. */
  readonly architecture: string;
  /** The architecture's model. */
  readonly policy: Policy<Cache>;
  /** The tokenizer, when the checkpoint has tokenizer files. */
  readonly tokenizer: HfTokenizer | undefined;

  constructor(config: JsonObject, architecture: string, policy: Policy<Cache>, tokenizer?: HfTokenizer) {
    this.config = config;
    this.architecture = architecture;
    this.policy = policy;
    this.tokenizer = tokenizer;
    if (policy.applyWithCache !== undefined) {
      this.applyWithCache = (inputs: PolicyCachedInputs<Cache>): PolicyCachedOutput<Cache> => policy.applyWithCache!(inputs);
      this.disposeCache = (cache: Cache): void => policy.disposeCache!(cache);
    }
    if (policy.afterOptimizerStep !== undefined) this.afterOptimizerStep = () => policy.afterOptimizerStep!();
  }

  /** Vocabulary size of the logits. */
  get vocabSize(): number {
    return this.policy.vocabSize;
  }

  /** Longest sequence (`max_position_embeddings`). */
  get contextLength(): number {
    return this.policy.contextLength;
  }

  /** int32 `[batch, time]` -> `{logits: [batch, time, vocab], hidden}` (see {@link Policy.apply}). */
  apply(tokens: tf.Tensor2D, options?: PolicyApplyOptions): PolicyForward {
    return this.policy.apply(tokens, options);
  }

  /** Incremental forward pass with the model's cache (see {@link Policy.applyWithCache}). */
  applyWithCache?: (inputs: PolicyCachedInputs<Cache>) => PolicyCachedOutput<Cache>;
  /** Disposes a cache of {@link applyWithCache}. */
  disposeCache?: (cache: Cache) => void;
  /** Hook after each optimizer step (MoE router bias update), when the model has one. */
  afterOptimizerStep?: () => Record<string, number> | void;

  /** The model's variables. */
  variables(): tf.Variable[] {
    return this.policy.variables();
  }

  /** Number of parameters. */
  numParams(): number {
    return this.policy.numParams();
  }

  /** A copy (default frozen) with the same config and tokenizer. */
  copy(options?: {trainable?: boolean}): PretrainedModel<Cache> {
    return new PretrainedModel(this.config, this.architecture, this.policy.copy(options), this.tokenizer);
  }

  /** Frees the variables. */
  dispose(): void {
    this.policy.dispose();
  }
}

const INDEX = 'model.safetensors.index.json';

/** The safetensors files of a source, through the index when there is one. */
function safetensorsFiles(files: Record<string, Uint8Array>): SafetensorsFile[] {
  const names = Object.keys(files);
  const index = files[INDEX];
  if (index === undefined) {
    const shards = names.filter((n) => n.endsWith('.safetensors')).sort();
    if (shards.length === 0) {
      throw new PretrainedLoadError(`loadPretrained: no .safetensors file among the files (${names.join(', ') || 'none'}); ` +
          `pass 'model.safetensors', or the shards with '${INDEX}'`);
    }
    return shards.map((n) => parseSafetensors(files[n]!, n));
  }
  let weightMap: Record<string, string>;
  try {
    weightMap = (JSON.parse(new TextDecoder().decode(index)) as {weight_map: Record<string, string>}).weight_map;
  } catch (e) {
    throw new PretrainedLoadError(`loadPretrained: ${INDEX} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof weightMap !== 'object' || weightMap === null) {
    throw new PretrainedLoadError(`loadPretrained: ${INDEX} has no 'weight_map' object`);
  }
  if (Array.isArray(weightMap)) throw new PretrainedLoadError(`loadPretrained: ${INDEX} has no 'weight_map' object`);
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string') {
      throw new PretrainedLoadError(`loadPretrained: ${INDEX} weight_map['${tensor}'] expected a shard file name, got ` +
          `${JSON.stringify(shard)}`);
    }
  }
  const shardNames = [...new Set(Object.values(weightMap))].sort();
  const absent = shardNames.filter((n) => files[n] === undefined);
  if (absent.length > 0) {
    throw new PretrainedLoadError(`loadPretrained: shard(s) ${absent.join(', ')} listed in ${INDEX} are missing ` +
        '(download every shard of the checkpoint)');
  }
  const parsed = shardNames.map((n) => parseSafetensors(files[n]!, n));
  const byName = new Map(parsed.map((f) => [f.name, f]));
  const missing = Object.entries(weightMap).filter(([t, f]) => !byName.get(f)!.tensors.has(t)).map(([t]) => t);
  if (missing.length > 0) throw new MissingTensorError(missing, Object.keys(weightMap).length);
  return parsed;
}

/**
 * Loads a Hugging Face checkpoint (transformers' `config.json` + safetensors, optionally a tokenizer)
 * as a trainable policy on the current tfjs backend. Architectures: see `ARCHITECTURES`
 * (`LlamaForCausalLM`, `Qwen2ForCausalLM`, `Qwen3ForCausalLM`, `DeepseekV3ForCausalLM`). Weights in F32,
 * F16, BF16 or block-quantised F8_E4M3 (+ `weight_scale_inv`, block from
 * `quantization_config.weight_block_size`) become float32 variables.
 *
 * This root-entry form takes the files in memory (browser-friendly). In Node, `loadPretrained` from
 * `tfjs-grpo/node` also accepts a folder path.
 *
 * @param source `{config, files, tokenizer?}` (see {@link PretrainedSource}).
 * @param options.trainable whether the variables are trainable; default `true`.
 * @returns a {@link PretrainedModel}: `apply(tokens).logits` is float32 `[batch, time, vocab]`; `dispose()` frees it.
 * @throws `UnknownArchitectureError`, `MissingConfigFieldError` (also for an ill-typed `eos_token_id` or
 *   `quantization_config`), `SafetensorsFormatError`, `UnsupportedDtypeError`, `MissingTensorError`,
 *   `ShapeMismatchError`, and `PretrainedLoadError` for a `config` that is not an object, a shard of the
 *   index that is missing or not a file name, a `quant_method` other than `'fp8'`, or a tokenizer with ids
 *   beyond `vocab_size` (all `PretrainedLoadError`s); `Error` for an unknown key of `source`,
 *   `source.tokenizer` or `options` (a misspelled `tokenizer` would load no tokenizer silently) and a
 *   non-boolean `trainable`.
 * @example
 * const config = (await (await fetch('config.json')).json()) as Record<string, unknown>;
 * const weights = new Uint8Array(await (await fetch('model.safetensors')).arrayBuffer());
 * const model = await loadPretrained({config, files: {'model.safetensors': weights}});
 * const {logits} = model.apply(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'));
 * model.dispose();
 */
export async function loadPretrained(
    source: PretrainedSource | string, options: LoadPretrainedOptions = {}): Promise<PretrainedModel> {
  if (typeof source === 'string') {
    throw new PretrainedLoadError(`loadPretrained: a folder path ('${source}') needs the Node entry point: ` +
        "import {loadPretrained} from 'tfjs-grpo/node'; the root entry takes {config, files}");
  }
  return loadPretrainedSync(source, options);
}

/** @internal The synchronous body of {@link loadPretrained}. */
export function loadPretrainedSync(source: PretrainedSource, options: LoadPretrainedOptions = {}): PretrainedModel {
  const {trainable = true} = options;
  if (typeof source !== 'object' || source === null) {
    throw new PretrainedLoadError(`loadPretrained: 'source' expected {config, files}, got ${String(source)}`);
  }
  assertKnownOptions(options, ['trainable'], 'loadPretrained');
  if (typeof trainable !== 'boolean') {
    throw new PretrainedLoadError(`loadPretrained: 'trainable' expected a boolean, got ${JSON.stringify(trainable)}`);
  }
  assertKnownInputs(source, ['config', 'files', 'tokenizer'], 'loadPretrained', 'source');
  if (source.tokenizer !== undefined) {
    assertKnownInputs(source.tokenizer, ['tokenizerJson', 'tokenizerConfig', 'chatTemplate'], 'loadPretrained', 'source.tokenizer');
  }
  const {config, files, tokenizer} = source;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new PretrainedLoadError(`loadPretrained: 'config' expected the parsed config.json (an object), got ` +
        `${Array.isArray(config) ? 'an array' : String(config)}`);
  }
  if (typeof files !== 'object' || files === null) {
    throw new PretrainedLoadError("loadPretrained: 'files' expected an object of file name -> Uint8Array");
  }
  const archs = config['architectures'];
  if (!Array.isArray(archs) || typeof archs[0] !== 'string') {
    throw new MissingConfigFieldError('architectures', "a list naming the model class, e.g. ['Qwen2ForCausalLM']", archs);
  }
  const architecture = archs[0];
  const build = architectureBuilder(architecture);
  const quant = config['quantization_config'] as {weight_block_size?: unknown; quant_method?: unknown} | undefined | null;
  if (quant !== undefined && quant !== null && (typeof quant !== 'object' || Array.isArray(quant))) {
    throw new MissingConfigFieldError('quantization_config', 'an object', quant);
  }
  const method = quant?.quant_method;
  if (method !== undefined && method !== 'fp8') {
    throw new PretrainedLoadError(`loadPretrained: quantization_config.quant_method ${JSON.stringify(method)} is not ` +
        "supported; supported: 'fp8' (block-quantised F8_E4M3 with weight_scale_inv); dequantise the checkpoint first");
  }
  const block = quant?.weight_block_size;
  if (block !== undefined && !(Array.isArray(block) && block.length === 2 && block.every((b) => Number.isInteger(b) && b > 0))) {
    throw new MissingConfigFieldError('quantization_config.weight_block_size', 'two positive integers', block);
  }
  const weights = safetensorsCheckpoint(safetensorsFiles(files),
      block !== undefined ? {weightBlockSize: block as [number, number]} : {});
  const eos = config['eos_token_id'];
  const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (!(eos === undefined || eos === null || isId(eos) || (Array.isArray(eos) && eos.length > 0 && eos.every(isId)))) {
    throw new MissingConfigFieldError('eos_token_id', 'a token id (an integer >= 0), a non-empty list of them, or null', eos);
  }
  const eosTokenId = isId(eos) ? eos : Array.isArray(eos) ? eos[0] as number : undefined;
  const tok = tokenizer === undefined ? undefined : hfTokenizer(tokenizer.tokenizerJson, {
    ...(tokenizer.tokenizerConfig !== undefined ? {tokenizerConfig: tokenizer.tokenizerConfig} : {}),
    ...(tokenizer.chatTemplate !== undefined ? {chatTemplate: tokenizer.chatTemplate} : {}),
    ...(eosTokenId !== undefined ? {eosTokenId} : {}),
  });
  const vocab = config['vocab_size'];
  if (tok !== undefined && typeof vocab === 'number' && tok.vocabSize > vocab) {
    throw new PretrainedLoadError(`loadPretrained: the tokenizer has ids up to ${tok.vocabSize - 1} but config.json ` +
        `vocab_size is ${vocab}, so ids >= ${vocab} have no embedding; the tokenizer files belong to another checkpoint`);
  }
  const policy = build(config, weights, {trainable});
  return new PretrainedModel(config, architecture, policy, tok);
}
