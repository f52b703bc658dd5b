import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {configureValidation} from '../../../src/math/assert.js';
import {encodeFp8} from '../../../src/math/fp8_format.js';
import {safetensorsCheckpoint} from '../../../src/models/pretrained/checkpoint_weights.js';
import {MissingTensorError, SafetensorsFormatError, ShapeMismatchError, UnsupportedDtypeError} from '../../../src/models/pretrained/errors.js';
import {dequantizeFp8Blocks} from '../../../src/models/pretrained/fp8_block_dequantize.js';
import {decodeSafetensorsTensor, parseSafetensors} from '../../../src/models/pretrained/safetensors.js';
import {f32Bytes, makeSafetensors} from '../../helpers/make_safetensors.js';

const u16 = (values: number[]): Uint8Array => new Uint8Array(new Uint16Array(values).buffer);

describe('parseSafetensors / decodeSafetensorsTensor', () => {
  it('decodes F32, BF16 and F16 exactly, with an unaligned header length', () => {
    // BF16 0x3f80 = 1, 0xc040 = -3, 0x3e80 = 0.25; F16 0x3c00 = 1, 0xc000 = -2, 0x0001 = 2^-24, 0x7c00 = inf
    const bytes = makeSafetensors({
      a: {dtype: 'F32', shape: [2], data: f32Bytes([1.5, -2])},
      b: {dtype: 'BF16', shape: [3], data: u16([0x3f80, 0xc040, 0x3e80])},
      c: {dtype: 'F16', shape: [2, 2], data: u16([0x3c00, 0xc000, 0x0001, 0x7c00])},
    }, 3);
    const file = parseSafetensors(bytes, 'x.safetensors');
    expect([...file.tensors.keys()]).toEqual(['a', 'b', 'c']);
    expect(Array.from(decodeSafetensorsTensor(file, 'a'))).toEqual([1.5, -2]);
    expect(Array.from(decodeSafetensorsTensor(file, 'b'))).toEqual([1, -3, 0.25]);
    expect(Array.from(decodeSafetensorsTensor(file, 'c'))).toEqual([1, -2, 2 ** -24, Infinity]);
  });

  it('property: BF16 decoding returns the float32 whose high half is the code', () => {
    fc.assert(fc.property(fc.integer({min: 0, max: 0xffff}), (code) => {
      const file = parseSafetensors(makeSafetensors({w: {dtype: 'BF16', shape: [1], data: u16([code])}}));
      const got = decodeSafetensorsTensor(file, 'w')[0]!;
      const want = new Float32Array(new Uint32Array([code << 16]).buffer)[0]!;
      expect(Number.isNaN(want) ? Number.isNaN(got) : got === want).toBe(true);
    }), {numRuns: 200});
  });

  it('names truncated and corrupt files', () => {
    const good = makeSafetensors({w: {dtype: 'F32', shape: [2, 2], data: f32Bytes([1, 2, 3, 4])}});
    const cases: Array<[Uint8Array, RegExp]> = [
      [good.slice(0, 5), /5 bytes, shorter than the 8-byte header length/],
      [good.slice(0, 20), /header length \d+ runs past the end of the file/],
      [good.slice(0, good.length - 3), /need 16 data bytes but the file holds 13 .*truncated/],
      [(() => { const b = good.slice(); b[9] = 0x7b; b[8] = 0x5b; return b; })(), /not valid UTF-8 JSON/],
      [makeSafetensors({w: {dtype: 'F32', shape: [3], data: f32Bytes([1, 2])}}), /needs 12 bytes, its data_offsets \[0, 8\] span 8/],
      [(() => { const b = new Uint8Array(good.length + 4); b.set(good); return b; })(), /4 trailing bytes/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => parseSafetensors(bytes, 'm.safetensors')).toThrow(SafetensorsFormatError);
      expect(() => parseSafetensors(bytes, 'm.safetensors')).toThrow(message);
    }
    // A hole and an overlap, written by hand.
    const raw = (header: unknown, dataBytes: number): Uint8Array => {
      const h = new TextEncoder().encode(JSON.stringify(header));
      const b = new Uint8Array(8 + h.length + dataBytes);
      new DataView(b.buffer).setUint32(0, h.length, true);
      b.set(h, 8);
      return b;
    };
    expect(() => parseSafetensors(raw({a: {dtype: 'U8', shape: [1], data_offsets: [1, 2]}}, 2))).toThrow(/a hole/);
    expect(() => parseSafetensors(raw({a: {dtype: 'U8', shape: [2], data_offsets: [0, 2]},
      b: {dtype: 'U8', shape: [2], data_offsets: [1, 3]}}, 3))).toThrow(/overlaps/);
    expect(() => parseSafetensors(raw({a: {dtype: 'Q4', shape: [1], data_offsets: [0, 1]}}, 1))).toThrow(UnsupportedDtypeError);
    expect(() => parseSafetensors(raw({a: {dtype: 'F32', shape: [-1], data_offsets: [0, 4]}}, 4))).toThrow(/non-negative integers/);
  });

  it('rejects decoding an integer dtype with a named error', () => {
    const file = parseSafetensors(makeSafetensors({ids: {dtype: 'I64', shape: [1], data: new Uint8Array(8)}}));
    expect(() => decodeSafetensorsTensor(file, 'ids')).toThrow(UnsupportedDtypeError);
    expect(() => decodeSafetensorsTensor(file, 'ids')).toThrow(/'ids' has dtype I64.*supported: F32, F16, BF16, F8_E4M3, F8_E5M2/);
  });
});

describe('dequantizeFp8Blocks', () => {
  it('hand-computed: W = q * s per block, ragged edge blocks', () => {
    // 3x3 with 2x2 blocks: scales [[10, 100], [1000, 10000]]
    const q = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const s = new Float32Array([10, 100, 1000, 10000]);
    expect(Array.from(dequantizeFp8Blocks(q, [3, 3], s, [2, 2]))).toEqual([10, 20, 300, 40, 50, 600, 7000, 8000, 90000]);
    expect(() => dequantizeFp8Blocks(q, [3, 3], new Float32Array(3), [2, 2])).toThrow(/'scaleInv' expected \[ceil\(3\/2\), ceil\(3\/2\)\]=\[2,2\]/);
  });

  it('names a shape of non-positive or non-integer sizes and a non-finite scale (skipped with valueChecks off)', () => {
    const q = new Float32Array(4);
    expect(() => dequantizeFp8Blocks(q, [-2, -2], new Float32Array(1), [2, 2])).toThrow(
        "dequantizeFp8Blocks: 'shape' expected two positive integers [rows, cols], got [-2,-2]");
    expect(() => dequantizeFp8Blocks(q, [1.5, 2], new Float32Array(1), [2, 2])).toThrow(
        "dequantizeFp8Blocks: 'shape' expected two positive integers [rows, cols], got [1.5,2]");
    expect(() => dequantizeFp8Blocks(q, [2, NaN], new Float32Array(1), [2, 2])).toThrow(
        "dequantizeFp8Blocks: 'shape' expected two positive integers [rows, cols], got [2,NaN]");
    const v = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), s = new Float32Array([10, NaN, 1000, Infinity]);
    expect(() => dequantizeFp8Blocks(v, [3, 3], s, [2, 2])).toThrow(
        "dequantizeFp8Blocks: 'scaleInv' expected finite values, got NaN at flat index 1 (shape [2,2])");
    const previous = configureValidation({valueChecks: false});
    try {
      expect(dequantizeFp8Blocks(v, [3, 3], s, [2, 2])[2]).toBeNaN();
    } finally {
      configureValidation(previous);
    }
  });

  it('loads an F8_E4M3 weight with its weight_scale_inv as float32 (scale tensor hidden from names)', () => {
    // 130 x 3 with 128-row blocks: two block rows, scales 0.5 and 4.
    const vals = Array.from({length: 390}, (_, i) => ((i % 7) - 3) * 0.25);
    const codes = encodeFp8(vals, 'e4m3');
    const file = parseSafetensors(makeSafetensors({
      'l.weight': {dtype: 'F8_E4M3', shape: [130, 3], data: codes},
      'l.weight_scale_inv': {dtype: 'F32', shape: [2, 1], data: f32Bytes([0.5, 4])},
    }));
    const weights = safetensorsCheckpoint([file]);
    expect(weights.names()).toEqual(['l.weight']);
    const w = weights.load([['l.weight', [130, 3]]]).get('l.weight')!;
    const got = w.dataSync();
    for (const i of [0, 5, 383, 384, 389]) expect(got[i]).toBe(vals[i]! * (i < 384 ? 0.5 : 4));
    w.dispose();
    const wrongBlock = safetensorsCheckpoint([file], {weightBlockSize: [64, 128]});
    expect(() => wrongBlock.load([['l.weight', [130, 3]]])).toThrow(ShapeMismatchError);
    const noScale = safetensorsCheckpoint([parseSafetensors(makeSafetensors({
      'l.weight': {dtype: 'F8_E4M3', shape: [130, 3], data: codes}}))]);
    expect(() => noScale.load([['l.weight', [130, 3]]])).toThrow(/missing 1 tensor\(s\): l.weight_scale_inv/);
  });
});

describe('safetensorsCheckpoint', () => {
  it('lists every missing tensor at once, names shape mismatches, frees on failure', () => {
    const file = parseSafetensors(makeSafetensors({a: {dtype: 'F32', shape: [2], data: f32Bytes([1, 2])}}));
    const w = safetensorsCheckpoint([file]);
    expect(() => w.load([['a', [2]], ['b', [1]], ['c', [1]]])).toThrow(MissingTensorError);
    expect(() => w.load([['a', [2]], ['b', [1]], ['c', [1]]])).toThrow(/missing 2 tensor\(s\): b, c/);
    expect(() => w.load([['a', [1, 2]]])).toThrow(/tensor 'a' expected shape \[1,2\] \(from config.json\), got \[2\]/);
    const before = tf.memory().numTensors;
    const t = w.load([['a', [2]]]);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([...t.values()]);
    expect(() => safetensorsCheckpoint([file, parseSafetensors(makeSafetensors({a: {dtype: 'F32', shape: [1], data: f32Bytes([0])}}), 'b.safetensors')]))
        .toThrow(/'a' is stored twice/);
  });
});
