/**
 * `loadPretrained` for Node: reads a checkpoint folder (`config.json`, safetensors, tokenizer files).
 * @module
 */
import {PretrainedLoadError} from './errors.js';
import {
  type LoadPretrainedOptions, loadPretrainedSync, type PretrainedModel, type PretrainedSource,
} from './load_pretrained.js';

const INDEX = 'model.safetensors.index.json';

/**
 * Reads a checkpoint folder as saved by transformers' `save_pretrained` (or downloaded from a model
 * repository) into a {@link PretrainedSource}: `config.json`, `model.safetensors` or the shards listed
 * in `model.safetensors.index.json`, and `tokenizer.json` + `tokenizer_config.json` (+ `chat_template.jinja`)
 * when present. Node only (`node:fs`, imported on first use).
 *
 * @param dir the folder.
 * @returns the source, ready for the root `loadPretrained`.
 * @throws `PretrainedLoadError` when `config.json` or the weights are missing or not JSON.
 * @example
 * const source = await readPretrainedFolder('test/fixtures/pretrained/qwen2_tied_f32');
 * Object.keys(source.files); // ['model.safetensors']
 */
export async function readPretrainedFolder(dir: string): Promise<PretrainedSource> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch (e) {
    throw new PretrainedLoadError(`loadPretrained: cannot read the folder '${dir}' (${(e as Error).message})`);
  }
  const readJson = async (name: string): Promise<Record<string, unknown>> => {
    const text = await fs.readFile(path.join(dir, name), 'utf8');
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new PretrainedLoadError(`loadPretrained: '${path.join(dir, name)}' is not valid JSON (${(e as Error).message})`);
    }
  };
  if (!entries.includes('config.json')) {
    throw new PretrainedLoadError(`loadPretrained: no config.json in '${dir}' (a transformers checkpoint folder has one)`);
  }
  const config = await readJson('config.json');
  let shardNames: string[];
  if (entries.includes(INDEX)) {
    const index = await readJson(INDEX);
    const map = index['weight_map'];
    if (typeof map !== 'object' || map === null) throw new PretrainedLoadError(`loadPretrained: ${INDEX} has no 'weight_map'`);
    shardNames = [...new Set(Object.values(map as Record<string, string>))].filter((n) => entries.includes(n));
  } else {
    shardNames = entries.filter((n) => n.endsWith('.safetensors'));
  }
  const files: Record<string, Uint8Array> = {};
  for (const n of shardNames.sort()) {
    const b = await fs.readFile(path.join(dir, n));
    files[n] = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  if (entries.includes(INDEX)) files[INDEX] = new Uint8Array(await fs.readFile(path.join(dir, INDEX)));
  const source: PretrainedSource = {config, files};
  if (entries.includes('tokenizer.json')) {
    source.tokenizer = {
      tokenizerJson: await readJson('tokenizer.json'),
      ...(entries.includes('tokenizer_config.json') ? {tokenizerConfig: await readJson('tokenizer_config.json')} : {}),
      ...(entries.includes('chat_template.jinja')
        ? {chatTemplate: await fs.readFile(path.join(dir, 'chat_template.jinja'), 'utf8')} : {}),
    };
  }
  return source;
}

/**
 * Loads a Hugging Face checkpoint as a trainable policy: a folder path (Node) or the in-memory
 * `{config, files, tokenizer?}` of the root entry's `loadPretrained`.
 *
 * @param source a checkpoint folder, or a {@link PretrainedSource}.
 * @param options.trainable whether the variables are trainable; default `true`.
 * @returns the {@link PretrainedModel} (with `tokenizer` when the folder has `tokenizer.json`).
 * @throws the named `PretrainedLoadError`s of the root `loadPretrained`.
 * @example
 * const model = await loadPretrained({config: {}, files: {}}).catch((e: Error) => e.message);
 */
export async function loadPretrained(
    source: string | PretrainedSource, options: LoadPretrainedOptions = {}): Promise<PretrainedModel> {
  const src = typeof source === 'string' ? await readPretrainedFolder(source) : source;
  return loadPretrainedSync(src, options);
}
