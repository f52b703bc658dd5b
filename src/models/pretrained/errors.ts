/**
 * Named errors of checkpoint loading: each says what is wrong and what to fix, and can be told apart
 * with `instanceof` or `error.name`.
 * @module
 */
import {closestName} from '../../math/assert.js';

/**
 * Base class of every checkpoint-loading error (`error.name` is the subclass name).
 *
 * @example
 * try {
 *   await loadPretrained({config: {architectures: ['GPT2LMHeadModel']}, files: {}});
 * } catch (e) {
 *   if (e instanceof PretrainedLoadError) console.log(e.name); // 'UnknownArchitectureError'
 * }
 */
export class PretrainedLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * `config.json` names an architecture no builder is registered for.
 *
 * @example
 * const e = new UnknownArchitectureError('GPT2LMHeadModel', ['LlamaForCausalLM']);
 * e.message; // "loadPretrained: unknown architecture 'GPT2LMHeadModel' in config.json ..."
 */
export class UnknownArchitectureError extends PretrainedLoadError {
  constructor(
    /** The unknown name, `architectures[0]` of `config.json`. */
    readonly architecture: string,
    /** The architecture names that have a builder ({@link ARCHITECTURES}). */
    readonly supported: readonly string[],
  ) {
    super(`loadPretrained: unknown architecture '${architecture}' in config.json 'architectures'; supported: ` +
        `${supported.join(', ')}`);
  }
}

/**
 * Tensors the architecture needs are absent from the checkpoint.
 *
 * @example
 * new MissingTensorError(['model.norm.weight'], 12).message; // "... missing 1 tensor(s): model.norm.weight ..."
 */
export class MissingTensorError extends PretrainedLoadError {
  constructor(
    /** Names of the absent tensors, e.g. `'model.norm.weight'`. */
    readonly missing: readonly string[],
    available: number,
    /**
     * Names the checkpoint holds that nothing asked for: a missing name close to one of them (a renamed
     * or misspelled tensor) is suggested. Default none.
     */
    unused: readonly string[] = [],
    /** Replaces the default advice in the parentheses. */
    advice = 'check that every shard is present and that config.json matches the weights',
  ) {
    const shown = missing.slice(0, 5).join(', ') + (missing.length > 5 ? `, ... (${missing.length - 5} more)` : '');
    const guesses = unused.length === 0 ? [] : missing.flatMap((m) => {
      const g = closestName(m, unused);
      return g === undefined ? [] : [`'${g}' for '${m}'`];
    });
    const hint = guesses.length === 0 ? '' : `; did you mean ${guesses.slice(0, 3).join(', ')}?`;
    super(`loadPretrained: the checkpoint is missing ${missing.length} tensor(s): ${shown} ` +
        `(it holds ${available} tensors; ${advice})${hint}`);
  }
}

/**
 * A tensor's shape differs from the shape the config implies.
 *
 * @example
 * new ShapeMismatchError('lm_head.weight', [32, 16], [32, 8]).message;
 * // "loadPretrained: tensor 'lm_head.weight' expected shape [32,16] (from config.json), got [32,8]"
 */
export class ShapeMismatchError extends PretrainedLoadError {
  constructor(
    /** Checkpoint name of the tensor, e.g. `'lm_head.weight'`. */
    readonly tensor: string,
    /** The shape implied by `config.json`. */
    readonly expected: readonly number[],
    /** The shape found in the checkpoint. */
    readonly got: readonly number[],
    /** Where the expected shape comes from; default `'from config.json'`. */
    source = 'from config.json',
  ) {
    super(`loadPretrained: tensor '${tensor}' expected shape [${expected.join(',')}] (${source}), got ` +
        `[${got.join(',')}]; the config and the weights disagree`);
  }
}

/**
 * A safetensors file is truncated or its header is malformed.
 *
 * @example
 * new SafetensorsFormatError('model.safetensors', 'file is 4 bytes, shorter than the 8-byte header length').message;
 */
export class SafetensorsFormatError extends PretrainedLoadError {
  constructor(
    /** Name of the bad file, e.g. `'model.safetensors'`. */
    readonly file: string,
    detail: string,
  ) {
    super(`safetensors '${file}': ${detail}; the file is truncated or corrupt (download it again)`);
  }
}

/**
 * A tensor's dtype is not one the loader decodes.
 *
 * @example
 * new UnsupportedDtypeError('model.embed_tokens.weight', 'I8', ['F32', 'F16']).message;
 */
export class UnsupportedDtypeError extends PretrainedLoadError {
  constructor(
    /** Checkpoint name of the tensor. */
    readonly tensor: string,
    /** Its safetensors dtype, e.g. `'I8'`. */
    readonly dtype: string,
    supported: readonly string[],
  ) {
    super(`safetensors: tensor '${tensor}' has dtype ${dtype}, which is not supported; supported: ` +
        `${supported.join(', ')} (convert the checkpoint, e.g. to bfloat16)`);
  }
}

/**
 * A required `config.json` field is missing or has the wrong type.
 *
 * @example
 * new MissingConfigFieldError('hidden_size', 'a positive integer', undefined).message;
 * // "config.json: field 'hidden_size' expected a positive integer, got undefined"
 */
export class MissingConfigFieldError extends PretrainedLoadError {
  constructor(
    /** The field's name or path, e.g. `'hidden_size'` or `'rope_scaling.factor'`. */
    readonly field: string,
    expected: string,
    got: unknown,
  ) {
    super(`config.json: field '${field}' expected ${expected}, got ${got === undefined ? 'undefined (missing)' : JSON.stringify(got)}`);
  }
}
