import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  median,
  pairedRatio,
  percentile,
  ratiosAgree,
  ratioVerdict,
  summarize,
  tQuantile975,
} from "../../bench/lib/stats.ts";

describe("benchmark statistics", () => {
  test("percentile is nearest-rank on sorted samples", () => {
    const sorted = Array.from({ length: 100 }, (_, index) => index + 1);
    assert.equal(percentile(sorted, 0.5), 50);
    assert.equal(percentile(sorted, 0.99), 99);
    assert.equal(percentile(sorted, 1), 100);
    assert.equal(percentile(sorted, 0), 1);
    assert.equal(percentile([7], 0.99), 7);
    assert.ok(Number.isNaN(percentile([], 0.5)));
  });

  test("summarize sorts a copy and reports p50/p95/p99/max/mean", () => {
    const samples = [5, 1, 4, 2, 3];
    const summary = summarize(samples);
    assert.deepEqual(samples, [5, 1, 4, 2, 3]);
    assert.deepEqual(summary, { count: 5, p50: 3, p95: 5, p99: 5, max: 5, mean: 3 });
  });

  test("median ignores values that are not finite", () => {
    assert.equal(median([3, Number.NaN, 1, 2]), 2);
    assert.ok(Number.isNaN(median([])));
  });

  test("the same figures on both sides give a ratio of 1 with no difference", () => {
    const figures = [1.2, 0.9, 1.5, 1.1, 1.3];
    const ratio = pairedRatio(figures, figures);
    assert.equal(ratio.estimate, 1);
    assert.equal(ratio.low, 1);
    assert.equal(ratio.high, 1);
    assert.equal(ratio.rounds, 5);
  });

  test("a steady 2× with machine drift shared by both sides is found, with a tight interval", () => {
    // Each round the machine is slower or faster; both sides move together.
    const drift = [1, 3, 0.5, 2, 1.5, 4];
    const base = drift.map((factor) => 10 * factor);
    const doubled = base.map((value, index) => value * 2 * (index % 2 ? 1.05 : 0.95));
    const ratio = pairedRatio(doubled, base);
    assert.ok(Math.abs(ratio.estimate - 2) < 0.05, `estimate ${ratio.estimate}`);
    assert.ok(ratio.low > 1.8 && ratio.high < 2.2, `interval ${ratio.low}–${ratio.high}`);
    assert.equal(ratioVerdict(ratio), "higher");
    assert.equal(ratioVerdict(pairedRatio(base, doubled)), "lower");
  });

  test("noise without a shift gives an interval that holds 1", () => {
    const a = [10, 12, 9, 11, 10.5, 9.5];
    const b = [10.4, 11.5, 9.3, 11.2, 10.1, 9.9];
    const ratio = pairedRatio(b, a);
    assert.ok(ratio.low < 1 && ratio.high > 1, `interval ${ratio.low}–${ratio.high}`);
    assert.equal(ratioVerdict(ratio), "no difference");
  });

  test("the interval is the paired t interval on log ratios", () => {
    const logs = [0.1, 0.3, 0.2];
    const numerator = logs.map((log) => Math.exp(log));
    const ratio = pairedRatio(numerator, [1, 1, 1]);
    const mean = 0.2;
    const sd = 0.1;
    const half = tQuantile975(2) * (sd / Math.sqrt(3));
    assert.ok(Math.abs(ratio.estimate - Math.exp(mean)) < 1e-12);
    assert.ok(Math.abs(ratio.low - Math.exp(mean - half)) < 1e-12);
    assert.ok(Math.abs(ratio.high - Math.exp(mean + half)) < 1e-12);
  });

  test("rounds without a usable pair are left out; none or one round gives no interval", () => {
    const ratio = pairedRatio([2, Number.NaN, 0, 4], [1, 1, 1, 2]);
    assert.equal(ratio.rounds, 2);
    assert.equal(ratio.estimate, 2);
    const single = pairedRatio([3], [1]);
    assert.ok(Math.abs(single.estimate - 3) < 1e-12);
    assert.ok(Number.isNaN(single.low));
    assert.equal(ratioVerdict(single), "unknown");
    assert.equal(pairedRatio([], []).rounds, 0);
  });

  test("ratios agree when their intervals overlap", () => {
    const at = (estimate: number, low: number, high: number) => ({
      estimate,
      low,
      high,
      rounds: 5,
    });
    assert.ok(ratiosAgree(at(3, 2.5, 3.5), at(3.3, 3.1, 3.6)));
    assert.ok(!ratiosAgree(at(3, 2.5, 2.9), at(3.3, 3.1, 3.6)));
  });

  test("t quantiles shrink towards 1.96 with more rounds", () => {
    assert.equal(tQuantile975(1), 12.706);
    assert.equal(tQuantile975(5), 2.571);
    assert.ok(tQuantile975(30) > tQuantile975(100));
    assert.equal(tQuantile975(1000), 1.96);
  });
});
