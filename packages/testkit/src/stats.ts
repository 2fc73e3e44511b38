/**
 * Nearest-rank percentile (`p` in 0…100) of unsorted samples; NaN when there are none.
 *
 * @example
 * percentile([5, 1, 3], 50) // 3
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}
