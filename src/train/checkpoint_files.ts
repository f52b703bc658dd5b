/**
 * Checkpoints on disk (Node): tfjs's own IO handlers plus node's fs (no tfjs-node needed).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {type LoadedPolicy, TransformerPolicy} from '../models/transformer_policy.js';

/** Paths written by {@link saveCheckpointFiles}. */
export interface CheckpointPaths {
  /** `model.json`: config, weight manifest and metadata. */
  json: string;
  /** `weights.bin`: the weight values. */
  weights: string;
}

/**
 * Saves a policy to `dir` as `model.json` (config, weight manifest, metadata) and `weights.bin`,
 * through `tf.io.withSaveHandler` and `tf.io.encodeWeights` (inside `policy.save`). Node only: the
 * fs module is imported on first use, so browser bundles of the library are unaffected.
 *
 * @param policy the policy.
 * @param dir target folder (created if missing).
 * @param metadata extra JSON (e.g. tokenizer options); default `{}`.
 * @returns the two file paths.
 * @example
 * const policy = TransformerPolicy.create({vocabSize: 20, contextLength: 48});
 * await saveCheckpointFiles(policy, 'demo-report/checkpoint');
 * const {policy: copy} = await loadCheckpointFiles('demo-report/checkpoint');
 */
export async function saveCheckpointFiles(
    policy: TransformerPolicy, dir: string, metadata: Record<string, unknown> = {}): Promise<CheckpointPaths> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  await fs.mkdir(dir, {recursive: true});
  const json = path.join(dir, 'model.json');
  const weights = path.join(dir, 'weights.bin');
  await policy.save(tf.io.withSaveHandler(async (artifacts) => {
    const data = artifacts.weightData!;
    const buffers = Array.isArray(data) ? data : [data];
    await fs.writeFile(weights, Buffer.concat(buffers.map((b) => Buffer.from(b))));
    await fs.writeFile(json, JSON.stringify({
      format: artifacts.format, generatedBy: artifacts.generatedBy, modelTopology: artifacts.modelTopology,
      weightSpecs: artifacts.weightSpecs, userDefinedMetadata: artifacts.userDefinedMetadata,
    }, null, 2));
    return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
  }), metadata);
  return {json, weights};
}

/**
 * Loads a policy saved by {@link saveCheckpointFiles} (via `tf.io.fromMemory`).
 *
 * @param dir the folder.
 * @param options.trainable whether the variables are trainable; default `true`.
 * @returns the policy and its metadata.
 * @throws when the files are missing or are not a saved policy.
 * @example
 * const {policy, metadata} = await loadCheckpointFiles('demo-report/checkpoint', {trainable: false});
 * policy.config.vocabSize; // as saved; metadata: what was passed to saveCheckpointFiles
 * policy.dispose();
 */
export async function loadCheckpointFiles(dir: string, options: {trainable?: boolean} = {}): Promise<LoadedPolicy> {
  const {trainable = true} = options;
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const manifest = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8')) as tf.io.ModelArtifacts;
  const bin = await fs.readFile(path.join(dir, 'weights.bin'));
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer;
  return TransformerPolicy.load(tf.io.fromMemory({...manifest, weightData}), {trainable});
}
