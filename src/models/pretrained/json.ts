/**
 * The type of a parsed JSON object (`config.json`, `tokenizer.json`, `tokenizer_config.json`).
 * @module
 */

/**
 * A parsed JSON object, e.g. `JSON.parse` of a checkpoint's `config.json`: string keys, values not yet
 * validated. The readers ({@link llamaConfig}, {@link normalizeRopeConfig}, {@link loadPretrained}) check
 * each field they use and throw {@link MissingConfigFieldError} on a missing or ill-typed one.
 *
 * @example
 * const config: JsonObject = JSON.parse('{"rope_theta": 500000, "max_position_embeddings": 8192}');
 * normalizeRopeConfig(config).theta; // 500000
 */
export type JsonObject = Record<string, unknown>;
