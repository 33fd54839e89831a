import { z } from "zod";
import type { AnswerFrame, PermissionMode } from "../protocol/approval.ts";
import { MessageDelivery, MessageType } from "../protocol/message.ts";
import type { TaskAssignment } from "../protocol/worker-channel.ts";
import type { OutgoingEvent } from "./agent-event.ts";

/** A person's message as the worker acts on it. */
export interface IncomingMessage {
  id: string;
  message_type: MessageType;
  delivery: MessageDelivery;
  content: string;
}

/**
 * A message object from the server (a channel push, the welcome's pending list, or the
 * HTTP poll). The prototype names the id `message_id`; Omoi sends both.
 */
export const IncomingMessageSchema = z
  .looseObject({
    id: z.string().min(1).optional(),
    message_id: z.string().min(1).optional(),
    message_type: MessageType.default("user_message"),
    delivery: MessageDelivery.default("steer"),
    content: z.string(),
  })
  .refine((message) => message.id ?? message.message_id, { message: "id or message_id required" })
  .transform(
    (message): IncomingMessage => ({
      id: (message.id ?? message.message_id)!,
      message_type: message.message_type,
      delivery: message.delivery,
      content: message.content,
    }),
  );

export interface TransportHandlers {
  /** A new message for the agent (ids already seen are dropped before this). */
  onMessage(message: IncomingMessage): void;
  /** The server asked the worker to stop. */
  onStop(reason: string): void;
  /** A person answered an approval request (channel only). */
  onAnswer?(answer: AnswerFrame): void;
  /** A person asked for another permission mode; the welcome also names the mode to be in. */
  onMode?(mode: PermissionMode): void;
  /** A task claimed this warm-pool sandbox (channel only; the welcome repeats it). */
  onTask?(task: TaskAssignment): void;
}

/**
 * How events reach the server and messages reach the worker: the worker channel
 * (WebSocket, the fast path) or the prototype's HTTP endpoints (fallback). Both keep events
 * until the server has them and resend with the same ids, so nothing is stored twice.
 */
export interface Transport {
  start(handlers: TransportHandlers): void;
  /** Queues an event; it is kept until the server acknowledges it. */
  send(event: OutgoingEvent): void;
  /** Tells the server the SDK has these messages (a no-op where the poll consumed them). */
  delivered(messageIds: string[]): void;
  /** Events not yet acknowledged. */
  pending(): number;
  /** Resolves true once everything sent so far is acknowledged, false at the deadline. */
  flush(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Remembers message ids already handled, so a re-push after reconnect is dropped. */
export class SeenIds {
  private readonly ids = new Set<string>();
  private readonly order: string[] = [];

  constructor(private readonly limit = 10_000) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** True the first time an id is seen. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    this.order.push(id);
    if (this.order.length > this.limit) this.ids.delete(this.order.shift()!);
    return true;
  }
}

/** How long a worker keeps trying to reach a server before it stops its agent. */
export const DEFAULT_ORPHAN_TIMEOUT_MS = 10 * 60_000;

/** Why a worker that lost its server for good stops. */
export const orphanedReason = (silentMs: number) =>
  `no Omoi server reachable for ${Math.round(silentMs / 1000)} s; the run has no supervisor`;
