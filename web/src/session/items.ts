import type { MessageDelivery, MessageType } from "../api/types.ts";

/** What the conversation shows: each item comes from one or more events. */

export type MessageStatus = "sending" | "queued" | "delivered" | "failed";

export interface UserItem {
  kind: "user";
  key: string;
  messageId: string | null;
  content: string;
  messageType: MessageType;
  delivery: MessageDelivery | null;
  status: MessageStatus;
  error: string | null;
  at: number;
}

export interface AssistantItem {
  kind: "assistant";
  key: string;
  messageId: string | null;
  text: string;
  streaming: boolean;
}

export interface ThinkingItem {
  kind: "thinking";
  key: string;
  text: string;
}

export interface ToolItem {
  kind: "tool";
  key: string;
  toolUseId: string | null;
  tool: string;
  input: unknown;
  result: { output: unknown; isError: boolean } | null;
}

export interface FileEditItem {
  kind: "file_edit";
  key: string;
  path: string;
  diff: string;
}

export interface Todo {
  content: string;
  status: string;
  activeForm?: string;
}

export interface TodosItem {
  kind: "todos";
  key: string;
  todos: Todo[];
}

export interface ErrorItem {
  kind: "error";
  key: string;
  title: string;
  message: string;
}

export type NoteTone = "info" | "success" | "warn" | "danger";

export interface NoteItem {
  kind: "note";
  key: string;
  text: string;
  tone: NoteTone;
  eventType: string;
  at: number;
}

/** An environment's setup script, shown like a CI log: its lines, then how it ended. */
export interface SetupItem {
  kind: "setup";
  key: string;
  environment: string | null;
  network: string | null;
  lines: { stream: "stdout" | "stderr"; text: string }[];
  /** Lines left out of `lines` (only the newest are kept). */
  dropped: number;
  finished: boolean;
  exitCode: number | null;
  durationMs: number | null;
  cached: boolean;
  error: string | null;
  tail: string[];
}

/**
 * What the agent's session started with: the repository's Claude Code settings found in the
 * workspace, and the MCP servers with the status Claude Code reported for each.
 */
export interface LoadedItem {
  kind: "loaded";
  key: string;
  files: string[];
  commands: string[];
  agents: string[];
  skills: string[];
  mcpServers: { name: string; status: string }[];
}

export type Item =
  | UserItem
  | AssistantItem
  | ThinkingItem
  | ToolItem
  | FileEditItem
  | TodosItem
  | ErrorItem
  | NoteItem
  | SetupItem
  | LoadedItem;
