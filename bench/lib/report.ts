import os from "node:os";
import type { PartContext } from "./machine.ts";
import { ratioOf, type Series } from "./rounds.ts";
import { ms, type Ratio, ratioText } from "./stats.ts";

export type Verdict = "pass" | "miss" | "";

/** A figure against its bar: an absolute target, and the same bar as a multiple of the floor. */
export interface Bar {
  /** The absolute target (DESIGN §9), in the figure's unit. */
  absolute?: number;
  /** A bar that is not a number ("zero lost"), with whether this run met it. */
  text?: string;
  met?: boolean;
  /** The target as a multiple of the floor measured in the same run. */
  ratio?: number;
  /** Throughput bars are minimums; latency bars maxima. */
  higherIsBetter?: boolean;
}

/**
 * One headline figure of a run: its value (median over rounds), its floor from the same
 * rounds and the ratio to it, the seed protocol's figure beside it, and (A/B) the other
 * version's figure and the ratio between the two.
 */
export interface Headline {
  id: string;
  part: string;
  what: string;
  unit: "ms" | "events/s";
  value: number;
  floor?: { what: string; value: number; ratio: Ratio };
  /** The prototype's protocol at the same rate; ratio = how many times better ours is. */
  seed?: { what: string; value: number; ratio: Ratio };
  bar?: Bar;
  verdict: Verdict;
  ratioVerdict: Verdict;
  /** A/B: the other version's value and other ÷ this. */
  against?: { value: number; ratio: Ratio };
}

/** A figure given as text, for a part that measures without rounds or a floor. */
export interface Row {
  part: string;
  what: string;
  result: string;
  bar: string;
  verdict: Verdict;
}

export interface FigureRef {
  series: Series;
  figure: string;
}

const passes = (value: number, limit: number, higherIsBetter = false) =>
  higherIsBetter ? value >= limit : value <= limit;

/** What a run measured: headline figures, detail paragraphs, and the machine while it ran. */
export class Report {
  readonly headlines: Headline[] = [];
  readonly rows: Row[] = [];
  readonly details: { title: string; body: string }[] = [];
  readonly contexts: PartContext[] = [];

  /**
   * Adds a headline from series measured in the same rounds: `ours` (this checkout),
   * `other` (the --against version), the floor's parts (summed) and the seed's figure.
   */
  headline(options: {
    id: string;
    part: string;
    what: string;
    unit?: "ms" | "events/s";
    ours: FigureRef;
    other?: FigureRef;
    floor?: { what: string; parts: FigureRef[] };
    seed?: { what: string; ref: FigureRef };
    bar?: Bar;
  }): Headline {
    const unit = options.unit ?? "ms";
    const higher = unit === "events/s";
    const value = options.ours.series.median(options.ours.figure);
    const floor = options.floor && {
      what: options.floor.what,
      value: sumOfMedians(options.floor.parts),
      ratio: ratioOf(options.ours, options.floor.parts),
    };
    // "N× the prototype": how many times better ours is, whichever way better points.
    const seed = options.seed && {
      what: options.seed.what,
      value: options.seed.ref.series.median(options.seed.ref.figure),
      ratio: higher
        ? ratioOf(options.ours, [options.seed.ref])
        : ratioOf(options.seed.ref, [options.ours]),
    };
    const bar = options.bar;
    const headline: Headline = {
      id: options.id,
      part: options.part,
      what: options.what,
      unit,
      value,
      ...(floor ? { floor } : {}),
      ...(seed ? { seed } : {}),
      ...(bar ? { bar } : {}),
      verdict: verdictOf(value, bar),
      ratioVerdict:
        bar?.ratio !== undefined && floor
          ? passes(floor.ratio.estimate, bar.ratio, bar.higherIsBetter)
            ? "pass"
            : "miss"
          : "",
      ...(options.other
        ? {
            against: {
              value: options.other.series.median(options.other.figure),
              ratio: ratioOf(options.other, [options.ours]),
            },
          }
        : {}),
    };
    this.headlines.push(headline);
    console.log(`  ${headlineLine(headline)}`);
    return headline;
  }

  row(row: Row) {
    this.rows.push(row);
    console.log(`  ${row.verdict ? `[${row.verdict}] ` : ""}${row.what}: ${row.result}`);
  }

  detail(title: string, body: string) {
    this.details.push({ title, body });
  }

  context(context: PartContext) {
    this.contexts.push(context);
    console.log(`  (${contextText(context)})`);
  }
}

function verdictOf(value: number, bar: Bar | undefined): Verdict {
  if (bar?.met !== undefined) return bar.met ? "pass" : "miss";
  if (bar?.absolute === undefined) return "";
  return passes(value, bar.absolute, bar.higherIsBetter) ? "pass" : "miss";
}

function sumOfMedians(parts: FigureRef[]): number {
  return parts.reduce((sum, part) => sum + part.series.median(part.figure), 0);
}

export const valueText = (value: number, unit: Headline["unit"]) =>
  unit === "ms" ? `${ms(value)} ms` : `${Math.round(value).toLocaleString("en-US")} events/s`;

/** A headline on one line, for the terminal. */
export function headlineLine(headline: Headline): string {
  const parts = [`${headline.what}: ${valueText(headline.value, headline.unit)}`];
  if (headline.floor) parts.push(`${ratioText(headline.floor.ratio)} floor`);
  if (headline.seed) parts.push(`seed ${ratioText(headline.seed.ratio)} worse`);
  if (headline.against) {
    parts.push(
      `other ${valueText(headline.against.value, headline.unit)} = ${ratioText(headline.against.ratio)}`,
    );
  }
  if (headline.verdict) parts.push(`[${headline.verdict}]`);
  return parts.join("; ");
}

export function contextText(context: PartContext): string {
  const load = (values: number[]) => values.map((value) => value.toFixed(1)).join("/");
  const percent = (value: number) => (Number.isFinite(value) ? `${Math.round(value * 100)}%` : "–");
  return `${context.part}: load ${load(context.loadStart)} → ${load(context.loadEnd)}, CPU busy ${percent(context.busy)}, steal ${percent(context.steal)}, calibration ${context.calibrationMs.toFixed(1)} ms, ${Math.round(context.seconds)} s`;
}

/** A short description of this machine, without names or paths. */
export function machine(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.replace(/\s+/g, " ").trim() ?? "unknown CPU";
  const memory = (os.totalmem() / 1024 ** 3).toFixed(0);
  return `${cpus.length} vCPU (${model}), ${memory} GiB RAM, ${os.type()} ${os.release()} ${os.arch()}, Node ${process.version}`;
}
