import type { StoredEvent } from "../api/types.ts";
import type { ErrorItem, Item, LoadedItem, NoteItem, NoteTone, Todo } from "./items.ts";
import { bool, type Payload, record, str, strings } from "./payload.ts";
import type { AgentActivity } from "./session-stats.ts";

/*
 * Events that show on their own, each as at most one item that no other event changes:
 * lifecycle notes and failures, agent errors, thinking, file edits, todo lists and the
 * settings a session started with. Pure: the same event always gives the same item.
 */

/** The item an event makes (null: none), and the agent's activity after it (if it moves). */
export interface Shown {
  item: Item | null;
  activity?: AgentActivity;
}

export function noteItem(key: string, eventType: string, text: string, tone: NoteTone, at: number): NoteItem {
  return { kind: "note", key, text, tone, eventType, at };
}

function errorItem(key: string, title: string, message: string): ErrorItem {
  return { kind: "error", key, title, message };
}

/**
 * Task, sandbox and agent lifecycle events, agent errors and the items that stand alone; any
 * other type shows as a note naming it. (Messages, tools, setup logs and usage are folded by
 * the session model, which never passes them here.)
 */
export function standaloneItem(key: string, frame: StoredEvent, payload: Payload): Shown {
  const type = frame.event_type;
  const at = frame.emitted_at;
  const note = (text: string, tone: NoteTone, activity?: AgentActivity): Shown => ({
    item: noteItem(key, type, text, tone, at),
    activity,
  });
  const error = (title: string, fallback: string, activity?: AgentActivity): Shown => ({
    item: errorItem(key, title, str(payload, "error") ?? fallback),
    activity,
  });
  switch (type) {
    case "agent.thinking": {
      const text = str(payload, "content") ?? "";
      return { item: text.trim() ? { kind: "thinking", key, text } : null, activity: "working" };
    }
    case "agent.file_edited":
      return {
        item: {
          kind: "file_edit",
          key,
          path: str(payload, "path") ?? "(unknown file)",
          diff: str(payload, "diff") ?? "",
        },
      };
    case "agent.todo_updated":
      return { item: { kind: "todos", key, todos: readTodos(payload.todos) } };
    case "agent.waiting":
      return { item: null, activity: "waiting" };
    case "agent.interrupted":
      return note("Turn interrupted", "warn", "waiting");
    case "agent.error":
      return error("Agent error", "unknown error");
    case "agent.completed":
      return note("Agent session ended", "success", "ended");
    case "agent.failed":
      return error("Agent failed", "unknown error", "ended");
    case "agent.heartbeat":
    case "agent.system":
      return { item: null };
    case "task.created":
      return note("Task queued", "info");
    case "task.assigned":
      return note("Sandbox assigned", "info");
    case "task.started":
      return note("Task started", "info");
    case "task.completed":
      return note("Task completed", "success", "ended");
    case "task.failed":
      return error(`Task failed${bool(payload, "will_retry") ? " (will retry)" : ""}`, "no reason given");
    case "task.cancelled":
      return note("Task cancelled", "warn", "ended");
    case "sandbox.created":
    case "sandbox.ready":
      return { item: null };
    case "sandbox.starting":
      return note("Starting sandbox…", "info");
    case "sandbox.completed":
      return note("Sandbox closed", "info");
    case "sandbox.terminated":
      return note("Sandbox stopped", "warn", "ended");
    case "sandbox.failed":
      return error("Sandbox failed", "no reason given", "ended");
    default:
      // An event this view has no words for still shows, by its type.
      return note(type, "info");
  }
}

/** The settings and MCP servers a session started with (`agent.started`), when it had any. */
export function loadedItem(key: string, payload: Payload): LoadedItem | null {
  const settings = record(payload, "project_settings");
  const servers = Array.isArray(payload.mcp_servers) ? payload.mcp_servers : [];
  const mcpServers = servers.flatMap((server) => {
    const entry = typeof server === "object" && server !== null ? (server as Payload) : {};
    const name = str(entry, "name");
    return name ? [{ name, status: str(entry, "status") ?? "unknown" }] : [];
  });
  const item: LoadedItem = {
    kind: "loaded",
    key,
    files: strings(settings, "files"),
    commands: strings(settings, "commands"),
    agents: strings(settings, "agents"),
    skills: strings(settings, "skills"),
    mcpServers,
  };
  const count = item.files.length + item.commands.length + item.agents.length + item.skills.length;
  return count + mcpServers.length > 0 ? item : null;
}

function readTodos(value: unknown): Todo[] {
  if (!Array.isArray(value)) return [];
  const todos: Todo[] = [];
  for (const entry of value) {
    if (typeof entry !== "object" || entry === null) continue;
    const todo = entry as Payload;
    const content = str(todo, "content");
    if (!content) continue;
    todos.push({
      content,
      status: str(todo, "status") ?? "pending",
      activeForm: str(todo, "activeForm") ?? undefined,
    });
  }
  return todos;
}
