// Binary search over ascending addresses: the lookups of the ELF reader, the line table and the check.

/** How many of the ascending numbers `sorted` are <= `value` (the index of the first one above it). */
export function upperBound(sorted: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
