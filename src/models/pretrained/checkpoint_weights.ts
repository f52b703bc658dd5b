/**
 * The tensors of a checkpoint (one or several safetensors files), as architecture builders see them.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {dequantizeFp8Blocks} from './fp8_block_dequantize.js';
import {MissingTensorError, PretrainedLoadError, ShapeMismatchError} from './errors.js';
import {decodeSafetensorsTensor, type SafetensorsFile} from './safetensors.js';

/** A tensor name and the shape the config implies for it. */
export type WeightSpec = readonly [name: string, shape: readonly number[]];

/**
 * What an architecture builder reads weights through. Names are the checkpoint's (`model.layers.0.
 * self_attn.q_proj.weight`); FP8 block-quantised weights appear as ordinary float32 tensors (their
 * `weight_scale_inv` companions are consumed, not listed).
 */
export interface CheckpointWeights {
  /** Every tensor name (scales of FP8 weights excluded), in file order. */
  names(): string[];
  /** Whether the checkpoint holds `name`. */
  has(name: string): boolean;
  /** The stored shape of `name`, or `undefined`. */
  shapeOf(name: string): number[] | undefined;
  /**
   * Checks that every spec is present with its shape, then decodes them to float32 tensors (the caller
   * owns and disposes them).
   * @throws `MissingTensorError` listing every missing name (and a close unrequested name, when one is a
   *   likely rename), `ShapeMismatchError` for the first wrong shape; for an FP8 weight, `MissingTensorError`
   *   without its `weight_scale_inv` and `ShapeMismatchError` when the scale is not the block grid.
   */
  load(specs: readonly WeightSpec[]): Map<string, tf.Tensor>;
}

/** Options of {@link safetensorsCheckpoint}. */
export interface SafetensorsCheckpointOptions {
  /** `quantization_config.weight_block_size` of FP8 checkpoints; default `[128, 128]`. */
  weightBlockSize?: readonly [number, number];
}

const SCALE_SUFFIX = '_scale_inv';

/**
 * Merges parsed safetensors files (the shards of one checkpoint) into {@link CheckpointWeights}.
 * A tensor `X.weight` of dtype `F8_E4M3` is dequantised on load with `X.weight_scale_inv`
 * (see `dequantizeFp8Blocks`).
 *
 * @param files the parsed files (one per shard).
 * @param options.weightBlockSize FP8 block `[rows, cols]`; default `[128, 128]`.
 * @returns the merged view (the file bytes are read lazily, on `load`).
 * @throws `PretrainedLoadError` when two shards hold the same tensor name.
 * @example
 * const header = new TextEncoder().encode(JSON.stringify({w: {dtype: 'F32', shape: [1], data_offsets: [0, 4]}}));
 * const bytes = new Uint8Array(8 + header.length + 4);
 * new DataView(bytes.buffer).setUint32(0, header.length, true);
 * bytes.set(header, 8);
 * const weights = safetensorsCheckpoint([parseSafetensors(bytes)]);
 * const loaded = weights.load([['w', [1]]]); // Map {'w' => Tensor [1]}
 * tf.dispose([...loaded.values()]);
 */
export function safetensorsCheckpoint(
    files: readonly SafetensorsFile[], options: SafetensorsCheckpointOptions = {}): CheckpointWeights {
  const {weightBlockSize = [128, 128]} = options;
  const where = new Map<string, SafetensorsFile>();
  for (const f of files) {
    for (const name of f.tensors.keys()) {
      const prev = where.get(name);
      if (prev !== undefined) {
        throw new PretrainedLoadError(`loadPretrained: tensor '${name}' is stored twice, in '${prev.name}' and '${f.name}'`);
      }
      where.set(name, f);
    }
  }
  const isScaleOfFp8 = (name: string): boolean => {
    if (!name.endsWith(SCALE_SUFFIX)) return false;
    const w = where.get(name.slice(0, -SCALE_SUFFIX.length));
    return w !== undefined && w.tensors.get(name.slice(0, -SCALE_SUFFIX.length))!.dtype.startsWith('F8_');
  };
  const listed = [...where.keys()].filter((n) => !isScaleOfFp8(n));
  const listedSet = new Set(listed);

  const decode = (name: string): Float32Array => {
    const file = where.get(name)!;
    const entry = file.tensors.get(name)!;
    const values = decodeSafetensorsTensor(file, name);
    if (!entry.dtype.startsWith('F8_')) return values;
    const scaleName = name + SCALE_SUFFIX;
    const scaleFile = where.get(scaleName);
    if (scaleFile === undefined) {
      throw new MissingTensorError([scaleName], where.size, [], `the ${entry.dtype} weight '${name}' needs its block ` +
          `scales '${scaleName}' to be dequantised; check that every shard is present`);
    }
    if (entry.shape.length !== 2) {
      throw new PretrainedLoadError(`loadPretrained: FP8 tensor '${name}' has shape [${entry.shape.join(',')}], ` +
          'expected a matrix for block dequantisation');
    }
    const scale = decodeSafetensorsTensor(scaleFile, scaleName);
    const [rows, cols] = entry.shape as [number, number];
    const [br, bc] = weightBlockSize;
    const grid = [Math.ceil(rows / br), Math.ceil(cols / bc)];
    const scaleShape = scaleFile.tensors.get(scaleName)!.shape;
    if (scaleShape.length !== 2 || scaleShape[0] !== grid[0] || scaleShape[1] !== grid[1]) {
      throw new ShapeMismatchError(scaleName, grid, scaleShape, `[ceil(${rows}/${br}), ceil(${cols}/${bc})]: the ` +
          `blocks of quantization_config.weight_block_size [${br},${bc}] over the weight [${rows},${cols}]`);
    }
    return dequantizeFp8Blocks(values, [rows, cols], scale, weightBlockSize);
  };

  return {
    names: () => listed.slice(),
    has: (name) => listedSet.has(name),
    shapeOf: (name) => (listedSet.has(name) ? where.get(name)!.tensors.get(name)!.shape.slice() : undefined),
    load(specs) {
      const missing = specs.map(([n]) => n).filter((n) => !listedSet.has(n));
      if (missing.length > 0) {
        const wanted = new Set(specs.map(([n]) => n));
        throw new MissingTensorError(missing, listed.length, listed.filter((n) => !wanted.has(n)));
      }
      for (const [name, shape] of specs) {
        const got = where.get(name)!.tensors.get(name)!.shape;
        if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) throw new ShapeMismatchError(name, shape, got);
      }
      const out = new Map<string, tf.Tensor>();
      try {
        for (const [name, shape] of specs) out.set(name, tf.tensor(decode(name), shape as number[], 'float32'));
      } catch (e) {
        tf.dispose([...out.values()]);
        throw e;
      }
      return out;
    },
  };
}
