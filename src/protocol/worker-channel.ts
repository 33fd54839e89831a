import { z } from "zod";
import { AnswerFrame, PermissionMode } from "./approval.ts";
import { FrameError } from "./error.ts";
import { NewEvent } from "./event.ts";
import { EntityId } from "./ids.ts";
import { MessageFrame } from "./message.ts";

/*
 * The worker channel: one WebSocket per worker at `/api/v1/worker/channel`.
 *
 *   worker → server  hello {protocol, sandbox_id, token, last_acked_seq}
 *   server → worker  welcome {protocol, last_seq, messages: pending}
 *   worker → server  events {batch_id, events}         → server: ack {batch_id, ids, last_seq}
 *                                                        or nack {batch_id, error} (invalid,
 *                                                        or an id another stream holds)
 *   server → worker  message {message}                 → worker: delivered {message_ids}
 *   server → worker  stop {reason}                     (the sandbox is being stopped)
 *   server → worker  answer {answer}                   → worker: answers_received {request_ids}
 *                                                        (a person answered an approval request)
 *   server → worker  mode {mode}                       (switch the permission mode)
 *   server → worker  task {task}                       (a warm-pool sandbox was claimed: its
 *                                                        task's prompt and settings; the welcome
 *                                                        carries it again after a reconnect)
 *   either           ping / pong
 *
 * Events are kept by the worker until acknowledged and resent after reconnect; their ids
 * make the resend idempotent. Messages stay pending on the server until the worker says
 * `delivered`; they are pushed again after a reconnect, and the worker drops ids it has seen.
 * Answers to approval requests work the same way: the welcome carries every answer the worker
 * has not confirmed, plus the mode the sandbox should be in.
 */

export const WORKER_CHANNEL_PATH = "/api/v1/worker/channel";

export const WorkerHello = z.object({
  type: z.literal("hello"),
  protocol: z.number().int(),
  sandbox_id: EntityId,
  token: z.string().min(1).max(500),
  last_acked_seq: z.number().int().nonnegative().optional(),
  worker_pid: z.number().int().optional(),
  /** Set on reconnect, so the server can tell a resume from a first start. */
  resume: z.boolean().optional(),
});

export const WorkerClientFrame = z.discriminatedUnion("type", [
  WorkerHello,
  z.object({
    type: z.literal("events"),
    batch_id: z.string().min(1).max(100),
    events: z.array(NewEvent).min(1).max(1000),
  }),
  z.object({
    type: z.literal("delivered"),
    message_ids: z.array(z.string().min(1)).min(1).max(1000),
  }),
  z.object({
    type: z.literal("answers_received"),
    request_ids: z.array(z.string().min(1).max(100)).min(1).max(1000),
  }),
  z.object({ type: z.literal("ping"), id: z.string().max(100).optional() }),
  z.object({ type: z.literal("pong"), id: z.string().max(100).optional() }),
]);
export type WorkerClientFrame = z.infer<typeof WorkerClientFrame>;

/**
 * What a warm-pool worker learns when a task claims its sandbox: the first prompt and the
 * settings the already-started agent switches to before it begins.
 */
export const TaskAssignment = z.object({
  task_id: EntityId,
  prompt: z.string().min(1),
  model: z.string().min(1).nullable(),
  permission_mode: PermissionMode,
});
export type TaskAssignment = z.infer<typeof TaskAssignment>;

export const WorkerServerFrame = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("welcome"),
    protocol: z.number(),
    sandbox_id: z.string(),
    last_seq: z.number(),
    messages: z.array(MessageFrame),
    answers: z.array(AnswerFrame).optional(),
    permission_mode: PermissionMode.optional(),
    task: TaskAssignment.optional(),
  }),
  z.object({
    type: z.literal("ack"),
    batch_id: z.string(),
    ids: z.array(z.string()),
    last_seq: z.number(),
  }),
  z.object({ type: z.literal("nack"), batch_id: z.string(), error: FrameError }),
  z.object({ type: z.literal("message"), message: MessageFrame }),
  z.object({ type: z.literal("stop"), reason: z.string() }),
  z.object({ type: z.literal("answer"), answer: AnswerFrame }),
  z.object({ type: z.literal("mode"), mode: PermissionMode }),
  z.object({ type: z.literal("task"), task: TaskAssignment }),
  z.object({ type: z.literal("ping"), id: z.string().optional() }),
  z.object({ type: z.literal("pong"), id: z.string().optional() }),
  z.object({ type: z.literal("error"), error: FrameError }),
]);
export type WorkerServerFrame = z.infer<typeof WorkerServerFrame>;

export { WorkerCloseCode } from "./close-codes.ts";
