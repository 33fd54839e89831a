import { z } from "zod";
import { APPROVAL_KINDS, PERMISSION_MODES } from "./enums.ts";

/*
 * Permission modes, approval requests and their answers: the contract between the worker
 * (which asks), the server (which keeps the request and takes exactly one answer) and
 * every client (which shows the request and answers it).
 */

/**
 * How much the agent may do alone. `default` asks before edits and commands, `acceptEdits`
 * asks only before commands, `plan` reads and plans and changes nothing until a plan is
 * approved, `bypassPermissions` never asks (Omoi's behaviour before approvals existed).
 */
export const PermissionMode = z.enum(PERMISSION_MODES);
export type PermissionMode = z.infer<typeof PermissionMode>;
export const DEFAULT_PERMISSION_MODE: PermissionMode = "bypassPermissions";

export const ApprovalKind = z.enum(APPROVAL_KINDS);
export type ApprovalKind = z.infer<typeof ApprovalKind>;

/** A rule the SDK suggests (or a person remembers): a tool, optionally narrowed to a pattern. */
export const PermissionRule = z.object({
  toolName: z.string().min(1).max(200),
  ruleContent: z.string().max(2_000).optional(),
});
export type PermissionRule = z.infer<typeof PermissionRule>;

export const QuestionOption = z.looseObject({
  label: z.string().max(500),
  description: z.string().max(5_000).optional(),
});
export const Question = z.looseObject({
  question: z.string().max(5_000),
  header: z.string().max(200).optional(),
  options: z.array(QuestionOption).max(10).default([]),
  multiSelect: z.boolean().optional(),
});
export type Question = z.infer<typeof Question>;

export const MAX_ANSWER_CHARS = 10_000;

/**
 * One body for every kind of request (`POST /api/v1/sandboxes/{id}/permissions/{request_id}`):
 * - permission: `{decision: "allow"|"deny", reason?, remember?}` — `reason` is what the agent
 *   is told on deny; `remember` allows this tool (or command pattern) for the rest of the task.
 * - plan: `{decision: "approve", mode?}` (the mode to work in; default `acceptEdits`) or
 *   `{decision: "keep_planning", reason?}` (feedback for the agent).
 * - question: `{decision: "answer", answers: [one per question]}` (an option's label or free
 *   text) or `{decision: "deny", reason?}`.
 */
export const AnswerBody = z.strictObject({
  decision: z.enum(["allow", "deny", "approve", "keep_planning", "answer"]),
  reason: z.string().trim().max(MAX_ANSWER_CHARS).optional(),
  remember: z.boolean().optional(),
  mode: PermissionMode.optional(),
  answers: z.array(z.string().trim().min(1).max(MAX_ANSWER_CHARS)).min(1).max(4).optional(),
});
export type AnswerBody = z.infer<typeof AnswerBody>;

/** The mode a plan continues in when its approval names none. */
export const DEFAULT_PLAN_MODE: PermissionMode = "acceptEdits";

/** Who closed a request: a person (through a client) or Omoi itself. */
export const AnsweredBy = z.object({
  /** `person`: an answer posted by a client; `policy`: the task's no-answer policy; `system`: expiry. */
  kind: z.enum(["person", "policy", "system"]),
  /** The client that posted it (`web`, `cli`, or `api`), when a person answered. */
  client: z.string().max(40).optional(),
});
export type AnsweredBy = z.infer<typeof AnsweredBy>;

/** An answer as stored and as the worker receives it. */
export const Answer = z.object({
  decision: z.enum(["allow", "deny", "approve", "keep_planning", "answer", "expired"]),
  reason: z.string().optional(),
  remember: z.boolean().optional(),
  mode: PermissionMode.optional(),
  answers: z.array(z.string()).optional(),
});
export type Answer = z.infer<typeof Answer>;

export const ApprovalStatus = z.enum(["open", "resolved", "expired"]);
export type ApprovalStatus = z.infer<typeof ApprovalStatus>;

/** A request as the server keeps it (and as `GET …/permissions` returns it). */
export const Approval = z.object({
  /** The id of the event that asked (unique across Omoi). */
  id: z.string(),
  sandbox_id: z.string(),
  task_id: z.string().nullable(),
  kind: ApprovalKind,
  tool: z.string(),
  /** The request event's payload. */
  request: z.record(z.string(), z.unknown()),
  status: ApprovalStatus,
  answer: Answer.nullable(),
  answered_by: AnsweredBy.nullable(),
  created_at: z.number(),
  /** When the no-answer policy denies it; null = wait. */
  deadline_at: z.number().nullable(),
  resolved_at: z.number().nullable(),
  /** When the worker confirmed it has the answer. */
  delivered_at: z.number().nullable(),
});
export type Approval = z.infer<typeof Approval>;

/** What a worker receives for one resolved request. */
/** `GET /api/v1/sandboxes/{id}/permissions`. */
export const ApprovalList = z.object({ approvals: z.array(Approval) });
export type ApprovalList = z.infer<typeof ApprovalList>;

export const AnswerFrame = z.object({ request_id: z.string().min(1), answer: Answer });
export type AnswerFrame = z.infer<typeof AnswerFrame>;

/** `POST /api/v1/sandboxes/{id}/mode` */
export const SetModeBody = z.strictObject({ mode: PermissionMode });
export type SetModeBody = z.infer<typeof SetModeBody>;

/** What changing a sandbox's mode answers. */
export const SandboxModeAnswer = z.object({ sandbox_id: z.string(), mode: PermissionMode });
export type SandboxModeAnswer = z.infer<typeof SandboxModeAnswer>;
/** What changing a task's mode answers: its open sandbox's, or null when it has none. */
export const TaskModeAnswer = z.object({
  task_id: z.string(),
  sandbox_id: z.string().nullable(),
  mode: PermissionMode,
});
export type TaskModeAnswer = z.infer<typeof TaskModeAnswer>;
