import { z } from "zod";
import { AnsweredBy, ApprovalKind, PermissionMode, PermissionRule, Question } from "./approval.ts";
import {
  EnvironmentPoolReady,
  EnvironmentSetupFinished,
  EnvironmentSetupOutput,
  EnvironmentSetupStarted,
} from "./environment-events.ts";
import {
  defineEvent,
  type EventDefinition,
  type PayloadInputOf,
  type PayloadOf,
  type StoredEvent,
} from "./event.ts";
import { MessageType } from "./message.ts";
import {
  RepoChanges,
  RepoCloned,
  RepoCommitted,
  RepoPushed,
  RepoPushFailed,
  TaskPullRequestEvent,
} from "./repo-events.ts";

export {
  EnvironmentPoolReady,
  EnvironmentSetupFinished,
  EnvironmentSetupOutput,
  EnvironmentSetupStarted,
  RepoChanges,
  RepoCloned,
  RepoCommitted,
  RepoPushed,
  RepoPushFailed,
  TaskPullRequestEvent,
};

/*
 * Every event type Omoi knows, defined once, and the registry that lists them. Payloads
 * are loose objects: the listed fields are checked, extra fields are kept, so producers
 * can add detail without a protocol change.
 *
 * Adding an event type: define it here (or, for a whole concept, in its own
 * `<concept>-events.ts` like `repo-events.ts`) and add it to `EventRegistry` below. If it changes
 * a task's or a sandbox's status, add it to the map in `status.ts` too.
 */

const loose = <S extends z.ZodRawShape>(shape: S) => z.looseObject(shape);
const usage = loose({
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
  cache_read_input_tokens: z.number().optional(),
  cache_creation_input_tokens: z.number().optional(),
});

// sandbox lifecycle
export const SandboxCreated = defineEvent(
  "sandbox.created",
  loose({ provider: z.string().optional(), kind: z.string().optional() }),
  "A sandbox was registered.",
);
export const SandboxStarting = defineEvent(
  "sandbox.starting",
  loose({ provider: z.string().optional() }),
  "The provider is starting the sandbox and its worker.",
);
export const SandboxReady = defineEvent(
  "sandbox.ready",
  loose({ workspace: z.string().optional() }),
  "The sandbox is up and its worker connected.",
);
export const SandboxCompleted = defineEvent(
  "sandbox.completed",
  loose({ reason: z.string().optional() }),
  "The sandbox closed normally.",
);
export const SandboxFailed = defineEvent(
  "sandbox.failed",
  loose({ error: z.string().optional() }),
  "The sandbox ended in failure.",
);
export const SandboxTerminated = defineEvent(
  "sandbox.terminated",
  loose({ reason: z.string().optional() }),
  "The sandbox was stopped and all its processes killed.",
);

// task lifecycle
export const TaskCreated = defineEvent(
  "task.created",
  loose({ title: z.string().optional(), priority: z.string().optional() }),
  "A task was queued.",
);
export const TaskAssigned = defineEvent(
  "task.assigned",
  loose({
    sandbox_id: z.string().optional(),
    attempt: z.number().optional(),
    /** True: the sandbox came from its environment's warm pool, already set up and started. */
    warm: z.boolean().optional(),
  }),
  "A task got a sandbox.",
);
export const TaskStarted = defineEvent(
  "task.started",
  loose({ sandbox_id: z.string().optional() }),
  "The task's agent started work.",
);
export const TaskCompleted = defineEvent(
  "task.completed",
  loose({ result: z.string().optional() }),
  "The task finished successfully.",
);
export const TaskFailed = defineEvent(
  "task.failed",
  loose({ error: z.string().optional(), will_retry: z.boolean().optional() }),
  "The task failed.",
);
export const TaskCancelled = defineEvent(
  "task.cancelled",
  loose({ reason: z.string().optional() }),
  "The task was cancelled.",
);

export const SandboxModeRequested = defineEvent(
  "sandbox.mode_requested",
  loose({ mode: PermissionMode }),
  "A person asked for another permission mode; the worker switches and reports agent.mode_changed.",
);

// messages a person sends
export const MessageQueued = defineEvent(
  "message.queued",
  loose({
    message_id: z.string(),
    message_type: MessageType,
    content: z.string(),
    delivery: z.enum(["steer", "queue"]).optional(),
  }),
  "A person's message was stored and is on its way to the agent.",
);

// agent
export const AgentStarted = defineEvent(
  "agent.started",
  loose({
    session_id: z.string().optional(),
    model: z.string().optional(),
    cwd: z.string().optional(),
    tools: z.array(z.string()).optional(),
    scripted_model: z.boolean().optional(),
    /** MCP servers the session has, as Claude Code reported them (`connected`, `failed`, …). */
    mcp_servers: z.array(loose({ name: z.string(), status: z.string() })).optional(),
    /** What Claude Code loaded, as it reported it (built-ins included). */
    slash_commands: z.array(z.string()).optional(),
    agents: z.array(z.string()).optional(),
    skills: z.array(z.string()).optional(),
    /** The repository's own Claude Code settings found in the workspace when the agent started. */
    project_settings: z
      .object({
        files: z.array(z.string()),
        commands: z.array(z.string()),
        agents: z.array(z.string()),
        skills: z.array(z.string()),
      })
      .optional(),
  }),
  "The agent session is up.",
);
export const AgentThinking = defineEvent(
  "agent.thinking",
  loose({ content: z.string().optional() }),
  "The agent's reasoning.",
);
export const AgentMessage = defineEvent(
  "agent.message",
  loose({ content: z.string().optional(), message_id: z.string().optional() }),
  "A complete assistant text message.",
);
export const AgentMessageDelta = defineEvent(
  "agent.message_delta",
  loose({ delta: z.string(), message_id: z.string().optional(), index: z.number().optional() }),
  "Partial assistant text as it streams.",
);
export const AgentToolUse = defineEvent(
  "agent.tool_use",
  loose({ tool: z.string(), tool_use_id: z.string().optional(), input: z.unknown().optional() }),
  "The agent called a tool.",
);
export const AgentToolResult = defineEvent(
  "agent.tool_result",
  loose({
    tool_use_id: z.string().optional(),
    output: z.unknown().optional(),
    is_error: z.boolean().optional(),
  }),
  "A tool call's result.",
);
export const AgentFileEdited = defineEvent(
  "agent.file_edited",
  loose({ path: z.string(), diff: z.string() }),
  "A file in the workspace changed; `diff` is unified.",
);
export const AgentTodoUpdated = defineEvent(
  "agent.todo_updated",
  loose({
    todos: z.array(
      loose({ content: z.string(), status: z.string(), activeForm: z.string().optional() }),
    ),
  }),
  "The agent's todo list.",
);
export const AgentMessageInjected = defineEvent(
  "agent.message_injected",
  loose({ message_id: z.string(), message_type: MessageType, content: z.string() }),
  "A person's message reached the agent session.",
);
export const AgentTurnCompleted = defineEvent(
  "agent.turn_completed",
  loose({
    num_turns: z.number().optional(),
    usage: usage.optional(),
    cost_usd: z.number().optional(),
    duration_ms: z.number().optional(),
    result: z.string().optional(),
    is_error: z.boolean().optional(),
    subtype: z.string().optional(),
  }),
  "The agent finished a turn.",
);
export const AgentWaiting = defineEvent(
  "agent.waiting",
  loose({ reason: z.string().optional() }),
  "The agent is idle, waiting for a message.",
);
export const AgentInterrupted = defineEvent(
  "agent.interrupted",
  loose({ message_id: z.string().optional() }),
  "The current turn was interrupted; the session lives on.",
);
export const AgentHeartbeat = defineEvent(
  "agent.heartbeat",
  loose({ state: z.string().optional() }),
  "The worker is alive.",
);
export const AgentError = defineEvent(
  "agent.error",
  loose({ error: z.string(), code: z.string().optional(), retryable: z.boolean().optional() }),
  "Something went wrong; the message says what.",
);
export const AgentCompleted = defineEvent(
  "agent.completed",
  loose({
    result: z.string().optional(),
    num_turns: z.number().optional(),
    cost_usd: z.number().optional(),
    usage: usage.optional(),
    reason: z.string().optional(),
  }),
  "The agent session ended normally.",
);
export const AgentLimitExceeded = defineEvent(
  "agent.limit_exceeded",
  loose({
    limit: z.enum(["processes", "memory", "disk", "run_time", "task_time"]),
    value: z.number(),
    max: z.number(),
    unit: z.enum(["processes", "bytes", "ms"]),
  }),
  "The sandbox went past one of its resource limits; its processes were killed and the run fails.",
);
export const AgentFailed = defineEvent(
  "agent.failed",
  loose({ error: z.string(), reason: z.string().optional() }),
  "The agent session ended in failure.",
);

export const AgentSystem = defineEvent(
  "agent.system",
  loose({ subtype: z.string().optional(), data: z.unknown().optional() }),
  "Any other note from the agent runtime (status, compaction, hooks…), kept as it came.",
);

// approvals: a request's id is the id of the event that carries it
const requestFields = {
  request_id: z.string().min(1).max(100),
  tool: z.string().min(1).max(200),
  tool_use_id: z.string().max(200).optional(),
};
export const AgentPermissionRequested = defineEvent(
  "agent.permission_requested",
  loose({
    ...requestFields,
    input: z.unknown().optional(),
    suggestions: z
      .array(loose({ type: z.string() }))
      .max(50)
      .optional(),
    /** The rules "Always allow" would add (taken from the SDK's suggestions). */
    rules: z.array(PermissionRule).max(50).optional(),
    title: z.string().max(2_000).optional(),
    description: z.string().max(2_000).optional(),
    blocked_path: z.string().max(4_096).optional(),
    decision_reason: z.string().max(2_000).optional(),
  }),
  "A tool call waits for a person: Allow or Deny (answer with POST …/permissions/{request_id}).",
);
export const AgentPlanProposed = defineEvent(
  "agent.plan_proposed",
  loose({ ...requestFields, plan: z.string().max(200_000) }),
  "In plan mode, the agent proposes a plan (markdown) and waits for approval.",
);
export const AgentQuestion = defineEvent(
  "agent.question",
  loose({ ...requestFields, questions: z.array(Question).min(1).max(4) }),
  "The agent asks a person (AskUserQuestion) and waits for the answer.",
);
export const AgentPermissionResolved = defineEvent(
  "agent.permission_resolved",
  loose({
    request_id: z.string(),
    kind: ApprovalKind,
    status: z.enum(["resolved", "expired"]),
    decision: z.string(),
    reason: z.string().optional(),
    remember: z.boolean().optional(),
    mode: PermissionMode.optional(),
    answers: z.array(z.string()).optional(),
    answered_by: AnsweredBy,
  }),
  "A request was answered (or closed by the no-answer policy or the sandbox's end). Emitted by Omoi only.",
);
export const AgentModeChanged = defineEvent(
  "agent.mode_changed",
  // The CLI may report modes Omoi does not offer (`dontAsk`, `auto`): kept as text.
  loose({
    mode: z.string().min(1).max(40),
    previous: z.string().max(40).optional(),
    reason: z.string().optional(),
  }),
  "The agent's permission mode is now `mode`.",
);

/**
 * The registry: every event type by name. Nothing registers itself by being imported;
 * what is listed here is what Omoi accepts, stores, streams and documents.
 */
export const EventRegistry = registry(
  SandboxCreated,
  SandboxStarting,
  SandboxReady,
  SandboxCompleted,
  SandboxFailed,
  SandboxTerminated,
  TaskCreated,
  TaskAssigned,
  TaskStarted,
  TaskCompleted,
  TaskFailed,
  TaskCancelled,
  MessageQueued,
  AgentStarted,
  AgentThinking,
  AgentMessage,
  AgentMessageDelta,
  AgentToolUse,
  AgentToolResult,
  AgentFileEdited,
  AgentTodoUpdated,
  AgentMessageInjected,
  AgentTurnCompleted,
  AgentWaiting,
  AgentInterrupted,
  AgentHeartbeat,
  AgentError,
  AgentCompleted,
  AgentLimitExceeded,
  AgentFailed,
  AgentSystem,
  SandboxModeRequested,
  AgentPermissionRequested,
  AgentPlanProposed,
  AgentQuestion,
  AgentPermissionResolved,
  AgentModeChanged,
  RepoCloned,
  RepoChanges,
  RepoCommitted,
  RepoPushed,
  RepoPushFailed,
  TaskPullRequestEvent,
  EnvironmentSetupStarted,
  EnvironmentSetupOutput,
  EnvironmentSetupFinished,
  EnvironmentPoolReady,
);

export type EventRegistry = typeof EventRegistry;
/** Every registered event type, e.g. `"agent.tool_use"`. */
export type EventType = keyof EventRegistry;
/** The definition registered under an event type. */
export type DefinitionOf<T extends EventType> = EventRegistry[T];
/** Any registered definition. */
export type RegisteredDefinition = EventRegistry[EventType];

/** A stored event of one definition: the envelope with its payload typed. */
export type EventOf<D extends EventDefinition> = D extends EventDefinition
  ? Omit<StoredEvent, "event_type" | "payload"> & { event_type: D["type"]; payload: PayloadOf<D> }
  : never;

/** Every stored event, discriminated by `event_type`: switch on it to get a typed payload. */
export type OmoiEvent = EventOf<EventRegistry[EventType]>;

/** What `emit` takes for one event type. */
export type EmitPayload<T extends EventType> = PayloadInputOf<DefinitionOf<T>>;

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(EventRegistry, type);
}

/** Narrows an event to one definition (or one of several). */
export function isEvent<const D extends readonly EventDefinition[]>(
  event: { event_type: string },
  ...definitions: D
): event is EventOf<D[number]> {
  return definitions.some((definition) => definition.type === event.event_type);
}

/**
 * A stored event read back as the union. Trusted: every stored event passed
 * `validateEventPayload` on its way in, so its payload fits its definition.
 */
export function asOmoiEvent(event: StoredEvent): OmoiEvent {
  return event as OmoiEvent;
}

/** Validates one event's type and payload against the registry. */
export function validateEventPayload(
  eventType: string,
  payload: unknown,
): { ok: true; payload: Record<string, unknown> } | { ok: false; error: string } {
  if (!isEventType(eventType)) return { ok: false, error: `unknown event_type '${eventType}'` };
  const definition: EventDefinition = EventRegistry[eventType];
  const result = definition.payload.safeParse(payload ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? `payload.${issue.path.join(".")}` : "payload";
    return { ok: false, error: `${eventType}: ${where}: ${issue?.message ?? "invalid"}` };
  }
  return { ok: true, payload: result.data as Record<string, unknown> };
}

type Registry<D extends EventDefinition> = { readonly [K in D["type"]]: Extract<D, { type: K }> };

function registry<const D extends readonly EventDefinition[]>(
  ...definitions: D
): Registry<D[number]> {
  const byType: Record<string, EventDefinition> = {};
  for (const definition of definitions) {
    if (byType[definition.type]) throw new Error(`event type ${definition.type} listed twice`);
    byType[definition.type] = definition;
  }
  return Object.freeze(byType) as Registry<D[number]>;
}
