import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { safeJsonParse } from "../../src/protocol/json.ts";
import { PROJECT_ROOT } from "../../test/helpers/omoi.ts";
import type { PartContext } from "./machine.ts";
import type { Headline } from "./report.ts";

/**
 * A run kept for the record (`--record NAME`): the same code at another machine load, or an
 * A/B against another version. docs/benchmarks.md shows every record beside the main run.
 */
export interface RunRecord {
  name: string;
  date: string;
  machine: string;
  /** This checkout's commit (and whether it had uncommitted changes). */
  commit: string;
  /** Busy-loop processes the run started to load the machine (--cpu-load). */
  cpuLoad: number;
  parts: string[];
  rounds: number;
  against?: { ref: string; commit: string; subject: string };
  contexts: PartContext[];
  headlines: Headline[];
}

export const RECORDS_DIR = path.join(PROJECT_ROOT, "bench", "records");

export function saveRecord(record: RunRecord): string {
  mkdirSync(RECORDS_DIR, { recursive: true });
  const file = path.join(RECORDS_DIR, `${record.name}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 1)}\n`);
  return file;
}

/** Every kept record, oldest first. A file that does not parse is skipped with a warning. */
export function loadRecords(): RunRecord[] {
  let files: string[];
  try {
    files = readdirSync(RECORDS_DIR).filter((file) => file.endsWith(".json"));
  } catch {
    return [];
  }
  const records: RunRecord[] = [];
  for (const file of files) {
    const parsed = safeJsonParse(readFileSync(path.join(RECORDS_DIR, file), "utf8"));
    if (!parsed.ok) {
      console.warn(`skipping bench/records/${file}: ${parsed.error}`);
      continue;
    }
    records.push(parsed.value as RunRecord);
  }
  return records.sort((a, b) => a.date.localeCompare(b.date));
}
