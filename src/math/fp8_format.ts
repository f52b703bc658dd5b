/**
 * The two FP8 formats of DeepSeek-V3's mixed-precision training (arXiv:2412.19437 §3.3) and the
 * exact conversions between them and float32, on typed arrays (no tensors).
 *
 * - `e4m3`: OCP `float8_e4m3fn` (PyTorch `torch.float8_e4m3fn`): 1 sign, 4 exponent, 3 mantissa bits,
 *   bias 7, largest finite 448, smallest normal 2^-6, smallest subnormal 2^-9, **no infinities**, NaN is
 *   S.1111.111 (0x7f / 0xff). V3 uses it for every GEMM input (activations, weights, gradients).
 * - `e5m2`: `float8_e5m2`: 1 sign, 5 exponent, 2 mantissa bits, bias 15, largest finite 57344, smallest
 *   normal 2^-14, smallest subnormal 2^-16, IEEE-like: S.11111.00 is ±infinity, S.11111.{01,10,11} NaN.
 *
 * Encoding rounds to nearest, ties to even, onto the whole grid (subnormals included) and follows
 * PyTorch's `Tensor.to(torch.float8_*)` (c10 `Float8_e4m3fn.h` / `Float8_e5m2.h`, `fp8*_from_fp32_value`)
 * above the largest finite value, which is *not* saturation:
 * - e4m3: |x| in [448, 464] rounds to ±448 (464 is the tie between 448 = S.1111.110 and the NaN code
 *   S.1111.111, resolved to the even 448); |x| > 464, ±infinity and NaN give NaN with the input's sign
 *   (0x7f | s<<7): the rounding carries into the NaN code, and c10 maps |x| >= 480 to it directly.
 * - e5m2: |x| in [57344, 61440) rounds to ±57344; |x| >= 61440 rounds to ±infinity (0x7c | s<<7); NaN
 *   gives 0x7f | s<<7.
 * - signed zeros are kept: -0 and negative values that round to zero encode as 0x80 (-0).
 * @module
 */

/** FP8 format name: `'e4m3'` (OCP float8_e4m3fn, max 448) or `'e5m2'` (float8_e5m2, max 57344). */
export type Fp8Format = 'e4m3' | 'e5m2';

/** Bit layout and range of one FP8 format. */
export interface Fp8FormatSpec {
  /** PyTorch dtype name (`float8_e4m3fn`, `float8_e5m2`). */
  readonly torchName: string;
  /** Width of the exponent field in bits: 4 for e4m3, 5 for e5m2. */
  readonly exponentBits: number;
  /** Width of the mantissa (fraction) field in bits: 3 for e4m3, 2 for e5m2. */
  readonly mantissaBits: number;
  /** Exponent bias: a normal code with biased exponent e is (1 + m/2^mantissaBits) * 2^(e - bias). */
  readonly bias: number;
  /** Largest finite value. */
  readonly max: number;
  /** Smallest positive normal value, 2^(1 - bias). */
  readonly minNormal: number;
  /** Smallest positive subnormal value, 2^(1 - bias - mantissaBits). */
  readonly minSubnormal: number;
  /** Whether the format has ±infinity (e5m2) or not (e4m3fn). */
  readonly hasInfinity: boolean;
  /** Code of +NaN (OR 0x80 for -NaN). */
  readonly nanCode: number;
  /** Code of the largest finite value (OR 0x80 for its negative). */
  readonly maxCode: number;
}

/** The two FP8 formats, keyed by {@link Fp8Format}. */
export const FP8_FORMATS: Readonly<Record<Fp8Format, Fp8FormatSpec>> = Object.freeze({
  e4m3: Object.freeze({
    torchName: 'float8_e4m3fn', exponentBits: 4, mantissaBits: 3, bias: 7, max: 448,
    minNormal: 2 ** -6, minSubnormal: 2 ** -9, hasInfinity: false, nanCode: 0x7f, maxCode: 0x7e,
  }),
  e5m2: Object.freeze({
    torchName: 'float8_e5m2', exponentBits: 5, mantissaBits: 2, bias: 15, max: 57344,
    minNormal: 2 ** -14, minSubnormal: 2 ** -16, hasInfinity: true, nanCode: 0x7f, maxCode: 0x7b,
  }),
});

/** @internal Throws the named error for a format that is not `'e4m3'` or `'e5m2'`. */
export function assertFp8Format(format: unknown, fn: string, name = 'format'): asserts format is Fp8Format {
  if (format !== 'e4m3' && format !== 'e5m2') {
    throw new Error(`${fn}: '${name}' expected 'e4m3' or 'e5m2', got ${JSON.stringify(format) ?? String(format)}`);
  }
}

function decodeCode(code: number, spec: Fp8FormatSpec): number {
  const m = spec.mantissaBits;
  const sign = code & 0x80 ? -1 : 1;
  const exponent = (code & 0x7f) >> m;
  const mantissa = code & ((1 << m) - 1);
  const topExponent = (1 << spec.exponentBits) - 1;
  if (!spec.hasInfinity && (code & 0x7f) === 0x7f) return NaN;
  if (spec.hasInfinity && exponent === topExponent) return mantissa === 0 ? sign * Infinity : NaN;
  if (exponent === 0) return sign * mantissa * spec.minSubnormal;
  return sign * (1 + mantissa / (1 << m)) * 2 ** (exponent - spec.bias);
}

function buildTable(spec: Fp8FormatSpec): Float32Array {
  const table = new Float32Array(256);
  for (let code = 0; code < 256; code++) table[code] = decodeCode(code, spec);
  return table;
}

/**
 * Float32 value of every FP8 code, `FP8_DECODE_TABLES[format][byte]` (256 entries, exact: every FP8
 * value is a float32). Shared tables: read them, never write to them.
 */
export const FP8_DECODE_TABLES: Readonly<Record<Fp8Format, Float32Array>> = Object.freeze({
  e4m3: buildTable(FP8_FORMATS.e4m3),
  e5m2: buildTable(FP8_FORMATS.e5m2),
});

/**
 * Decodes FP8 bytes to float32, exactly (a table look-up per byte).
 *
 * @param bytes FP8 codes, one per byte (e.g. the raw data of a safetensors `F8_E4M3` tensor).
 * @param format `'e4m3'` (float8_e4m3fn) or `'e5m2'`.
 * @returns a new `Float32Array` of the same length.
 * @example
 * decodeFp8(new Uint8Array([0x38, 0x7e, 0x01, 0xff]), 'e4m3'); // [1, 448, 0.001953125, NaN]
 */
export function decodeFp8(bytes: Uint8Array, format: Fp8Format): Float32Array {
  assertFp8Format(format, 'decodeFp8');
  if (!(bytes instanceof Uint8Array)) {
    throw new Error(`decodeFp8: 'bytes' expected a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`);
  }
  const table = FP8_DECODE_TABLES[format];
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = table[bytes[i]!]!;
  return out;
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** float32 bit patterns of the first magnitudes that leave the finite grid (c10's `fp8_max`). */
const OVERFLOW_BITS: Readonly<Record<Fp8Format, number>> = {e4m3: 0x43f00000 /* 480 */, e5m2: 0x47800000 /* 65536 */};

/**
 * @internal Encodes one float32 value (already a float32) to an FP8 code: round to nearest even,
 * subnormals included, overflow as documented in the module header.
 */
export function encodeFp8Value(value: number, format: Fp8Format): number {
  const spec = FP8_FORMATS[format];
  F32[0] = value;
  const bits = U32[0]!;
  const signBit = (bits >>> 24) & 0x80;
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return spec.nanCode | signBit;                 // NaN
  if (abs >= OVERFLOW_BITS[format]) return (spec.hasInfinity ? 0x7c : spec.nanCode) | signBit;
  const m = spec.mantissaBits;
  const biasedExponent = abs >>> 23;                                   // float32 biased exponent
  if (biasedExponent - 127 < 1 - spec.bias) {
    // Below the smallest FP8 normal: multiples of minSubnormal (exact in double), code = multiple.
    const t = Math.abs(F32[0]!) / spec.minSubnormal;
    const floor = Math.floor(t);
    const frac = t - floor;
    const k = frac > 0.5 || (frac === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
    return k | signBit;                                                // k = 2^m is the smallest normal
  }
  // Normal: drop 23 - m mantissa bits with round-half-even on the bit pattern (a carry moves the exponent).
  const shift = 23 - m;
  let kept = abs >>> shift;
  const rest = abs & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (kept & 1) === 1)) kept++;
  // e4m3: (464, 480) carries into 0x7f, the NaN code; e5m2: [61440, 65536) carries into 0x7c, infinity.
  const code = kept - ((127 - spec.bias) << m);
  return code | signBit;
}

/**
 * Encodes float32 values to FP8 codes with round-to-nearest-even onto the FP8 grid (subnormals
 * included), bit-identical to PyTorch's `x.to(torch.float8_e4m3fn)` / `.to(torch.float8_e5m2)`.
 *
 * No scaling is applied: values above the format's range are not saturated but follow PyTorch (e4m3:
 * |x| > 464 and ±infinity become NaN, [448, 464] rounds to 448; e5m2: |x| >= 61440 becomes ±infinity).
 * Scale first (see `fakeQuantFp8`) to stay in range.
 *
 * @param values float32 values (a `Float32Array`, or numbers, which are first rounded to float32).
 * @param format `'e4m3'` (float8_e4m3fn) or `'e5m2'`.
 * @returns a new `Uint8Array` of codes, one per value.
 * @example
 * encodeFp8(new Float32Array([1, 0.3, 500, -1e-9]), 'e4m3'); // [0x38, 0x2a, 0x7f (NaN), 0x80 (-0)]
 */
export function encodeFp8(values: Float32Array | readonly number[], format: Fp8Format): Uint8Array {
  assertFp8Format(format, 'encodeFp8');
  if (!(values instanceof Float32Array) && !Array.isArray(values)) {
    throw new Error(`encodeFp8: 'values' expected a Float32Array or number[], got ${values === null ? 'null' : typeof values}`);
  }
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = encodeFp8Value(values[i]!, format);
  return out;
}
