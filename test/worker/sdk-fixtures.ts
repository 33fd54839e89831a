import type { SDKMessage } from "@anthropic-ai/claude-agent-sdk";

/*
 * SDK messages shaped as sdk.d.ts declares them (and as the CLI sends them), for the
 * mapping tests. Only the fields a message type requires, plus the ones we read.
 */

const session_id = "5f0c1b7e-8a43-4c9e-9b0e-2d1f8e6c1a11";
const uuid = "0b7f3a52-6c1d-4e8f-a2b9-3c4d5e6f7a81" as const;

export const init = {
  type: "system",
  subtype: "init",
  apiKeySource: "ANTHROPIC_API_KEY",
  claude_code_version: "2.1.0",
  cwd: "/tmp/workspace",
  tools: ["Bash", "Read", "Write", "Edit", "TodoWrite"],
  mcp_servers: [],
  model: "claude-sonnet-4-5",
  permissionMode: "bypassPermissions",
  slash_commands: [],
  output_style: "default",
  skills: [],
  plugins: [],
  uuid,
  session_id,
} as SDKMessage;

function assistant(content: unknown[], extra: Record<string, unknown> = {}): SDKMessage {
  return {
    type: "assistant",
    message: {
      id: "msg_01ABC",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5",
      content,
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 5 },
    },
    parent_tool_use_id: null,
    uuid,
    session_id,
    ...extra,
    // BetaMessage declares many nullable fields (container, context_management…) not used here.
  } as unknown as SDKMessage;
}

export const thinking = assistant([
  { type: "thinking", thinking: "I should list the files.", signature: "sig" },
]);
export const text = assistant([{ type: "text", text: "Done: 3 files.", citations: null }]);
export const toolUse = assistant([
  { type: "tool_use", id: "toolu_01", name: "Bash", input: { command: "ls" } },
]);
export const todoWrite = assistant([
  {
    type: "tool_use",
    id: "toolu_02",
    name: "TodoWrite",
    input: {
      todos: [
        { content: "Read the code", status: "completed", activeForm: "Reading the code" },
        { content: "Fix the bug", status: "in_progress", activeForm: "Fixing the bug" },
      ],
    },
  },
]);
export const mixed = assistant([
  { type: "thinking", thinking: "hmm", signature: "s" },
  { type: "text", text: "Let me look.", citations: null },
  { type: "tool_use", id: "toolu_03", name: "Read", input: { file_path: "a.txt" } },
]);
export const assistantError = assistant(
  [{ type: "text", text: "API Error: 500", citations: null }],
  {
    error: "server_error",
  },
);
export const webSearchResult = assistant([
  { type: "web_search_tool_result", tool_use_id: "srvtoolu_1", content: [] },
]);

export function toolResult(toolUseId: string, content: unknown, isError = false): SDKMessage {
  return {
    type: "user",
    message: {
      role: "user",
      content: [{ type: "tool_result", tool_use_id: toolUseId, content, is_error: isError }],
    },
    parent_tool_use_id: null,
    tool_use_result: { stdout: "a\nb", stderr: "" },
    uuid,
    session_id,
  } as SDKMessage;
}

export const interruptedNote = {
  type: "user",
  message: { role: "user", content: [{ type: "text", text: "[Request interrupted by user]" }] },
  parent_tool_use_id: null,
  isSynthetic: true,
  uuid,
  session_id,
} as SDKMessage;

export function streamEvent(event: unknown): SDKMessage {
  return { type: "stream_event", event, parent_tool_use_id: null, uuid, session_id } as SDKMessage;
}

export const usage = {
  input_tokens: 120,
  output_tokens: 40,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0,
};

export const resultSuccess = {
  type: "result",
  subtype: "success",
  duration_ms: 1234,
  duration_api_ms: 900,
  is_error: false,
  num_turns: 3,
  result: "Done: 3 files.",
  stop_reason: "end_turn",
  total_cost_usd: 0.0123,
  usage,
  modelUsage: {},
  permission_denials: [],
  uuid,
  session_id,
  // NonNullableUsage lists every BetaUsage field (server_tool_use, service_tier…) not used here.
} as unknown as SDKMessage;

export const resultMaxTurns = {
  type: "result",
  subtype: "error_max_turns",
  duration_ms: 50,
  duration_api_ms: 40,
  is_error: true,
  num_turns: 2,
  stop_reason: null,
  total_cost_usd: 0.5,
  usage,
  modelUsage: {},
  permission_denials: [],
  errors: ["Reached maximum number of turns (2)"],
  uuid,
  session_id,
} as unknown as SDKMessage;

export const status = {
  type: "system",
  subtype: "status",
  status: "compacting",
  uuid,
  session_id,
} as SDKMessage;

export const compactBoundary = {
  type: "system",
  subtype: "compact_boundary",
  compact_metadata: { trigger: "auto", pre_tokens: 150000 },
  uuid,
  session_id,
} as SDKMessage;

export const apiRetry = {
  type: "system",
  subtype: "api_retry",
  attempt: 1,
  max_retries: 10,
  retry_delay_ms: 500,
  error_status: 503,
  error: "server_error",
  uuid,
  session_id,
} as SDKMessage;

export const rateLimit = {
  type: "rate_limit_event",
  rate_limit_info: { status: "allowed_warning", utilization: 0.8 },
  uuid,
  session_id,
} as SDKMessage;

export const hookResponse = {
  type: "system",
  subtype: "hook_response",
  hook_id: "h1",
  hook_name: "PreToolUse:Write",
  hook_event: "PreToolUse",
  output: "",
  stdout: "",
  stderr: "",
  outcome: "success",
  uuid,
  session_id,
} as SDKMessage;

/** A message type this worker has never heard of: must still become an event. */
export const unknownType = {
  type: "brand_new_thing",
  foo: 1,
  uuid,
  session_id,
} as unknown as SDKMessage;
