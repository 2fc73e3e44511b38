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

/** A two-sample Kolmogorov–Smirnov test: the statistic, and the critical value it is compared with. */
export type KolmogorovSmirnov = {
  /** D: the largest distance between the two empirical distribution functions (0…1). */
  d: number;
  /** The critical value of D at `alpha` for these sample sizes (asymptotic, two-sided). */
  critical: number;
  alpha: number;
  /** D > critical: the samples come from different distributions at level `alpha`. */
  differ: boolean;
};

/**
 * The two-sample Kolmogorov–Smirnov test (two-sided): D = sup |F₁(x) − F₂(x)| over the samples,
 * rejected at level `alpha` when D > c(α)·√((n+m)/(n·m)), c(α) = √(−ln(α/2)/2) (1.628 at 0.01).
 * Ties are stepped over together, as the empirical distribution functions jump at a value.
 *
 * @example
 * kolmogorovSmirnov(held, unheld, 0.01) // { d: 0.04, critical: 0.073, alpha: 0.01, differ: false }
 */
export function kolmogorovSmirnov(
  a: readonly number[],
  b: readonly number[],
  alpha = 0.01,
): KolmogorovSmirnov {
  if (a.length === 0 || b.length === 0) throw new RangeError("both samples need at least one value");
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i] as number, y[j] as number);
    while (i < x.length && (x[i] as number) <= v) i++;
    while (j < y.length && (y[j] as number) <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  const n = x.length;
  const m = y.length;
  const critical = Math.sqrt(-Math.log(alpha / 2) / 2) * Math.sqrt((n + m) / (n * m));
  return { d, critical, alpha, differ: d > critical };
}
