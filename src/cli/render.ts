import type { z } from "zod";
import type { EventDefinition } from "../protocol/event.ts";
import {
  AgentCompleted,
  AgentError,
  AgentFailed,
  AgentFileEdited,
  AgentMessage,
  AgentMessageDelta,
  AgentMessageInjected,
  AgentStarted,
  AgentSystem,
  AgentThinking,
  AgentTodoUpdated,
  AgentToolResult,
  AgentToolUse,
  AgentTurnCompleted,
  AgentWaiting,
  MessageQueued,
  SandboxFailed,
  SandboxReady,
  TaskAssigned,
  TaskCancelled,
  TaskCompleted,
  TaskCreated,
  TaskFailed,
} from "../protocol/events.ts";
import {
  compactJson,
  cut,
  formatCost,
  formatCount,
  formatDuration,
  isRecord,
  oneLine,
  toolOutputText,
} from "./format.ts";
import { repoLines } from "./render-repo.ts";
import { stepLines } from "./render-steps.ts";
import type { Style } from "./style.ts";

/*
 * Turns stored events into terminal text. Pure apart from its own state: which
 * assistant messages already streamed as deltas, and whether the cursor sits mid-line.
 * Every method returns the exact text to write to stdout.
 */

export interface RenderableEvent {
  event_type: string;
  payload: Record<string, unknown>;
}

export interface RenderOptions {
  style: Style;
  /** Terminal width, for cutting long lines. */
  width?: number;
  /** A person can type at this terminal: hints mention it. */
  interactive?: boolean;
  /** Tool results longer than this many lines are folded. */
  foldLines?: number;
  /** Diffs longer than this many lines are folded. */
  foldDiffLines?: number;
}

export type NoticeTone = "info" | "warn" | "error" | "success";

const MAX_JSON_CHARS = 300;
/** Diff preamble lines. */
const DIFF_HEADER = /^(\+\+\+ |--- |diff |index |Index: |=+$)/;

export class EventRenderer {
  private readonly style: Style;
  private readonly lineLimit: number;
  private readonly foldLines: number;
  private readonly foldDiffLines: number;
  private readonly interactive: boolean;
  private midLine = false;
  /** Text streamed as deltas per assistant message id ("" when the deltas carried none). */
  private readonly streamed = new Map<string, string>();
  private readonly shownQueued = new Set<string>();

  constructor(options: RenderOptions) {
    this.style = options.style;
    this.lineLimit = Math.max(40, (options.width ?? 160) - 6);
    this.foldLines = options.foldLines ?? 8;
    this.foldDiffLines = options.foldDiffLines ?? 60;
    this.interactive = options.interactive ?? false;
  }

  render(event: RenderableEvent): string {
    if (event.event_type === AgentMessageDelta.type) return this.delta(event.payload);
    if (event.event_type === AgentMessage.type) return this.message(event.payload);
    const lines = this.lines(event);
    return lines === undefined ? "" : this.block(lines);
  }

  /** A message this terminal sent: shown once, whether the POST answer or the event comes first. */
  queued(message: { message_id: string; content: string; message_type?: string }): string {
    if (this.shownQueued.has(message.message_id)) return "";
    this.shownQueued.add(message.message_id);
    return this.block([this.queuedLine(message.content, message.message_type)]);
  }

  notice(text: string, tone: NoticeTone = "info"): string {
    const { style } = this;
    const colour =
      tone === "error"
        ? style.red
        : tone === "warn"
          ? style.yellow
          : tone === "success"
            ? style.green
            : style.dim;
    return this.block(text.split("\n").map((line) => colour(line)));
  }

  /** A newline if assistant text left the cursor mid-line (call before writing to stderr). */
  breakLine(): string {
    if (!this.midLine) return "";
    this.midLine = false;
    return "\n";
  }

  private block(lines: string[]): string {
    if (lines.length === 0) return "";
    const text = `${this.breakLine()}${lines.join("\n")}\n`;
    this.midLine = false;
    return text;
  }

  private delta(payload: Record<string, unknown>): string {
    const parsed = read(AgentMessageDelta, payload);
    if (!parsed || parsed.delta === "") return "";
    const key = parsed.message_id ?? "";
    if (!this.streamed.has(key) && this.streamed.size >= 50) this.streamed.clear();
    this.streamed.set(key, (this.streamed.get(key) ?? "") + parsed.delta);
    this.midLine = !parsed.delta.endsWith("\n");
    return parsed.delta;
  }

  private lines(event: RenderableEvent): string[] | undefined {
    const { style } = this;
    const { payload } = event;
    switch (event.event_type) {
      case TaskCreated.type: {
        const p = read(TaskCreated, payload);
        const title = p?.title ? `: ${p.title}` : "";
        const priority = p?.priority ? ` (${p.priority.toLowerCase()})` : "";
        return [style.dim(`● task queued${title}${priority}`)];
      }
      case TaskAssigned.type: {
        const p = read(TaskAssigned, payload);
        const attempt = p?.attempt && p.attempt > 1 ? `, attempt ${p.attempt}` : "";
        return [style.dim(`● assigned to sandbox ${p?.sandbox_id ?? "?"}${attempt}`)];
      }
      case "task.started":
        return [style.dim("● task started")];
      case TaskCompleted.type: {
        return [style.green(style.bold("✓ task completed"))];
      }
      case TaskFailed.type: {
        const p = read(TaskFailed, payload);
        const retry = p?.will_retry ? " (will retry)" : "";
        return [style.red(style.bold(`✗ task failed${retry}${p?.error ? `: ${p.error}` : ""}`))];
      }
      case TaskCancelled.type: {
        const p = read(TaskCancelled, payload);
        return [style.yellow(style.bold(`■ task cancelled${p?.reason ? `: ${p.reason}` : ""}`))];
      }
      case "sandbox.created":
      case "sandbox.starting":
        return [style.dim(`● sandbox ${event.event_type.slice("sandbox.".length)}`)];
      case SandboxReady.type: {
        const p = read(SandboxReady, payload);
        return [style.dim(`● sandbox ready${p?.workspace ? ` · ${p.workspace}` : ""}`)];
      }
      case "sandbox.completed":
        return [style.dim("● sandbox closed")];
      case "sandbox.terminated":
        return [style.yellow("■ sandbox terminated")];
      case SandboxFailed.type: {
        const p = read(SandboxFailed, payload);
        return [style.red(`✗ sandbox failed${p?.error ? `: ${p.error}` : ""}`)];
      }
      case MessageQueued.type: {
        const p = read(MessageQueued, payload);
        if (!p) return undefined;
        if (this.shownQueued.has(p.message_id)) return undefined;
        this.shownQueued.add(p.message_id);
        const queuedLine = this.queuedLine(p.content, p.message_type);
        return [
          p.delivery === "queue" ? `${queuedLine} ${style.dim("(after this turn)")}` : queuedLine,
        ];
      }
      case AgentStarted.type:
        return this.started(payload);
      case AgentThinking.type: {
        const content = read(AgentThinking, payload)?.content?.trim();
        if (!content) return undefined;
        return content
          .split("\n")
          .map((line, index) => style.dim(style.italic(index === 0 ? `✻ ${line}` : `  ${line}`)));
      }
      case AgentToolUse.type:
        return this.toolUse(payload);
      case AgentToolResult.type:
        return this.toolResult(payload);
      case AgentFileEdited.type:
        return this.fileEdited(payload);
      case AgentTodoUpdated.type:
        return this.todos(payload);
      case AgentMessageInjected.type: {
        const p = read(AgentMessageInjected, payload);
        if (!p) return undefined;
        const what = p.message_type === "user_message" ? oneLine(p.content, 200) : p.message_type;
        return [style.cyan(`→ delivered: ${what}`)];
      }
      case AgentTurnCompleted.type:
        return this.turnCompleted(payload);
      case AgentWaiting.type: {
        const hint = this.interactive ? " — type a message and press Enter" : "";
        return [style.dim(`◌ agent waiting for a message${hint}`)];
      }
      case "agent.interrupted":
        return [style.yellow("⏸ turn interrupted")];
      case "agent.heartbeat":
        return undefined;
      case AgentError.type: {
        const p = read(AgentError, payload);
        const retry = p?.retryable ? " (retrying)" : "";
        return [style.red(`✗ error${retry}: ${p?.error ?? "unknown"}`)];
      }
      case AgentCompleted.type: {
        const p = read(AgentCompleted, payload);
        const parts = ["● agent finished"];
        if (p?.num_turns !== undefined)
          parts.push(`${p.num_turns} turn${p.num_turns === 1 ? "" : "s"}`);
        if (p?.cost_usd !== undefined) parts.push(formatCost(p.cost_usd));
        if (p?.reason) parts.push(p.reason);
        return [style.dim(parts.join(" · "))];
      }
      case AgentFailed.type: {
        const p = read(AgentFailed, payload);
        return [style.red(style.bold(`✗ agent failed: ${p?.error ?? "unknown"}`))];
      }
      case AgentSystem.type:
        return this.system(payload);
      default:
        return (
          repoLines(event.event_type, payload, style) ??
          stepLines(event.event_type, payload, style, this.lineLimit) ?? [
            style.dim(`· ${event.event_type} ${compactJson(payload, MAX_JSON_CHARS)}`),
          ]
        );
    }
  }

  /** Runtime notes: most are chatter (request status, token counts, hooks); show the few that matter. */
  private system(payload: Record<string, unknown>): string[] | undefined {
    const p = read(AgentSystem, payload);
    const data = isRecord(p?.data) ? p.data : {};
    switch (p?.subtype) {
      case "status":
        return data.status === "compacting"
          ? [this.style.dim("· compacting the context")]
          : undefined;
      case "compact_boundary":
        return [this.style.dim("· context compacted")];
      case "api_retry":
        return [this.style.yellow("· the model API failed; retrying")];
      default:
        return undefined;
    }
  }

  private queuedLine(content: string, messageType?: string): string {
    const what =
      !messageType || messageType === "user_message" ? oneLine(content, 200) : messageType;
    return this.style.cyan(`→ queued: ${what}`);
  }

  private started(payload: Record<string, unknown>): string[] {
    const { style } = this;
    const p = read(AgentStarted, payload);
    const parts = ["● agent started"];
    if (p?.model) parts.push(p.model);
    if (p?.cwd) parts.push(p.cwd);
    const line = style.dim(parts.join(" · "));
    return [p?.scripted_model ? `${line} ${style.yellow("(scripted demo model)")}` : line];
  }

  private message(payload: Record<string, unknown>): string {
    const p = read(AgentMessage, payload);
    const content = p?.content ?? "";
    const key = this.streamedKey(p?.message_id);
    if (key === undefined) return content.trim() ? this.block([content.replace(/\n+$/, "")]) : "";
    // Already streamed as deltas: print only what they missed, then end the line.
    const streamedText = this.streamed.get(key) ?? "";
    this.streamed.delete(key);
    const rest = content.startsWith(streamedText)
      ? content.slice(streamedText.length).replace(/\n+$/, "")
      : "";
    const text = `${rest}${this.midLine || rest ? "\n" : ""}`;
    this.midLine = false;
    return text;
  }

  /** Which streamed deltas a complete message covers, if any. */
  private streamedKey(messageId: string | undefined): string | undefined {
    if (messageId !== undefined && this.streamed.has(messageId)) return messageId;
    if (this.streamed.has("")) return "";
    if (messageId === undefined) return [...this.streamed.keys()].at(-1);
    return undefined;
  }

  private toolUse(payload: Record<string, unknown>): string[] | undefined {
    const { style } = this;
    const p = read(AgentToolUse, payload);
    if (!p) return undefined;
    const input = p.input;
    const command =
      p.tool === "Bash" && isRecord(input) && typeof input.command === "string"
        ? input.command
        : undefined;
    if (command !== undefined) {
      const [first = "", ...rest] = command.split("\n");
      const description =
        isRecord(input) && typeof input.description === "string"
          ? style.dim(`  # ${input.description}`)
          : "";
      return [
        `${style.magenta("⏺")} ${style.bold("Bash")} $ ${first}${rest.length ? "" : description}`,
        ...rest.map((line) => `    ${line}`),
      ];
    }
    const shown = input === undefined ? "" : ` ${style.dim(compactJson(input, MAX_JSON_CHARS))}`;
    return [`${style.magenta("⏺")} ${style.bold(p.tool)}${shown}`];
  }

  private toolResult(payload: Record<string, unknown>): string[] | undefined {
    const { style } = this;
    const p = read(AgentToolResult, payload);
    if (!p) return undefined;
    const text = toolOutputText(p.output).replace(/\s+$/, "");
    const all = text === "" ? [p.is_error ? "(error)" : "(no output)"] : text.split("\n");
    const shown = all.slice(0, this.foldLines).map((line) => cut(line, this.lineLimit));
    const paint = p.is_error ? style.red : style.dim;
    const lines = shown.map((line, index) => paint(`${index === 0 ? "  ⎿ " : "    "}${line}`));
    const hidden = all.length - shown.length;
    if (hidden > 0) lines.push(style.dim(`    … +${hidden} more line${hidden === 1 ? "" : "s"}`));
    return lines;
  }

  private fileEdited(payload: Record<string, unknown>): string[] | undefined {
    const { style } = this;
    const p = read(AgentFileEdited, payload);
    if (!p) return undefined;
    const all = diffBody(p.diff);
    const shown = all.slice(0, this.foldDiffLines);
    const lines = [`${style.blue("✎")} ${style.bold(p.path)}`];
    for (const line of shown) {
      const cutLine = `  ${cut(line, this.lineLimit)}`;
      if (line.startsWith("@@")) lines.push(style.cyan(cutLine));
      else if (line.startsWith("+")) lines.push(style.green(cutLine));
      else if (line.startsWith("-")) lines.push(style.red(cutLine));
      else lines.push(cutLine);
    }
    const hidden = all.length - shown.length;
    if (hidden > 0)
      lines.push(style.dim(`  … +${hidden} more diff line${hidden === 1 ? "" : "s"}`));
    return lines;
  }

  private todos(payload: Record<string, unknown>): string[] | undefined {
    const { style } = this;
    const p = read(AgentTodoUpdated, payload);
    if (!p) return undefined;
    const lines = [style.bold("☰ todos")];
    for (const todo of p.todos) {
      if (todo.status === "completed") lines.push(style.dim(`  ✔ ${todo.content}`));
      else if (todo.status === "in_progress") {
        lines.push(style.yellow(`  ▸ ${todo.activeForm ?? todo.content}`));
      } else lines.push(`  ○ ${todo.content}`);
    }
    if (p.todos.length === 0) lines.push(style.dim("  (empty)"));
    return lines;
  }

  private turnCompleted(payload: Record<string, unknown>): string[] {
    const { style } = this;
    const p = read(AgentTurnCompleted, payload);
    const parts: string[] = [p?.num_turns !== undefined ? `turn ${p.num_turns} done` : "turn done"];
    if (p?.cost_usd !== undefined) parts.push(formatCost(p.cost_usd));
    const usage = p?.usage;
    if (usage?.input_tokens !== undefined || usage?.output_tokens !== undefined) {
      parts.push(
        `${formatCount(usage.input_tokens ?? 0)} in / ${formatCount(usage.output_tokens ?? 0)} out tokens`,
      );
    }
    if (p?.duration_ms !== undefined) parts.push(formatDuration(p.duration_ms));
    if (p?.is_error) parts.push(p.subtype ?? "error");
    const line = `── ${parts.join(" · ")}`;
    return [p?.is_error ? style.red(line) : style.dim(line)];
  }
}

/** A unified diff without its preamble (the path is already in the heading). */
function diffBody(diff: string): string[] {
  const lines = diff.replace(/\n$/, "").split("\n");
  const firstHunk = lines.findIndex((line) => line.startsWith("@@"));
  const body =
    firstHunk === -1 ? lines.filter((line) => !DIFF_HEADER.test(line)) : lines.slice(firstHunk);
  return body.filter((line) => line !== "");
}

/** Validates a payload against its registered schema; undefined when it does not fit. */
export function read<P extends z.ZodType>(
  definition: EventDefinition<string, P>,
  payload: unknown,
): z.output<P> | undefined {
  const result = definition.payload.safeParse(payload);
  return result.success ? result.data : undefined;
}
