import * as tf from '@tensorflow/tfjs-core';

/**
 * Central finite differences (f(x + h e_i) - f(x - h e_i)) / (2 h) of a scalar function, in float64 JavaScript.
 * f gets a moved copy of x (a plain number[]) and the moved coordinate i; `indices` limits the coordinates
 * (default all). Returns one difference per coordinate, in the order of `indices`.
 */
export function centralDifferences(f: (x: number[], i: number) => number, x: ArrayLike<number>, h: number,
    indices: readonly number[] = Array.from(x, (_, i) => i)): number[] {
  const at = (i: number, delta: number): number => {
    const moved = Array.from(x);
    moved[i]! += delta;
    return f(moved, i);
  };
  return indices.map((i) => (at(i, h) - at(i, -h)) / (2 * h));
}

/** centralDifferences over the entries of a grid (rows of numbers); f gets the moved grid and the entry's row and column. */
export function gridCentralDifferences(f: (x: number[][], b: number, t: number) => number, x: number[][], h: number): number[][] {
  const unflat = (flat: number[]): number[][] => {
    let k = 0;
    return x.map((row) => row.map(() => flat[k++]!));
  };
  const cols = x.map((row) => row.length);
  const where = (i: number): [number, number] => {
    let b = 0;
    while (i >= cols[b]!) i -= cols[b++]!;
    return [b, i];
  };
  return unflat(centralDifferences((moved, i) => f(unflat(moved), ...where(i)), x.flat(), h));
}

/** centralDifferences of a scalar-valued tensor function at the tensor of values x and shape `shape` (each call in tf.tidy). */
export function tensorCentralDifferences(f: (x: tf.Tensor) => tf.Scalar, x: ArrayLike<number>, shape: number[], h: number): number[] {
  return centralDifferences((moved) => tf.tidy(() => f(tf.tensor(moved, shape)).dataSync()[0]!), x, h);
}
