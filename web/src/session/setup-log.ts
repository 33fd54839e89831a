import type { SetupItem } from "./items.ts";
import { bool, num, type Payload, str } from "./payload.ts";

/*
 * An environment's setup script as one item, like a CI log: `setup_started` opens it, each
 * `setup_output` adds lines (the newest SETUP_LINES_KEPT are kept, the rest counted), and
 * `setup_finished` closes it with its exit code, duration and tail.
 */

/** The setup log keeps its newest lines; the rest are counted. */
export const SETUP_LINES_KEPT = 2000;

export type SetupEventType = "environment.setup_started" | "environment.setup_output" | "environment.setup_finished";

/**
 * The setup item after one setup event. `open` is the log being written, if any; a start, or
 * output or an end with no open log, begins a new item (keyed by this event): `isNew` says so.
 */
export function foldSetup(
  open: SetupItem | null,
  key: string,
  type: SetupEventType,
  payload: Payload,
): { item: SetupItem; isNew: boolean } {
  const isNew = type === "environment.setup_started" || !open || open.finished;
  const item: SetupItem = isNew
    ? {
        kind: "setup",
        key,
        environment: str(payload, "environment"),
        network: str(payload, "network"),
        lines: [],
        dropped: 0,
        finished: false,
        exitCode: null,
        durationMs: null,
        cached: false,
        error: null,
        tail: [],
      }
    : open;
  if (type === "environment.setup_started") return { item, isNew };
  if (type === "environment.setup_output") {
    const lines = item.lines.concat(readSetupLines(payload.lines));
    const dropped = Math.max(0, lines.length - SETUP_LINES_KEPT);
    const next = { ...item, lines: dropped ? lines.slice(dropped) : lines, dropped: item.dropped + dropped };
    return { item: next, isNew };
  }
  const tail = Array.isArray(payload.tail) ? payload.tail.filter((line) => typeof line === "string") : [];
  const finished = {
    ...item,
    finished: true,
    exitCode: num(payload, "exit_code"),
    durationMs: num(payload, "duration_ms"),
    cached: bool(payload, "cached"),
    error: str(payload, "error"),
    tail,
  };
  return { item: finished, isNew };
}

function readSetupLines(value: unknown): SetupItem["lines"] {
  if (!Array.isArray(value)) return [];
  const lines: SetupItem["lines"] = [];
  for (const entry of value) {
    if (typeof entry !== "object" || entry === null) continue;
    const text = str(entry as Payload, "text");
    if (text === null) continue;
    lines.push({ stream: str(entry as Payload, "stream") === "stderr" ? "stderr" : "stdout", text });
  }
  return lines;
}
