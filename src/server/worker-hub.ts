import type { WebSocket } from "ws";
import type { Bus, Unsubscribe } from "../bus/bus.ts";
import { type Ingest, sandboxTarget } from "../ingest/ingest.ts";
import type { Logger } from "../log/logger.ts";
import type { Answer, AnswerFrame, PermissionMode } from "../protocol/approval.ts";
import { RESOLVED_EVENT_TYPE } from "../protocol/approval-requests.ts";
import { OmoiError, sandboxEnded } from "../protocol/error.ts";
import type { NewEvent, StoredEvent } from "../protocol/event.ts";
import { parseAtEdgeWith, safeJsonParse } from "../protocol/json.ts";
import { type MessageFrame, toMessageFrame } from "../protocol/message.ts";
import { isTerminalSandboxStatus } from "../protocol/status.ts";
import { PROTOCOL_VERSION } from "../protocol/version.ts";
import {
  type TaskAssignment,
  WorkerClientFrame,
  WorkerCloseCode,
  WorkerHello,
  type WorkerServerFrame,
} from "../protocol/worker-channel.ts";
import type { AppendResult, EventToStore, Store } from "../store/store.ts";
import { verifyWorkerToken } from "./worker-token.ts";

/** The batch id of an `events` frame that failed validation, if it names one. */
function refusedBatchId(text: string): string | undefined {
  const parsed = safeJsonParse(text);
  if (!parsed.ok || typeof parsed.value !== "object" || parsed.value === null) return undefined;
  const { type, batch_id: batchId } = parsed.value as { type?: unknown; batch_id?: unknown };
  return type === "events" && typeof batchId === "string" && batchId.length <= 100
    ? batchId
    : undefined;
}

/** The answer part of an `agent.permission_resolved` payload (written by Omoi itself). */
function answerFrameOf(payload: Record<string, unknown>): AnswerFrame {
  const { request_id, decision, reason, remember, mode, answers } = payload as unknown as {
    request_id: string;
  } & Answer;
  return {
    request_id,
    answer: {
      decision,
      ...(reason !== undefined ? { reason } : {}),
      ...(remember !== undefined ? { remember } : {}),
      ...(mode !== undefined ? { mode } : {}),
      ...(answers !== undefined ? { answers } : {}),
    },
  };
}

const HELLO_TIMEOUT_MS = 10_000;
// Workers ping every 5 s; a write every 2 s at most keeps the stored time at most ~5 s old.
const HEARTBEAT_WRITE_INTERVAL_MS = 2_000;

interface QueuedBatch {
  batchId: string;
  events: NewEvent[];
}

interface WorkerConnection {
  sandboxId: string;
  taskId: string | null;
  socket: WebSocket;
  lastHeartbeatWrite: number;
  /** Event batches waiting for the store, and the flush storing them. */
  queue: QueuedBatch[];
  flushing: Promise<void> | undefined;
}

export interface WorkerHubHooks {
  /** A worker said hello (first start or reconnect). */
  onConnected?(sandboxId: string, resume: boolean): void;
  onDisconnected?(sandboxId: string): void;
}

/**
 * The server side of the worker channel: authenticates workers, stores their event
 * batches (store, then publish, then ack), pushes messages down at once, and keeps
 * heartbeats.
 */
export class WorkerHub {
  private readonly workers = new Map<string, WorkerConnection>();
  private unsubscribe: Unsubscribe | undefined;
  hooks: WorkerHubHooks = {};

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly ingest: Ingest,
    private readonly secret: string,
    private readonly logger: Logger,
  ) {}

  start() {
    this.unsubscribe = this.bus.subscribe((event) => this.onBusEvent(event));
  }

  isConnected(sandboxId: string): boolean {
    return this.workers.has(sandboxId);
  }

  connectedSandboxes(): string[] {
    return [...this.workers.keys()];
  }

  /** Asks a connected worker to end its session. Returns false when it is not connected here. */
  sendStop(sandboxId: string, reason: string): boolean {
    const worker = this.workers.get(sandboxId);
    if (!worker) return false;
    this.send(worker.socket, { type: "stop", reason });
    return true;
  }

  /**
   * Hands a claimed warm-pool sandbox its task: its events belong to the task from now on.
   * False when its worker is not connected here (its welcome will carry the task).
   */
  sendTask(sandboxId: string, task: TaskAssignment): boolean {
    const worker = this.workers.get(sandboxId);
    if (!worker) return false;
    worker.taskId = task.task_id;
    this.send(worker.socket, { type: "task", task });
    return true;
  }

  private onBusEvent(event: StoredEvent) {
    if (!event.sandbox_id) return;
    const worker = this.workers.get(event.sandbox_id);
    if (!worker) return;
    if (event.event_type === RESOLVED_EVENT_TYPE) {
      this.send(worker.socket, { type: "answer", answer: answerFrameOf(event.payload) });
      return;
    }
    if (event.event_type === "sandbox.mode_requested") {
      this.send(worker.socket, { type: "mode", mode: event.payload.mode as PermissionMode });
      return;
    }
    if (event.event_type !== "message.queued") return;
    const payload = event.payload as {
      message_id: string;
      message_type: MessageFrame["message_type"];
      content: string;
      delivery?: MessageFrame["delivery"];
    };
    this.send(worker.socket, {
      type: "message",
      message: {
        id: payload.message_id,
        message_id: payload.message_id,
        sandbox_id: event.sandbox_id,
        message_type: payload.message_type,
        delivery: payload.delivery ?? "steer",
        content: payload.content,
        created_at: event.emitted_at,
      },
    });
  }

  attach(socket: WebSocket) {
    let connection: WorkerConnection | undefined;
    let chain = Promise.resolve();
    const helloTimer = setTimeout(() => {
      socket.close(WorkerCloseCode.badHello, "no hello within 10 s");
    }, HELLO_TIMEOUT_MS);
    helloTimer.unref();

    socket.on("error", () => socket.terminate());
    socket.on("close", () => {
      clearTimeout(helloTimer);
      if (connection && this.workers.get(connection.sandboxId) === connection) {
        this.workers.delete(connection.sandboxId);
        this.hooks.onDisconnected?.(connection.sandboxId);
      }
    });
    socket.on("message", (data, isBinary) => {
      chain = chain
        .then(async () => {
          if (isBinary)
            return this.send(socket, {
              type: "error",
              error: { name: "BadFrame", message: "send JSON text frames" },
            });
          const text = data.toString();
          if (!connection) {
            const hello = parseAtEdgeWith(WorkerHello, text);
            if (!hello.ok) {
              socket.close(
                WorkerCloseCode.badHello,
                `first frame must be hello: ${hello.error}`.slice(0, 120),
              );
              return;
            }
            clearTimeout(helloTimer);
            connection = await this.onHello(socket, hello.value);
            return;
          }
          await this.onFrame(connection, text);
        })
        .catch((error) => {
          this.logger.error({ err: error }, "worker frame failed");
          socket.close(1011, "internal error");
        });
    });
  }

  private async onHello(
    socket: WebSocket,
    hello: { sandbox_id: string; token: string; protocol: number; resume?: boolean },
  ): Promise<WorkerConnection | undefined> {
    if (hello.protocol !== PROTOCOL_VERSION) {
      socket.close(
        WorkerCloseCode.badHello,
        `protocol ${hello.protocol} not supported; server speaks ${PROTOCOL_VERSION}`,
      );
      return undefined;
    }
    if (!verifyWorkerToken(this.secret, hello.sandbox_id, hello.token)) {
      socket.close(WorkerCloseCode.unauthorized, "bad worker token");
      return undefined;
    }
    const sandbox = await this.store.getSandbox(hello.sandbox_id);
    // The worker may have gone while we looked it up; never register a dead socket.
    if (socket.readyState !== socket.OPEN) return undefined;
    if (!sandbox) {
      socket.close(WorkerCloseCode.unauthorized, "unknown sandbox");
      return undefined;
    }
    // An ended sandbox's token opens nothing; `stopped` tells its worker to stop.
    if (isTerminalSandboxStatus(sandbox.status)) {
      socket.close(
        WorkerCloseCode.stopped,
        sandboxEnded(sandbox.id, sandbox.status).message.slice(0, 120),
      );
      return undefined;
    }
    const previous = this.workers.get(sandbox.id);
    if (previous) previous.socket.close(WorkerCloseCode.replaced, "replaced by a newer connection");
    const connection: WorkerConnection = {
      sandboxId: sandbox.id,
      taskId: sandbox.task_id,
      socket,
      lastHeartbeatWrite: 0,
      queue: [],
      flushing: undefined,
    };
    this.workers.set(sandbox.id, connection);
    await this.heartbeat(connection);
    const [lastSeq, pending, answered] = await Promise.all([
      this.store.lastSeq(sandbox.id),
      this.store.pendingMessages(sandbox.id),
      this.store.approvals.undelivered(sandbox.id),
    ]);
    this.send(socket, {
      type: "welcome",
      protocol: PROTOCOL_VERSION,
      sandbox_id: sandbox.id,
      last_seq: lastSeq,
      messages: pending.map(toMessageFrame),
      answers: answered.flatMap((approval) =>
        approval.answer ? [{ request_id: approval.id, answer: approval.answer }] : [],
      ),
      ...(sandbox.kind === "agent" ? { permission_mode: sandbox.permission_mode } : {}),
      // A warm-pool worker that reconnects after its claim learns its task here (others ignore it).
      ...(sandbox.kind === "agent" && sandbox.task_id && sandbox.prompt
        ? {
            task: {
              task_id: sandbox.task_id,
              prompt: sandbox.prompt,
              model: sandbox.model,
              permission_mode: sandbox.permission_mode,
            },
          }
        : {}),
    });
    this.logger.info({ sandbox_id: sandbox.id, resume: Boolean(hello.resume) }, "worker connected");
    this.hooks.onConnected?.(sandbox.id, Boolean(hello.resume));
    return connection;
  }

  private async onFrame(connection: WorkerConnection, text: string) {
    const frame = parseAtEdgeWith(WorkerClientFrame, text);
    if (!frame.ok) {
      const error = { name: "BadFrame", message: frame.error };
      // A refused batch is answered as refused, so the worker's resend-then-drop rule applies
      // rather than a resend loop.
      const batchId = refusedBatchId(text);
      if (batchId) this.send(connection.socket, { type: "nack", batch_id: batchId, error });
      else this.send(connection.socket, { type: "error", error });
      return;
    }
    // The write runs beside the frame, not before it: a batch waits for its own commit only.
    this.heartbeat(connection)?.catch((error) =>
      this.logger.warn(
        { err: error, sandbox_id: connection.sandboxId },
        "recording a worker heartbeat failed",
      ),
    );
    const value = frame.value;
    switch (value.type) {
      case "hello":
        this.send(connection.socket, {
          type: "error",
          error: { name: "BadFrame", message: "hello sent twice" },
        });
        return;
      case "ping":
        this.send(connection.socket, { type: "pong", id: value.id });
        return;
      case "pong":
        return;
      case "delivered":
        await this.store.markDelivered(connection.sandboxId, value.message_ids);
        return;
      case "answers_received":
        await this.store.approvals.markDelivered(connection.sandboxId, value.request_ids);
        return;
      case "events":
        this.storeBatch(connection, value.batch_id, value.events);
        return;
    }
  }

  /**
   * Group commit: batches that arrive while a store is in flight are stored together, in
   * arrival order, in one transaction, then each is acknowledged. One slow commit then costs
   * a worker one round, not one round per frame.
   */
  private storeBatch(connection: WorkerConnection, batchId: string, events: NewEvent[]): void {
    const queued: QueuedBatch = { batchId, events };
    connection.queue.push(queued);
    if (!connection.flushing) connection.flushing = this.flush(connection);
  }

  private async flush(connection: WorkerConnection) {
    try {
      while (connection.queue.length > 0) {
        const batches = connection.queue.splice(0);
        const accepted: { batchId: string; prepared: EventToStore[] }[] = [];
        for (const batch of batches) {
          try {
            accepted.push({
              batchId: batch.batchId,
              prepared: this.ingest.prepare(
                sandboxTarget(connection.sandboxId, connection.taskId),
                batch.events,
                "agent",
              ),
            });
          } catch (error) {
            if (!(error instanceof OmoiError)) throw error;
            this.send(connection.socket, {
              type: "nack",
              batch_id: batch.batchId,
              error: { name: error.name, message: error.message },
            });
          }
        }
        await this.storeAndAcknowledge(connection, accepted);
      }
    } catch (error) {
      this.logger.error(
        { err: error, sandbox_id: connection.sandboxId },
        "storing worker events failed",
      );
      connection.socket.close(1011, "could not store events; reconnect and resend");
    } finally {
      connection.flushing = undefined;
    }
  }

  /**
   * Stores the batches together and acknowledges each. When the store refuses them with a
   * client error (an event id already used by another stream), each batch is stored alone,
   * so only the offending one is refused (`nack`) and the worker does not resend it forever.
   */
  private async storeAndAcknowledge(
    connection: WorkerConnection,
    batches: { batchId: string; prepared: EventToStore[] }[],
  ) {
    let results: AppendResult[];
    try {
      results = await this.ingest.append(batches.flatMap((batch) => batch.prepared));
    } catch (error) {
      if (!(error instanceof OmoiError)) throw error;
      if (batches.length === 1) {
        this.send(connection.socket, {
          type: "nack",
          batch_id: batches[0].batchId,
          error: { name: error.name, message: error.message },
        });
        return;
      }
      for (const batch of batches) await this.storeAndAcknowledge(connection, [batch]);
      return;
    }
    let offset = 0;
    for (const batch of batches) {
      const mine = results.slice(offset, offset + batch.prepared.length);
      offset += batch.prepared.length;
      this.send(connection.socket, {
        type: "ack",
        batch_id: batch.batchId,
        ids: mine.map((result) => result.event.id),
        last_seq: Math.max(0, ...mine.map((result) => result.event.seq)),
      });
    }
  }

  /** Records that the worker is alive, at most every 2 s; undefined when not due. */
  private heartbeat(connection: WorkerConnection): Promise<unknown> | undefined {
    const now = Date.now();
    if (now - connection.lastHeartbeatWrite < HEARTBEAT_WRITE_INTERVAL_MS) return undefined;
    connection.lastHeartbeatWrite = now;
    return this.store.updateSandbox(connection.sandboxId, { last_heartbeat_at: now });
  }

  private send(socket: WebSocket, frame: WorkerServerFrame) {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(frame));
  }

  close() {
    this.unsubscribe?.();
    for (const worker of this.workers.values()) worker.socket.close(1001, "server shutting down");
    this.workers.clear();
  }
}
