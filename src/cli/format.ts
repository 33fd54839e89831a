import { stripAnsi } from "./style.ts";

/** Small text formatting helpers shared by the renderer and the tables. */

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Cuts text to `max` characters, marking the cut with `…`. */
export function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** Collapses whitespace (newlines included) and cuts. */
export function oneLine(text: string, max: number): string {
  return cut(text.replace(/\s+/g, " ").trim(), max);
}

export function compactJson(value: unknown, max: number): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return cut(text, max);
}

/**
 * A tool result's output as text: a string, Anthropic content blocks
 * (`[{type: "text", text}]`), a `{stdout, stderr}` record, or else JSON.
 */
export function toolOutputText(output: unknown): string {
  if (output === undefined || output === null) return "";
  if (typeof output === "string") return output;
  if (Array.isArray(output)) {
    return output
      .map((block) => {
        if (typeof block === "string") return block;
        if (isRecord(block) && typeof block.text === "string") return block.text;
        if (isRecord(block) && typeof block.type === "string") return `[${block.type}]`;
        return compactJson(block, 2000);
      })
      .join("\n");
  }
  if (isRecord(output)) {
    if (typeof output.stdout === "string" || typeof output.stderr === "string") {
      return [output.stdout, output.stderr]
        .filter((part): part is string => typeof part === "string" && part !== "")
        .join("\n");
    }
    if (typeof output.content === "string") return output.content;
    if (Array.isArray(output.content)) return toolOutputText(output.content);
  }
  return compactJson(output, 10_000);
}

export function formatCost(usd: number): string {
  return `$${usd.toFixed(usd >= 1 ? 2 : 4)}`;
}

export function formatCount(count: number): string {
  return count.toLocaleString("en-US");
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes}m${Math.round((ms % 60_000) / 1000)}s`;
}

/** How long ago `timestamp` (ms epoch) was: `12s`, `5m`, `3h`, `2d`. */
export function formatAge(timestamp: number, now: number): string {
  const seconds = Math.max(0, Math.floor((now - timestamp) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** A plain table: columns padded to their widest cell (colour codes not counted). */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((cell, column) =>
    Math.max(visibleLength(cell), ...rows.map((row) => visibleLength(row[column] ?? ""))),
  );
  const line = (row: string[]) =>
    row
      .map((cell, column) =>
        column === row.length - 1
          ? cell
          : cell + " ".repeat(Math.max(0, widths[column]! - visibleLength(cell))),
      )
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

function visibleLength(text: string): number {
  return stripAnsi(text).length;
}
