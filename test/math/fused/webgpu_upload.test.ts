import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {describe, expect, it} from 'vitest';
import {hasWebGPUUpload, installWebGPUUpload, uninstallWebGPUUpload} from '../../../src/math/fused/webgpu_upload.js';
import {tuneWebGPUBackend} from '../../../src/math/fused/webgpu_fast_paths.js';

/** A stand-in for tfjs-backend-webgpu's fields the upload uses, recording what happens. */
function fakeBackend() {
  const map = new Map<object, {dtype: tf.DataType; shape: number[]; values: unknown; resource: unknown;
    complexTensorInfos?: unknown}>();
  const log: string[] = [];
  const writes: Array<{buffer: unknown; words: number[]}> = [];
  let next = 0;
  const backend = {
    tensorMap: {get: (id: object) => map.get(id)},
    bufferManager: {acquireBuffer: (size: number, usage: number, mapped?: boolean) => {
      log.push(`acquire ${size} ${usage} ${mapped === true}`);
      return {id: next++, size};
    }},
    queue: {writeBuffer: (buffer: unknown, offset: number, data: Float32Array | Int32Array, dataOffset: number,
        size: number) => {
      expect(offset).toBe(0);
      const words = data.slice(dataOffset, dataOffset + size); // typed array: offset and size in elements
      writes.push({buffer, words: Array.from(new Float32Array(words.buffer))});
    }},
    uploadToGPU(id: object) {
      log.push('tfjs upload');
      map.get(id)!.resource = 'tfjs';
    },
  };
  return {backend, map, log, writes};
}

describe('webgpu upload through queue.writeBuffer (fake backend)', () => {
  it('writes float32, int32 and bool values into a pooled buffer and drops the CPU copy', () => {
    const {backend, map, log, writes} = fakeBackend();
    expect(installWebGPUUpload(backend)).toBe(true);
    expect(installWebGPUUpload(backend)).toBe(true); // idempotent: one wrapper
    const f = {}, i = {}, b = {};
    const sub = new Float32Array([9, 1.5, -2, 9]).subarray(1, 3); // a view with an offset
    map.set(f, {dtype: 'float32', shape: [2], values: sub, resource: null});
    map.set(i, {dtype: 'int32', shape: [3], values: new Int32Array([1, -7, 3]), resource: null});
    map.set(b, {dtype: 'bool', shape: [2], values: new Uint8Array([1, 0]), resource: null});
    backend.uploadToGPU(f);
    backend.uploadToGPU(i);
    backend.uploadToGPU(b);
    expect(log).toEqual(['acquire 8 140 false', 'acquire 12 140 false', 'acquire 8 140 false']);
    expect(writes[0]!.words).toEqual([1.5, -2]);
    expect(Array.from(new Int32Array(new Float32Array(writes[1]!.words).buffer))).toEqual([1, -7, 3]);
    expect(Array.from(new Int32Array(new Float32Array(writes[2]!.words).buffer))).toEqual([1, 0]);
    expect(map.get(f)!.values).toBeNull();
    expect(map.get(f)!.resource).toEqual({id: 0, size: 8});
    backend.uploadToGPU(f); // already on the GPU: nothing more
    expect(log.length).toBe(3);
  });

  it('leaves tensors without CPU values, complex tensors and other dtypes to tfjs; uninstall restores', () => {
    const {backend, map, log} = fakeBackend();
    installWebGPUUpload(backend);
    const empty = {}, complex = {}, str = {};
    map.set(empty, {dtype: 'float32', shape: [4], values: null, resource: null});
    map.set(complex, {dtype: 'complex64', shape: [1], values: null, resource: null, complexTensorInfos: {}});
    map.set(str, {dtype: 'string', shape: [1], values: ['a'], resource: null});
    backend.uploadToGPU(empty);
    backend.uploadToGPU(complex);
    backend.uploadToGPU(str);
    expect(log).toEqual(['tfjs upload', 'tfjs upload', 'tfjs upload']);
    expect(hasWebGPUUpload(backend)).toBe(true);
    expect(uninstallWebGPUUpload(backend)).toBe(true);
    expect(hasWebGPUUpload(backend)).toBe(false);
    expect(uninstallWebGPUUpload(backend)).toBe(false);
    const f = {};
    map.set(f, {dtype: 'float32', shape: [1], values: new Float32Array([1]), resource: null});
    backend.uploadToGPU(f);
    expect(log[3]).toBe('tfjs upload');
  });

  it('does nothing to an object that is not a webgpu backend', () => {
    expect(installWebGPUUpload({})).toBe(false);
    expect(installWebGPUUpload(tf.backend())).toBe(false); // the cpu backend
  });
});

describe('tuneWebGPUBackend', () => {
  it('validates its options and reports all off on a non-webgpu backend', () => {
    expect(() => tuneWebGPUBackend({matmul: true, fast: true} as never)).toThrow(/unknown option 'fast'/);
    expect(() => tuneWebGPUBackend({upload: 1} as never)).toThrow(/'upload' expected a boolean, got 1/);
    expect(() => tuneWebGPUBackend({auto: 'no'} as never)).toThrow(/'auto' expected a boolean, got no/);
    expect(tuneWebGPUBackend({matmul: true, upload: true})).toEqual({matmul: false, upload: false});
    expect(tuneWebGPUBackend({auto: true})).toEqual({matmul: false, upload: false});
  });
});
