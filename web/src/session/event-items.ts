import { stepWords } from "../../../src/client/step-words.ts";
import type { StoredEvent } from "../api/types.ts";
import type { Item, LoadedItem, NoteItem, NoteTone, Todo } from "./items.ts";
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

/** Steps shown as a note: its words, tone, and the agent's activity after it (if it moves). */
const NOTES: Record<string, [string, NoteTone, AgentActivity?]> = {
  "agent.interrupted": ["Turn interrupted", "warn", "waiting"],
  "agent.completed": ["Agent session ended", "success", "ended"],
  "task.created": ["Task queued", "info"],
  "task.assigned": ["Sandbox assigned", "info"],
  "task.started": ["Task started", "info"],
  "task.completed": ["Task completed", "success", "ended"],
  "task.cancelled": ["Task cancelled", "warn", "ended"],
  "sandbox.starting": ["Starting sandbox…", "info"],
  "sandbox.completed": ["Sandbox closed", "info"],
  "sandbox.terminated": ["Sandbox stopped", "warn", "ended"],
};

/** Failures: the title, the words when the event gives none, and the activity after it. */
const FAILURES: Record<string, [string, string, AgentActivity?]> = {
  "agent.error": ["Agent error", "unknown error"],
  "agent.failed": ["Agent failed", "unknown error", "ended"],
  "task.failed": ["Task failed", "no reason given"],
  "sandbox.failed": ["Sandbox failed", "no reason given", "ended"],
};

/** Events that show nothing (the agent's activity may still move). */
const SILENT: Record<string, AgentActivity | null> = {
  "agent.waiting": "waiting",
  "agent.heartbeat": null,
  "agent.system": null,
  "sandbox.created": null,
  "sandbox.ready": null,
};

/**
 * Task, sandbox and agent lifecycle events, agent errors and the items that stand alone; any
 * other type shows as a note naming it. (Messages, tools, setup logs and usage are folded by
 * the session model, which never passes them here.)
 */
export function standaloneItem(key: string, frame: StoredEvent, payload: Payload): Shown {
  const type = frame.event_type;
  const note = NOTES[type];
  if (note) return { item: noteItem(key, type, note[0], note[1], frame.emitted_at), activity: note[2] };
  const failure = FAILURES[type];
  if (failure) {
    const retry = type === "task.failed" && bool(payload, "will_retry") ? " (will retry)" : "";
    const message = str(payload, "error") ?? failure[1];
    return { item: { kind: "error", key, title: `${failure[0]}${retry}`, message }, activity: failure[2] };
  }
  if (type in SILENT) return { item: null, activity: SILENT[type] ?? undefined };
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
    default: {
      // Steps around the agent's work (repository, setup, approvals, modes, limits) in the
      // terminal's words; an event this view has no words for still shows, by its type.
      const words = stepWords(type, payload);
      return { item: noteItem(key, type, words?.text ?? type, words?.tone ?? "info", frame.emitted_at) };
    }
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
