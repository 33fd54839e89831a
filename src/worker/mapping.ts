import type {
  SDKAssistantMessage,
  SDKMessage,
  SDKPartialAssistantMessage,
  SDKResultMessage,
  SDKSystemMessage,
  SDKUserMessage,
} from "@anthropic-ai/claude-agent-sdk";
import {
  AgentError,
  AgentMessage,
  AgentMessageDelta,
  AgentStarted,
  AgentSystem,
  AgentThinking,
  AgentTodoUpdated,
  AgentToolResult,
  AgentToolUse,
  AgentTurnCompleted,
} from "../protocol/events.ts";
import { type AgentEvent, agentEvent } from "./agent-event.ts";
import type { ProjectSettings } from "./project-settings.ts";

/*
 * SDK message → registry events. Pure: the only memory is `MappingState`, which the
 * caller owns (tool names by id, the message id of the text being streamed).
 */

export interface MappingState {
  /** tool_use_id → tool name, so a tool result can say which tool it answers. */
  toolNames: Map<string, string>;
  /** Anthropic message id of the message whose deltas are streaming. */
  streamMessageId: string | null;
}

export interface MappingOptions {
  /** Set when the model endpoint is Omoi's scripted model, so viewers can say so. */
  scriptedModel?: boolean;
  /** The repository's Claude Code settings found in the workspace, for `agent.started`. */
  projectSettings?: ProjectSettings;
}

export function createMappingState(): MappingState {
  return { toolNames: new Map(), streamMessageId: null };
}

export function mapSdkMessage(
  message: SDKMessage,
  state: MappingState,
  options: MappingOptions = {},
): AgentEvent[] {
  switch (message.type) {
    case "assistant":
      return mapAssistant(message, state);
    case "user":
      return mapUser(message, state);
    case "result":
      return [mapResult(message)];
    case "stream_event":
      return mapStreamEvent(message, state);
    case "system":
      if (message.subtype === "init") return [mapInit(message, options)];
      return [systemEvent(message.subtype, message)];
    default:
      return [systemEvent(message.type, message)];
  }
}

function systemEvent(subtype: string, message: object): AgentEvent {
  // The envelope already says when and for which sandbox; keep the rest as it came.
  const { uuid: _uuid, session_id: _session, ...data } = message as Record<string, unknown>;
  return agentEvent(AgentSystem, { subtype, data });
}

function mapInit(message: SDKSystemMessage, options: MappingOptions): AgentEvent {
  return agentEvent(AgentStarted, {
    session_id: message.session_id,
    model: message.model,
    cwd: message.cwd,
    tools: message.tools,
    ...(options.scriptedModel !== undefined ? { scripted_model: options.scriptedModel } : {}),
    permission_mode: message.permissionMode,
    claude_code_version: message.claude_code_version,
    mcp_servers: (message.mcp_servers ?? []).map((server) => ({
      name: server.name,
      status: server.status,
    })),
    slash_commands: message.slash_commands ?? [],
    agents: message.agents ?? [],
    skills: message.skills ?? [],
    ...(options.projectSettings ? { project_settings: options.projectSettings } : {}),
  });
}

/** Subagent activity carries the id of the Task tool call it runs under. */
function parentOf(message: { parent_tool_use_id: string | null }) {
  return message.parent_tool_use_id ? { parent_tool_use_id: message.parent_tool_use_id } : {};
}

function mapAssistant(message: SDKAssistantMessage, state: MappingState): AgentEvent[] {
  const events: AgentEvent[] = [];
  const parent = parentOf(message);
  const messageId = message.message.id;
  for (const block of message.message.content) {
    switch (block.type) {
      case "thinking":
        events.push(agentEvent(AgentThinking, { content: block.thinking, ...parent }));
        break;
      case "redacted_thinking":
        events.push(agentEvent(AgentThinking, { content: "", redacted: true, ...parent }));
        break;
      case "text":
        events.push(
          agentEvent(AgentMessage, { content: block.text, message_id: messageId, ...parent }),
        );
        break;
      case "tool_use":
      case "server_tool_use":
      case "mcp_tool_use": {
        state.toolNames.set(block.id, block.name);
        events.push(
          agentEvent(AgentToolUse, {
            tool: block.name,
            tool_use_id: block.id,
            input: block.input,
            ...parent,
          }),
        );
        const todos = todosOf(block.name, block.input);
        if (todos) events.push(agentEvent(AgentTodoUpdated, { todos, ...parent }));
        break;
      }
      default:
        events.push(systemEvent(`assistant_${block.type}`, { block, ...parent }));
    }
  }
  if (message.error) {
    events.push(
      agentEvent(AgentError, {
        error: describeAssistantError(message.error),
        code: message.error,
        retryable: RETRYABLE_ERRORS.has(message.error),
      }),
    );
  }
  return events;
}

const RETRYABLE_ERRORS = new Set(["rate_limit", "overloaded", "server_error", "unknown"]);

function describeAssistantError(code: NonNullable<SDKAssistantMessage["error"]>): string {
  switch (code) {
    case "authentication_failed":
      return "the model endpoint rejected the credentials (authentication failed)";
    case "server_error":
      return "the model endpoint failed (server error)";
    case "rate_limit":
      return "the model endpoint is rate limiting requests";
    case "overloaded":
      return "the model endpoint is overloaded";
    case "model_not_found":
      return "the model endpoint does not know the requested model";
    default:
      return `the model request failed: ${code}`;
  }
}

interface Todo {
  content: string;
  status: string;
  activeForm?: string;
  [key: string]: unknown;
}

function todosOf(tool: string, input: unknown): Todo[] | null {
  if (tool !== "TodoWrite" || !input || typeof input !== "object") return null;
  const todos = (input as { todos?: unknown }).todos;
  if (!Array.isArray(todos)) return null;
  return todos.filter(
    (todo): todo is Todo =>
      !!todo &&
      typeof todo === "object" &&
      typeof (todo as Todo).content === "string" &&
      typeof (todo as Todo).status === "string",
  );
}

function mapUser(message: SDKUserMessage, state: MappingState): AgentEvent[] {
  const parent = parentOf(message);
  const content = message.message.content;
  if (typeof content === "string") {
    return [systemEvent("user_message", { content, synthetic: message.isSynthetic ?? false })];
  }
  const events: AgentEvent[] = [];
  for (const block of content) {
    if (block.type === "tool_result") {
      const tool = state.toolNames.get(block.tool_use_id);
      events.push(
        agentEvent(AgentToolResult, {
          tool_use_id: block.tool_use_id,
          output: toolOutput(block.content),
          is_error: block.is_error ?? false,
          ...(tool ? { tool } : {}),
          ...parent,
        }),
      );
    } else if (block.type === "text") {
      // The CLI's own notes to the model ("[Request interrupted by user]") and echoed prompts.
      events.push(
        systemEvent("user_text", { text: block.text, synthetic: message.isSynthetic ?? false }),
      );
    } else {
      events.push(systemEvent(`user_${block.type}`, { block }));
    }
  }
  return events;
}

type ToolResultContent = Extract<
  Exclude<SDKUserMessage["message"]["content"], string>[number],
  { type: "tool_result" }
>["content"];

/** A tool's output as text: text parts joined, other parts named. */
export function toolOutput(content: ToolResultContent): string {
  if (content === undefined) return "";
  if (typeof content === "string") return content;
  return content.map((part) => (part.type === "text" ? part.text : `[${part.type}]`)).join("\n");
}

function mapStreamEvent(message: SDKPartialAssistantMessage, state: MappingState): AgentEvent[] {
  const event = message.event;
  if (event.type === "message_start") {
    state.streamMessageId = event.message.id;
    return [];
  }
  if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
    return [
      agentEvent(AgentMessageDelta, {
        delta: event.delta.text,
        index: event.index,
        ...(state.streamMessageId ? { message_id: state.streamMessageId } : {}),
        ...parentOf(message),
      }),
    ];
  }
  // Other stream events (block starts/stops, thinking and tool-input deltas, message
  // stop) are partial copies of the complete assistant message that follows them.
  return [];
}

function mapResult(message: SDKResultMessage): AgentEvent {
  const usage = message.usage;
  return agentEvent(AgentTurnCompleted, {
    subtype: message.subtype,
    is_error: message.is_error,
    num_turns: message.num_turns,
    duration_ms: message.duration_ms,
    cost_usd: message.total_cost_usd,
    usage: {
      input_tokens: usage.input_tokens,
      output_tokens: usage.output_tokens,
      cache_read_input_tokens: usage.cache_read_input_tokens ?? undefined,
      cache_creation_input_tokens: usage.cache_creation_input_tokens ?? undefined,
    },
    stop_reason: message.stop_reason,
    ...(message.subtype === "success"
      ? { result: message.result, api_error_status: message.api_error_status ?? undefined }
      : { errors: message.errors }),
  });
}
