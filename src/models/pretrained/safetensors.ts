/**
 * A validating reader of the safetensors format (no maintained npm reader exists): an 8-byte
 * little-endian header length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]},
 * __metadata__?}`, then the byte buffer that the offsets index, entirely and without holes.
 * @module
 */
import {closestName} from '../../math/assert.js';
import {decodeFp8} from '../../math/fp8_format.js';
import {SafetensorsFormatError, UnsupportedDtypeError} from './errors.js';

/** Bytes per element of every safetensors dtype. */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
};

/** Dtypes {@link decodeSafetensorsTensor} turns into float32. */
export const DECODABLE_DTYPES = ['F32', 'F16', 'BF16', 'F8_E4M3', 'F8_E5M2'] as const;

/** One tensor entry of a safetensors header. */
export interface SafetensorsEntry {
  /** Dtype name as stored (`F32`, `BF16`, `F8_E4M3`, ...). */
  dtype: string;
  /** Shape (`[]` for a scalar). */
  shape: number[];
  /** Start of the data, relative to the byte buffer. */
  begin: number;
  /** End of the data (exclusive). */
  end: number;
}

/** A parsed safetensors file: the validated header and a view of the bytes. */
export interface SafetensorsFile {
  /** File name used in error messages. */
  name: string;
  /** Tensor entries by name, in header order. */
  tensors: Map<string, SafetensorsEntry>;
  /** The `__metadata__` string map (`{}` when absent). */
  metadata: Record<string, string>;
  /** The whole file. */
  bytes: Uint8Array;
  /** Offset of the byte buffer in `bytes` (8 + N). */
  dataStart: number;
}

const MAX_HEADER = 100 * 1024 * 1024;

/**
 * Parses and validates a safetensors file: header length in range, JSON object, every entry with a
 * known dtype, non-negative integer shape and `data_offsets` whose length equals
 * prod(shape) * bytes(dtype), offsets sorted, contiguous from 0 and covering the buffer exactly.
 *
 * @param bytes the whole file.
 * @param name file name for the messages; default `'model.safetensors'`.
 * @returns the {@link SafetensorsFile} (a view: the bytes are not copied).
 * @throws `SafetensorsFormatError` when truncated or corrupt, `UnsupportedDtypeError` for an unknown dtype.
 * @example
 * const header = new TextEncoder().encode(JSON.stringify({w: {dtype: 'F32', shape: [1], data_offsets: [0, 4]}}));
 * const bytes = new Uint8Array(8 + header.length + 4);
 * new DataView(bytes.buffer).setUint32(0, header.length, true);
 * bytes.set(header, 8);
 * parseSafetensors(bytes).tensors.get('w'); // {dtype: 'F32', shape: [1], begin: 0, end: 4}
 */
export function parseSafetensors(bytes: Uint8Array, name = 'model.safetensors'): SafetensorsFile {
  const fail = (detail: string): never => {
    throw new SafetensorsFormatError(name, detail);
  };
  if (!(bytes instanceof Uint8Array)) fail(`expected the file bytes as a Uint8Array, got ${typeof bytes}`);
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true), hi = view.getUint32(4, true);
  const n = hi * 2 ** 32 + lo;
  if (n > MAX_HEADER) fail(`header length ${n} exceeds ${MAX_HEADER} bytes`);
  if (8 + n > bytes.length) fail(`header length ${n} runs past the end of the file (${bytes.length} bytes)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', {fatal: true}).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const bufferLength = bytes.length - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (typeof value !== 'object' || value === null) fail(`'__metadata__' is not an object`);
      metadata = value as Record<string, string>;
      continue;
    }
    const e = value as {dtype?: unknown; shape?: unknown; data_offsets?: unknown};
    if (typeof e !== 'object' || e === null) fail(`entry '${key}' is not an object`);
    if (typeof e.dtype !== 'string') fail(`entry '${key}' has no dtype`);
    const size = DTYPE_BYTES[e.dtype as string];
    if (size === undefined) throw new UnsupportedDtypeError(key, e.dtype as string, Object.keys(DTYPE_BYTES));
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(`entry '${key}' has shape ${JSON.stringify(shape)}, expected an array of non-negative integers`);
    }
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      fail(`entry '${key}' has data_offsets ${JSON.stringify(offsets)}, expected [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) fail(`entry '${key}' has data_offsets [${begin}, ${end}] with end < begin`);
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * size!) {
      fail(`entry '${key}' (${e.dtype} ${JSON.stringify(shape)}) needs ${count * size!} bytes, its data_offsets ` +
          `[${begin}, ${end}] span ${end - begin}`);
    }
    tensors.set(key, {dtype: e.dtype as string, shape: shape as number[], begin, end});
  }
  const sorted = [...tensors.entries()].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let cursor = 0;
  for (const [key, e] of sorted) {
    if (e.begin !== cursor) {
      fail(e.begin > cursor ? `bytes [${cursor}, ${e.begin}) before '${key}' belong to no tensor (a hole)`
        : `entry '${key}' overlaps the previous tensor (begin ${e.begin} < ${cursor})`);
    }
    cursor = e.end;
  }
  if (cursor > bufferLength) {
    fail(`the tensors need ${cursor} data bytes but the file holds ${bufferLength} after the header (truncated)`);
  }
  if (cursor < bufferLength) fail(`${bufferLength - cursor} trailing bytes after the last tensor`);
  return {name, tensors, metadata, bytes, dataStart};
}

let f16Table: Float32Array | null = null;

/** float32 value of every IEEE half-precision bit pattern (built once, 256 KiB). */
function halfTable(): Float32Array {
  if (f16Table !== null) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
    t[h] = exp === 0 ? sign * frac * 2 ** -24
      : exp === 31 ? (frac === 0 ? sign * Infinity : NaN)
      : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  f16Table = t;
  return t;
}

/** The bytes of an entry, copied to a fresh aligned buffer. */
function entryBytes(file: SafetensorsFile, e: SafetensorsEntry): Uint8Array {
  return file.bytes.slice(file.dataStart + e.begin, file.dataStart + e.end);
}

/**
 * Decodes one tensor of a parsed file to float32 (little-endian data, as the format specifies):
 * F32 as is, F16 and BF16 exactly (BF16 = the high 16 bits of a float32), F8_E4M3 / F8_E5M2 through
 * `decodeFp8` (the same numerics as the library's FP8 fake quantisation).
 *
 * @param file a {@link SafetensorsFile}.
 * @param name the tensor name.
 * @returns the values in row-major order.
 * @throws `UnsupportedDtypeError` for a dtype outside {@link DECODABLE_DTYPES}, `Error` for an unknown name
 *   (suggesting the closest stored name, else listing the first few).
 * @example
 * const header = new TextEncoder().encode(JSON.stringify({w: {dtype: 'BF16', shape: [1], data_offsets: [0, 2]}}));
 * const bytes = new Uint8Array(8 + header.length + 2);
 * new DataView(bytes.buffer).setUint32(0, header.length, true);
 * bytes.set(header, 8);
 * bytes.set([0x80, 0x3f], 8 + header.length); // 0x3f80 -> 1.0
 * decodeSafetensorsTensor(parseSafetensors(bytes), 'w'); // Float32Array [1]
 */
export function decodeSafetensorsTensor(file: SafetensorsFile, name: string): Float32Array {
  const e = file.tensors.get(name);
  if (e === undefined) {
    const names = [...file.tensors.keys()];
    const guess = closestName(String(name), names);
    const listed = names.slice(0, 5).map((n) => `'${n}'`).join(', ') + (names.length > 5 ? `, ... (${names.length - 5} more)` : '');
    throw new Error(`decodeSafetensorsTensor: no tensor '${name}' in '${file.name}'` +
        (guess !== undefined ? `; did you mean '${guess}'?` : ` (it holds ${names.length}: ${listed || 'none'})`));
  }
  const raw = entryBytes(file, e);
  switch (e.dtype) {
    case 'F32':
      return new Float32Array(raw.buffer, 0, raw.length / 4);
    case 'BF16': {
      const src = new Uint16Array(raw.buffer, 0, raw.length / 2);
      const out = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = src[i]! << 16;
      return new Float32Array(out.buffer);
    }
    case 'F16': {
      const src = new Uint16Array(raw.buffer, 0, raw.length / 2);
      const table = halfTable();
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
      return out;
    }
    case 'F8_E4M3':
      return decodeFp8(raw, 'e4m3');
    case 'F8_E5M2':
      return decodeFp8(raw, 'e5m2');
    default:
      throw new UnsupportedDtypeError(name, e.dtype, DECODABLE_DTYPES);
  }
}
