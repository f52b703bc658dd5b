import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {readFileSync} from 'node:fs';
import {decodeFp8, encodeFp8, FP8_DECODE_TABLES, FP8_FORMATS, type Fp8Format} from '../../src/math/fp8_format.js';

const FORMATS: Fp8Format[] = ['e4m3', 'e5m2'];

/**
 * Independent oracle: the nearest finite FP8 value by exhaustive search over the decode table, ties to
 * the even code, then PyTorch's overflow rule (e4m3: beyond the 448/480 tie -> NaN; e5m2: at or beyond
 * the 57344/65536 tie -> infinity).
 */
function oracle(x: number, format: Fp8Format): number {
  const spec = FP8_FORMATS[format];
  const table = FP8_DECODE_TABLES[format];
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  if (Number.isNaN(x)) return spec.nanCode;
  const a = Math.abs(x);
  const beyond = format === 'e4m3' ? 480 : 65536;          // the next power-of-two step above max
  const tie = (spec.max + beyond) / 2;
  if (format === 'e4m3' ? a > tie : a >= tie) return (format === 'e4m3' ? 0x7f : 0x7c) | sign;
  let best = 0;
  for (let c = 1; c <= spec.maxCode; c++) {
    const d = Math.abs(table[c]! - a);
    const db = Math.abs(table[best]! - a);
    if (d < db || (d === db && c % 2 === 0)) best = c;
  }
  return best | sign;
}

describe('FP8_FORMATS and FP8_DECODE_TABLES', () => {
  it('have the OCP ranges', () => {
    expect(FP8_DECODE_TABLES.e4m3[0x7e]).toBe(448);
    expect(FP8_DECODE_TABLES.e4m3[0x38]).toBe(1);             // 0.0111.000: 2^(7-7)
    expect(FP8_DECODE_TABLES.e4m3[0x08]).toBe(2 ** -6);       // smallest normal
    expect(FP8_DECODE_TABLES.e4m3[0x01]).toBe(2 ** -9);       // smallest subnormal
    expect(FP8_DECODE_TABLES.e4m3[0x07]).toBe(7 * 2 ** -9);   // largest subnormal
    expect(FP8_DECODE_TABLES.e5m2[0x7b]).toBe(57344);         // 1.75 * 2^15
    expect(FP8_DECODE_TABLES.e5m2[0x3c]).toBe(1);
    expect(FP8_DECODE_TABLES.e5m2[0x01]).toBe(2 ** -16);
    expect(FP8_DECODE_TABLES.e5m2[0x7c]).toBe(Infinity);
    expect(FP8_DECODE_TABLES.e5m2[0xfc]).toBe(-Infinity);
    expect(Object.is(FP8_DECODE_TABLES.e4m3[0x80], -0)).toBe(true);
    for (const f of FORMATS) expect(FP8_DECODE_TABLES[f][FP8_FORMATS[f].maxCode]).toBe(FP8_FORMATS[f].max);
  });

  it('have NaN only at S.1111.111 (e4m3) and S.11111.{01,10,11} (e5m2)', () => {
    const nans = (f: Fp8Format) => [...FP8_DECODE_TABLES[f].keys()].filter((c) => Number.isNaN(FP8_DECODE_TABLES[f][c]));
    expect(nans('e4m3')).toEqual([0x7f, 0xff]);
    expect(nans('e5m2')).toEqual([0x7d, 0x7e, 0x7f, 0xfd, 0xfe, 0xff]);
  });

  it('are strictly increasing over the non-negative finite codes, and symmetric', () => {
    for (const f of FORMATS) {
      const t = FP8_DECODE_TABLES[f];
      for (let c = 1; c <= FP8_FORMATS[f].maxCode; c++) {
        expect(t[c]).toBeGreaterThan(t[c - 1]!);
        expect(t[c | 0x80]).toBe(-t[c]!);
      }
    }
  });
});

describe('encodeFp8', () => {
  it('rounds hand-picked values like torch (e4m3)', () => {
    const x = [1, 0.3, 448, 464, 464.00003, 480, 1e9, Infinity, -Infinity, NaN, -0, 0, 2 ** -9,
      2 ** -10, 1.5 * 2 ** -9, 2.5 * 2 ** -9, -1e-9, 1.0625, 1.1875, 17, 19];
    // 0.3 = 1.2 * 2^-2 -> 1.25 * 2^-2 = 0.0101.010; 464 tie -> even 448; 2^-10 tie -> 0;
    // 1.5 * 2^-9 tie -> 2 * 2^-9 (even); 2.5 * 2^-9 -> 2; 1.0625 = 1 + 1/16 tie -> 1 (even);
    // 1.1875 = 1 + 3/16 tie -> 1.25 (code 0x3a even); 17 = 16 * 1.0625 tie -> 16; 19 tie of 18/20 -> 20 (even)
    expect(Array.from(encodeFp8(new Float32Array(x), 'e4m3'))).toEqual([
      0x38, 0x2a, 0x7e, 0x7e, 0x7f, 0x7f, 0x7f, 0x7f, 0xff, 0x7f, 0x80, 0x00, 0x01,
      0x00, 0x02, 0x02, 0x80, 0x38, 0x3a, 0x58, 0x5a]);
  });

  it('rounds hand-picked values like torch (e5m2)', () => {
    const x = [1, 57344, 61439.996, 61440, 65536, Infinity, -Infinity, NaN, -NaN, 2 ** -16, 2 ** -17, 1.125, 1.375];
    // 61440 is the tie of 57344 (odd mantissa 11) and 65536 -> infinity; 2^-17 tie -> 0;
    // 1.125 tie of 1 and 1.25 -> 1; 1.375 tie of 1.25 (01) and 1.5 (10) -> 1.5
    expect(Array.from(encodeFp8(new Float32Array(x), 'e5m2'))).toEqual([
      0x3c, 0x7b, 0x7b, 0x7c, 0x7c, 0x7c, 0xfc, 0x7f, 0x7f, 0x01, 0x00, 0x3c, 0x3e]);
  });

  it('round-trips every finite code', () => {
    for (const f of FORMATS) {
      const codes = [...Array(256).keys()].filter((c) => Number.isFinite(FP8_DECODE_TABLES[f][c]));
      const back = encodeFp8(decodeFp8(new Uint8Array(codes), f), f);
      expect(Array.from(back)).toEqual(codes);
    }
  });

  it('equals the exhaustive nearest-even oracle on random float32 values, midpoints and boundaries', () => {
    for (const f of FORMATS) {
      const t = FP8_DECODE_TABLES[f];
      const special: number[] = [];
      for (let c = 0; c < FP8_FORMATS[f].maxCode; c++) {
        const mid = (t[c]! + t[c + 1]!) / 2;                    // exact midpoints are float32
        special.push(mid, Math.fround(mid * (1 + 2 ** -23)), Math.fround(mid * (1 - 2 ** -23)), -mid);
      }
      const got = encodeFp8(new Float32Array(special), f);
      special.forEach((x, i) => expect(got[i], `${f} x=${x}`).toBe(oracle(Math.fround(x), f)));
      const max = FP8_FORMATS[f].max;
      fc.assert(fc.property(
          fc.oneof(fc.float({noDefaultInfinity: true, noNaN: true}),
              fc.float({min: -2 * max, max: 2 * max, noNaN: true}),
              fc.float({min: -Math.fround(4 * FP8_FORMATS[f].minNormal), max: Math.fround(4 * FP8_FORMATS[f].minNormal), noNaN: true})),
          (x) => encodeFp8(new Float32Array([x]), f)[0] === oracle(x, f)), {numRuns: 2000});
    }
  });

  it('rounds number[] input through float32 first', () => {
    expect(Array.from(encodeFp8([1, -2], 'e4m3'))).toEqual([0x38, 0xc0]);
  });

  it('rejects an unknown format and non-array values by name', () => {
    expect(() => encodeFp8(new Float32Array(1), 'e3m4' as Fp8Format)).toThrow(/encodeFp8: 'format' expected 'e4m3' or 'e5m2', got "e3m4"/);
    expect(() => decodeFp8(new Uint8Array(1), 'fp8' as Fp8Format)).toThrow(/decodeFp8: 'format'/);
    expect(() => encodeFp8('x' as unknown as Float32Array, 'e4m3')).toThrow(/encodeFp8: 'values' expected/);
    expect(() => decodeFp8([1] as unknown as Uint8Array, 'e4m3')).toThrow(/decodeFp8: 'bytes' expected a Uint8Array/);
  });
});

describe('PyTorch fixtures (torch 2.11 float8 dtypes)', () => {
  // Read with JSON.parse, not a JSON import: the import turns -0.0 into 0.
  const fixtures = JSON.parse(readFileSync(new URL('../fixtures/fp8/fake_quant_fp8.json', import.meta.url), 'utf8')) as
    {decode: Record<string, Array<number | string | null>>; encode_probe: Record<string, Array<number | string>>};
  const parse = (v: number | string | null): number =>
    v === null ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === 'nan' ? NaN : Number(v);
  it('decode tables equal torch.uint8.view(float8).float() for all 256 bytes', () => {
    for (const f of FORMATS) {
      const want = (fixtures.decode as Record<string, Array<number | string | null>>)[f]!.map(parse);
      Array.from(FP8_DECODE_TABLES[f]).forEach((v, i) => expect(Object.is(v, want[i]) || (Number.isNaN(v) && Number.isNaN(want[i])), `${f} 0x${i.toString(16)}`).toBe(true));
    }
  });
  it('encodeFp8 equals x.to(float8).view(uint8) on the probe values (ties, subnormals, above max)', () => {
    const probe = fixtures.encode_probe as unknown as Record<string, Array<number | string>>;
    const values = new Float32Array(probe.values!.map(parse));
    for (const f of FORMATS) expect(Array.from(encodeFp8(values, f)), f).toEqual(probe[f]);
  });
});

describe('decodeFp8', () => {
  it('decodes bytes via the table', () => {
    const got = decodeFp8(new Uint8Array([0x38, 0x7e, 0x01, 0xff, 0xb8]), 'e4m3');
    expect(Array.from(got)).toEqual([1, 448, 2 ** -9, NaN, -1]);
    expect(Array.from(decodeFp8(new Uint8Array([0x3c, 0x7b, 0x7c, 0x7f]), 'e5m2'))).toEqual([1, 57344, Infinity, NaN]);
  });
});
