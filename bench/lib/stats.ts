/** Latency summary of a set of samples, in milliseconds. */
export interface Summary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of sorted samples (`q` in 0..1). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const total = sorted.reduce((sum, value) => sum + value, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
    mean: sorted.length ? total / sorted.length : Number.NaN,
  };
}

/** A millisecond figure for a table: 3 significant decimals below 10 ms, fewer above. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "–";
  if (value < 10) return value.toFixed(2);
  if (value < 100) return value.toFixed(1);
  return value.toFixed(0);
}

/** A ratio between two measured figures with its 95% confidence interval. */
export interface Ratio {
  /** Geometric mean of the per-round ratios. */
  estimate: number;
  low: number;
  high: number;
  /** Rounds that gave a usable (finite, positive) pair. */
  rounds: number;
}

/** Two-sided 95% Student t quantiles by degrees of freedom (1–30); 1.96 beyond. */
const T_975 = [
  Number.NaN,
  12.706,
  4.303,
  3.182,
  2.776,
  2.571,
  2.447,
  2.365,
  2.306,
  2.262,
  2.228,
  2.201,
  2.179,
  2.16,
  2.145,
  2.131,
  2.12,
  2.11,
  2.101,
  2.093,
  2.086,
  2.08,
  2.074,
  2.069,
  2.064,
  2.06,
  2.056,
  2.052,
  2.048,
  2.045,
  2.042,
];

export function tQuantile975(degrees: number): number {
  if (degrees < 1) return Number.NaN;
  if (degrees < T_975.length) return T_975[degrees];
  return degrees <= 60 ? 2.0 : 1.96;
}

/**
 * `numerator[i] / denominator[i]` for figures measured side by side in round i (the same
 * minute of the same machine), summarized as the geometric mean of the per-round ratios
 * with a paired t interval on their logarithms. Pairing is what cancels the machine's
 * drift: a busy minute slows both sides of a round alike. A ratio is the same whether the
 * figures are ms or events/s; one round alone gives the estimate and no interval.
 */
export function pairedRatio(numerator: readonly number[], denominator: readonly number[]): Ratio {
  const logs: number[] = [];
  for (let index = 0; index < Math.min(numerator.length, denominator.length); index++) {
    const ratio = numerator[index] / denominator[index];
    if (Number.isFinite(ratio) && ratio > 0) logs.push(Math.log(ratio));
  }
  const count = logs.length;
  if (count === 0) return { estimate: Number.NaN, low: Number.NaN, high: Number.NaN, rounds: 0 };
  const mean = logs.reduce((sum, value) => sum + value, 0) / count;
  if (count === 1) {
    return { estimate: Math.exp(mean), low: Number.NaN, high: Number.NaN, rounds: 1 };
  }
  const variance = logs.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (count - 1);
  const half = tQuantile975(count - 1) * Math.sqrt(variance / count);
  return {
    estimate: Math.exp(mean),
    low: Math.exp(mean - half),
    high: Math.exp(mean + half),
    rounds: count,
  };
}

/** Whether a ratio's interval leaves out 1 (a difference), and which way. */
export function ratioVerdict(ratio: Ratio): "higher" | "lower" | "no difference" | "unknown" {
  if (!Number.isFinite(ratio.low) || !Number.isFinite(ratio.high)) return "unknown";
  if (ratio.low > 1) return "higher";
  if (ratio.high < 1) return "lower";
  return "no difference";
}

/** Whether two ratios (say, from runs at different machine loads) agree: their intervals overlap. */
export function ratiosAgree(first: Ratio, second: Ratio): boolean {
  return first.low <= second.high && second.low <= first.high;
}

/** "2.31× [2.05–2.60]": a ratio with its interval. */
export function ratioText(ratio: Ratio): string {
  if (!Number.isFinite(ratio.estimate)) return "–";
  const figure = (value: number) =>
    value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
  if (!Number.isFinite(ratio.low)) return `${figure(ratio.estimate)}×`;
  return `${figure(ratio.estimate)}× [${figure(ratio.low)}–${figure(ratio.high)}]`;
}

/** Median of a list of numbers (NaN when empty); ignores non-finite values. */
export function median(values: readonly number[]): number {
  return percentile(
    values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b),
    0.5,
  );
}
