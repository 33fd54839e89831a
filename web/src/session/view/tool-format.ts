/** Turns tool inputs and outputs of any shape into text for the tool cards. */

type Loose = Record<string, unknown>;

function asRecord(value: unknown): Loose | null {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Loose) : null;
}

function field(value: unknown, key: string): string | null {
  const record = asRecord(value);
  const found = record?.[key];
  return typeof found === "string" ? found : null;
}

/** One line saying what the call does: the command, the file, the pattern… */
export function toolSummary(tool: string, input: unknown): string {
  const name = tool.toLowerCase();
  if (name === "bash") return field(input, "command") ?? "";
  const preferred = ["file_path", "path", "notebook_path", "pattern", "url", "query", "description", "prompt"];
  for (const key of preferred) {
    const value = field(input, key);
    if (value) return value;
  }
  const record = asRecord(input);
  if (record) {
    for (const value of Object.values(record)) if (typeof value === "string") return value;
  }
  return typeof input === "string" ? input : "";
}

export function stringify(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** Tool output: a string, a list of content blocks, or `{stdout, stderr}`, as text. */
export function outputText(output: unknown): string {
  if (output === undefined || output === null) return "";
  if (typeof output === "string") return output;
  if (Array.isArray(output)) {
    return output
      .map((block) => {
        const record = asRecord(block);
        if (!record) return stringify(block);
        if (typeof record.text === "string") return record.text;
        if (record.type === "image") return "[image]";
        return stringify(block);
      })
      .join("\n");
  }
  const record = asRecord(output);
  if (record && (typeof record.stdout === "string" || typeof record.stderr === "string")) {
    return [record.stdout, record.stderr].filter((part) => typeof part === "string" && part).join("\n");
  }
  if (record && typeof record.content === "string") return record.content;
  return stringify(output);
}

/** The input minus what the summary already shows, or null when nothing is left. */
export function inputDetails(tool: string, input: unknown): string | null {
  const record = asRecord(input);
  if (!record) return input === undefined ? null : stringify(input);
  const rest: Loose = { ...record };
  if (tool.toLowerCase() === "bash") delete rest.command;
  const keys = Object.keys(rest);
  if (keys.length === 0) return null;
  if (keys.length === 1 && keys[0] === "description") return null;
  return stringify(rest);
}

/** `/work/space/src/a.ts` → `src/a.ts` when the agent works in `/work/space`. */
export function relativeTo(cwd: string | null, text: string): string {
  if (!cwd || !text.startsWith(cwd)) return text;
  const rest = text.slice(cwd.length);
  if (rest === "") return ".";
  return rest.startsWith("/") ? rest.slice(1) : text;
}
