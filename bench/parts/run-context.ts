import type { Report } from "../lib/report.ts";
import type { Backend } from "../lib/server.ts";

/** A version of Omoi under test: this checkout (A) or the one named by --against (B). */
export interface Target {
  /** "A" or "B". */
  name: string;
  /** What the report calls it: "this checkout", "main (1a2b3c4)". */
  label: string;
  root: string;
}

export interface RunOptions {
  quick: boolean;
  /** Measured rounds per part (each subject once per round). */
  rounds: number;
  /** Length of one latency window, seconds. */
  seconds: number;
  backends: Backend[];
  concurrency: number;
  /** How long the environments part's setup script runs, seconds. */
  setupSeconds: number;
}

export interface PartRun {
  report: Report;
  /** [A] or [A, B]. */
  targets: Target[];
  options: RunOptions;
}

export const backendLabel = (backend: Backend) =>
  backend === "embedded" ? "embedded (SQLite + in-process bus)" : "scaled (Postgres + Redis)";
export const backendShort = (backend: Backend) =>
  backend === "embedded" ? "embedded" : "Postgres+Redis";

/** The series name of a subject measured for one target. */
export const named = (subject: string, target: Target) => `${subject}@${target.name}`;
