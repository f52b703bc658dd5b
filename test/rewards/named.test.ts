import fc from 'fast-check';
import {describe, expect, it} from 'vitest';
import {clip} from '../../src/rewards/clip.js';
import {gate} from '../../src/rewards/gate.js';
import {named} from '../../src/rewards/named.js';
import {scale} from '../../src/rewards/scale.js';
import {sum} from '../../src/rewards/sum.js';
import {weighted} from '../../src/rewards/weighted.js';
import {batch, fixed, fixedAsync, valueArrays} from './reward_fixtures.js';

describe('named', () => {
  it('returns the values unchanged and reports them under the name', async () => {
    const r = named('acc', fixedAsync([1, 0]));
    expect(r.componentNames).toEqual(['acc']);
    expect(await r(batch(2))).toEqual([1, 0]);
    expect(await r.breakdown(batch(2))).toEqual({values: [1, 0], components: {acc: [1, 0]}, counters: {}});
  });
  it('breakdowns are preserved through any nesting of combinators (property)', async () => {
    await fc.assert(fc.asyncProperty(valueArrays, async ([a, b, c]) => {
      const n = a.length;
      const r = clip(sum(scale(named('a', fixed(a)), 2), gate(named('b', fixedAsync(b)), named('c', fixed(c)), {threshold: 0})), -100, 100);
      const out = await r.breakdown(batch(n));
      expect(r.componentNames).toEqual(['a', 'b', 'c']);
      expect(out.components).toEqual({a, b, c});
    }), {numRuns: 30});
  });
  it('nested names are all reported; the same named reward used twice is reported once', () => {
    const format = named('format', fixed([1, 0]));
    const r = named('total', weighted([[gate(format, named('accuracy', fixed([1, 1]))), 1], [format, 0.5]]));
    expect(r.componentNames).toEqual(['format', 'accuracy', 'total']);
    expect(r.breakdown(batch(2))).toEqual({
      values: [1.5, 0], components: {format: [1, 0], accuracy: [1, 1], total: [1.5, 0]}, counters: {},
    });
  });
  it('rejects two different rewards with one name, and bad names', () => {
    expect(() => sum(named('x', fixed([1])), named('x', fixed([2])))).toThrow(
        "sum: component name 'x' is used by two different rewards");
    expect(() => named('x', named('x', fixed([1])))).toThrow("named: 'name' 'x' is already used by a component inside 'fn'");
    expect(() => named('', fixed([1]))).toThrow("named: 'name' expected a non-empty string, got \"\"");
    expect(() => named('x', 'f' as never)).toThrow("named: 'fn' expected a function, got \"f\"");
  });
});
