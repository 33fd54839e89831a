import os from "node:os";

export type Verdict = "pass" | "miss" | "";

export interface Row {
  part: string;
  what: string;
  result: string;
  bar: string;
  verdict: Verdict;
}

/** What a run measured: table rows, detail paragraphs, and the conditions it ran under. */
export class Report {
  readonly rows: Row[] = [];
  readonly details: { title: string; body: string }[] = [];
  readonly loads: { part: string; load: number[] }[] = [];

  row(row: Row) {
    this.rows.push(row);
    console.log(`  ${row.verdict ? `[${row.verdict}] ` : ""}${row.what}: ${row.result}`);
  }

  detail(title: string, body: string) {
    this.details.push({ title, body });
  }

  noteLoad(part: string) {
    this.loads.push({ part, load: os.loadavg() });
  }

  /** The rows as an aligned plain-text table for the terminal. */
  table(): string {
    const header: Row = { part: "part", what: "what", result: "result", bar: "bar", verdict: "" };
    const all = [header, ...this.rows];
    const width = (key: keyof Row) => Math.max(...all.map((row) => String(row[key]).length));
    const widths = {
      part: width("part"),
      what: width("what"),
      result: width("result"),
      bar: width("bar"),
    };
    return all
      .map((row) =>
        [
          row.part.padEnd(widths.part),
          row.what.padEnd(widths.what),
          row.result.padEnd(widths.result),
          row.bar.padEnd(widths.bar),
          row === header ? "" : row.verdict,
        ]
          .join("  ")
          .trimEnd(),
      )
      .join("\n");
  }
}

/** A short description of this machine, without names or paths. */
export function machine(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.replace(/\s+/g, " ").trim() ?? "unknown CPU";
  const memory = (os.totalmem() / 1024 ** 3).toFixed(0);
  return `${cpus.length} vCPU (${model}), ${memory} GiB RAM, ${os.type()} ${os.release()} ${os.arch()}, Node ${process.version}`;
}

export const verdict = (ok: boolean): Verdict => (ok ? "pass" : "miss");
