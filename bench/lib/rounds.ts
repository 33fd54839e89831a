import { median, ms, pairedRatio, type Ratio } from "./stats.ts";

/** The figures one short measurement window gave, by name (ms, events/s, …). */
export type Figures = Record<string, number>;

/** Something measured in windows: a floor, Omoi at one version, the seed's protocol. */
export interface Subject {
  name: string;
  window(): Promise<Figures>;
}

/** One subject's figures, one entry per round. */
export class Series {
  readonly rounds: Figures[] = [];
  constructor(readonly name: string) {}

  values(figure: string): number[] {
    return this.rounds.map((round) => round[figure] ?? Number.NaN);
  }

  median(figure: string): number {
    return median(this.values(figure));
  }
}

/**
 * Measures `subjects` in turn, round after round, after one unrecorded warm-up window each.
 * Odd rounds run in reverse (A B C, C B A, A B C, …), so no subject always follows the same
 * neighbour or sits at the same place in a round. Subjects measured in the same round shared
 * the same minute of the machine, so ratios are taken round by round (see `ratioOf`).
 */
export async function alternate(
  subjects: Subject[],
  options: { rounds: number; warmup?: boolean; onRound?: (round: number) => void },
): Promise<Map<string, Series>> {
  const series = new Map(subjects.map((subject) => [subject.name, new Series(subject.name)]));
  if (options.warmup ?? true) for (const subject of subjects) await subject.window();
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? subjects : [...subjects].reverse();
    for (const subject of order) series.get(subject.name)?.rounds.push(await subject.window());
    options.onRound?.(round);
  }
  return series;
}

/** `numerator`'s figure over the sum of the `denominator` figures, round by round. */
export function ratioOf(
  numerator: { series: Series; figure: string },
  denominator: { series: Series; figure: string }[],
): Ratio {
  const top = numerator.series.values(numerator.figure);
  const bottom = top.map((_, round) =>
    denominator.reduce(
      (sum, part) => sum + (part.series.rounds[round]?.[part.figure] ?? Number.NaN),
      0,
    ),
  );
  return pairedRatio(top, bottom);
}

/** The median over rounds of a sum of figures (a composite floor such as echo + store). */
export function sumMedian(parts: { series: Series; figure: string }[]): number {
  const rounds = Math.min(...parts.map((part) => part.series.rounds.length));
  return median(
    Array.from({ length: rounds }, (_, round) =>
      parts.reduce((sum, part) => sum + (part.series.rounds[round]?.[part.figure] ?? 0), 0),
    ),
  );
}

/** A markdown table of latency subjects: p50 / p95 / p99, each the median over rounds. */
export function latencyTable(rows: { name: string; series: Series }[]): string[] {
  return [
    "| subject | p50 ms | p95 ms | p99 ms |",
    "| --- | --- | --- | --- |",
    ...rows.map(
      ({ name, series }) =>
        `| ${name} | ${ms(series.median("p50"))} | ${ms(series.median("p95"))} | ${ms(series.median("p99"))} |`,
    ),
  ];
}
