/**
 * Token-embedding lookup with a scatter-add gradient.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {assertRank, check, fmtShape} from '../math/assert.js';
import {assertTokensInVocab} from '../math/token_log_probs.js';

// tf.gather's gradient is UnsortedSegmentSum, which the cpu backend runs in O(rows * vocab) (4 s for
// 480 rows of a 320-token table, tfjs 4.22) and the wasm backend lacks; scatterND sums duplicate ids
// in O(rows * width) on every backend.
const lookup = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [table, ids, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([ids]);
  return {
    value: tf.gather(table, ids),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const idx = saved[0]!;
      const grad = tf.scatterND(tf.reshape(idx, [-1, 1]), tf.reshape(dy as tf.Tensor, [idx.size, table.shape[1]!]), table.shape);
      return [grad, tf.zerosLike(idx)];
    },
  };
}) as Parameters<typeof tf.customGrad>[0]);

/**
 * Rows of an embedding table: E[ids], with dE = scatter-add of the output gradient into the rows of
 * `ids` (duplicates summed).
 *
 * @param table `[vocab, width]` float32.
 * @param ids `[n]` int32 ids in [0, vocab).
 * @returns `[n, width]`.
 * @throws when `table` is not float32 rank 2, `ids` is not int32 rank 1 or is empty, or (a value
 *   check, one read-back) an id is outside [0, vocab).
 * @example
 * const rows = embeddingLookup(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor1d([1, 1, 0], 'int32')); // [[3,4],[3,4],[1,2]]
 * rows.dispose();
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  assertLookupShapes(table, ids);
  assertTokensInVocab(ids, table.shape[0], 'embeddingLookup', `'table' ${fmtShape(table.shape)}`, 'ids');
  return lookup(table, ids) as tf.Tensor2D;
}

/**
 * @internal {@link embeddingLookup} for a model whose forward pass has checked its token ids against
 * the vocabulary already (`assertPolicyTokens`): the shape and dtype checks, not the id read-back.
 */
export function embeddingLookupOfCheckedIds(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  assertLookupShapes(table, ids);
  return lookup(table, ids) as tf.Tensor2D;
}

function assertLookupShapes(table: tf.Tensor2D, ids: tf.Tensor1D): void {
  assertRank(table, 2, 'embeddingLookup', 'table', ['vocab', 'width'], 'float32');
  assertRank(ids, 1, 'embeddingLookup', 'ids', ['n'], 'int32');
  check(ids.size > 0, 'embeddingLookup', () => `'ids' expected at least one id, got shape ${fmtShape(ids.shape)}`);
}
