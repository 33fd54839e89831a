import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import type { AnswerFrame } from "../protocol/approval.ts";
import { Backoff } from "../protocol/backoff.ts";
import { formatIssues, parseWith } from "../protocol/json.ts";
import { PROTOCOL_VERSION } from "../protocol/version.ts";
import {
  WORKER_CHANNEL_PATH,
  type WorkerClientFrame,
  WorkerCloseCode,
  WorkerServerFrame,
} from "../protocol/worker-channel.ts";
import type { OutgoingEvent } from "./agent-event.ts";
import { log as defaultLog, type Logger } from "./log.ts";
import { Outbox, within } from "./outbox.ts";
import {
  DEFAULT_ORPHAN_TIMEOUT_MS,
  IncomingMessageSchema,
  orphanedReason,
  SeenIds,
  type Transport,
  type TransportHandlers,
} from "./transport.ts";

export interface ChannelOptions {
  /** The server's base URL, `http://host:port`. */
  serverUrl: string;
  sandboxId: string;
  token: string;
  /** Most events in one frame (the contract allows 1000). */
  batchSize?: number;
  pingIntervalMs?: number;
  /**
   * How long the worker keeps trying to reach a server before it stops its agent: its
   * server is gone for good (a replica that died), and no one is left to watch the run.
   */
  orphanTimeoutMs?: number;
  backoff?: Backoff;
  logger?: Logger;
}

/** How often one batch may be refused before its events are given up (with an error log). */
const MAX_NACKS = 3;

/**
 * The worker side of the worker channel (src/protocol/worker-channel.ts): one WebSocket,
 * reconnected forever with backoff while the worker lives. Events are batched per
 * microtask and kept until acknowledged; after a reconnect the unacknowledged ones are
 * resent in order with the same ids, so the server stores each exactly once.
 */
export class ChannelTransport implements Transport {
  private readonly outbox = new Outbox();
  private readonly seen = new SeenIds();
  private readonly deliveredIds = new SeenIds();
  private readonly unsentDelivered = new Set<string>();
  private readonly batches = new Map<string, string[]>();
  private readonly nacks = new Map<string, number>();
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private readonly batchSize: number;
  private readonly pingIntervalMs: number;
  private handlers: TransportHandlers | null = null;
  private socket: WebSocket | null = null;
  private ready = false;
  private closed = false;
  private connections = 0;
  private lastAckedSeq = 0;
  private lastFrameAt = 0;
  /** Since when no server has welcomed this worker: its start, or its last disconnect. */
  private offlineSince = Date.now();
  private flushScheduled = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ChannelOptions) {
    this.backoff = options.backoff ?? new Backoff();
    this.log = (options.logger ?? defaultLog).child({ component: "channel" });
    this.batchSize = Math.min(options.batchSize ?? 200, 1000);
    this.pingIntervalMs = options.pingIntervalMs ?? 5_000;
  }

  start(handlers: TransportHandlers): void {
    this.handlers = handlers;
    this.connect();
    this.pingTimer = setInterval(() => this.heartbeat(), this.pingIntervalMs);
    this.pingTimer.unref();
  }

  send(event: OutgoingEvent): void {
    this.outbox.add(event);
    this.scheduleFlush();
  }

  delivered(messageIds: string[]): void {
    for (const id of messageIds) {
      this.deliveredIds.add(id);
      this.unsentDelivered.add(id);
    }
    this.sendDelivered();
  }

  pending(): number {
    return this.outbox.size();
  }

  flush(timeoutMs: number): Promise<boolean> {
    this.scheduleFlush();
    return within(this.outbox.drained(), timeoutMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    const closedEvent = new Promise((resolve) => socket.once("close", resolve));
    socket.close(1000, "worker done");
    if (!(await within(closedEvent, 1_000))) socket.terminate();
  }

  /** The last sequence number the server acknowledged (sent in `hello` on reconnect). */
  get acknowledgedSeq(): number {
    return this.lastAckedSeq;
  }

  private url(): string {
    const url = new URL(WORKER_CHANNEL_PATH, this.options.serverUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.toString();
  }

  private connect() {
    if (this.closed) return;
    const socket = new WebSocket(this.url(), { perMessageDeflate: false });
    this.socket = socket;
    socket.on("open", () => {
      this.lastFrameAt = Date.now();
      this.write({
        type: "hello",
        protocol: PROTOCOL_VERSION,
        sandbox_id: this.options.sandboxId,
        token: this.options.token,
        last_acked_seq: this.lastAckedSeq,
        worker_pid: process.pid,
        resume: this.connections > 0,
      });
      this.connections += 1;
    });
    socket.on("message", (data) => this.receive(data.toString()));
    socket.on("error", (error) => this.log.warn({ err: error.message }, "channel socket error"));
    socket.on("close", (code, reason) => this.disconnected(socket, code, reason.toString()));
  }

  private disconnected(socket: WebSocket, code: number, reason: string) {
    if (this.socket !== socket) return;
    if (this.ready) this.offlineSince = Date.now();
    this.socket = null;
    this.ready = false;
    // Whatever was in flight may or may not be stored: resend it all, the ids make it safe.
    this.outbox.releaseAll();
    this.batches.clear();
    if (this.closed) return;
    if (code === WorkerCloseCode.stopped) {
      this.handlers?.onStop(reason || "stopped by server");
      return;
    }
    const offlineMs = Date.now() - this.offlineSince;
    const orphanTimeoutMs = this.options.orphanTimeoutMs ?? DEFAULT_ORPHAN_TIMEOUT_MS;
    if (offlineMs >= orphanTimeoutMs) {
      this.log.error({ offlineMs, pending: this.outbox.size() }, "no server reachable; stopping");
      this.handlers?.onStop(orphanedReason(offlineMs));
      return;
    }
    const delayMs = this.backoff.next();
    const level = code === WorkerCloseCode.unauthorized ? "error" : "info";
    this.log[level]({ code, reason, delayMs, pending: this.outbox.size() }, "channel closed");
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
  }

  private receive(text: string) {
    this.lastFrameAt = Date.now();
    const parsed = parseWith(WorkerServerFrame, text);
    if (!parsed.ok) {
      this.log.warn({ error: parsed.error, frame: text.slice(0, 200) }, "ignored bad frame");
      return;
    }
    const frame = parsed.value;
    switch (frame.type) {
      case "welcome":
        this.ready = true;
        this.backoff.reset();
        this.lastAckedSeq = Math.max(this.lastAckedSeq, frame.last_seq);
        this.log.info({ lastSeq: frame.last_seq, pending: frame.messages.length }, "channel ready");
        for (const message of frame.messages) this.receiveMessage(message);
        this.sendDelivered();
        if (frame.permission_mode) this.handlers?.onMode?.(frame.permission_mode);
        for (const answer of frame.answers ?? []) this.receiveAnswer(answer);
        if (frame.task) this.handlers?.onTask?.(frame.task);
        this.flushNow();
        return;
      case "ack":
        this.acknowledged(frame.batch_id, frame.ids, frame.last_seq);
        return;
      case "nack":
        this.refused(frame.batch_id, frame.error);
        return;
      case "message":
        this.receiveMessage(frame.message);
        return;
      case "stop":
        this.handlers?.onStop(frame.reason);
        return;
      case "answer":
        this.receiveAnswer(frame.answer);
        return;
      case "task":
        this.handlers?.onTask?.(frame.task);
        return;
      case "mode":
        this.handlers?.onMode?.(frame.mode);
        return;
      case "ping":
        this.write({ type: "pong", ...(frame.id ? { id: frame.id } : {}) });
        return;
      case "pong":
        return;
      case "error":
        this.log.warn({ error: frame.error }, "server reported an error");
        return;
    }
  }

  private receiveMessage(raw: unknown) {
    const parsed = IncomingMessageSchema.safeParse(raw);
    if (!parsed.success) {
      this.log.warn({ error: formatIssues(parsed.error.issues) }, "ignored malformed message");
      return;
    }
    const message = parsed.data;
    if (!this.seen.add(message.id)) {
      // Re-pushed because our `delivered` never arrived: say it again, do not act twice.
      if (this.deliveredIds.has(message.id)) this.delivered([message.id]);
      return;
    }
    this.handlers?.onMessage(message);
  }

  /**
   * Hands an answer on and confirms it at once: the session either resolves its waiting
   * call or has none (answered before, or the call was cancelled), so a re-push is harmless.
   */
  private receiveAnswer(answer: AnswerFrame) {
    this.handlers?.onAnswer?.(answer);
    this.write({ type: "answers_received", request_ids: [answer.request_id] });
  }

  private acknowledged(batchId: string, ids: string[], lastSeq: number) {
    this.batches.delete(batchId);
    this.outbox.acknowledge(ids);
    for (const id of ids) this.nacks.delete(id);
    this.lastAckedSeq = Math.max(this.lastAckedSeq, lastSeq);
  }

  private refused(batchId: string, error: { name: string; message: string }) {
    const ids = this.batches.get(batchId) ?? [];
    this.batches.delete(batchId);
    const given = ids.filter((id) => (this.nacks.get(id) ?? 0) + 1 >= MAX_NACKS);
    for (const id of ids) this.nacks.set(id, (this.nacks.get(id) ?? 0) + 1);
    if (given.length > 0) {
      this.log.error({ error, dropped: given.length }, "server refused events repeatedly; dropped");
      this.outbox.acknowledge(given);
      for (const id of given) this.nacks.delete(id);
    }
    this.log.warn({ error, batchId }, "server refused a batch; will resend");
    this.outbox.release(ids);
    // Retry after a pause, not at once, so a refusing server is not hammered.
    setTimeout(() => this.scheduleFlush(), this.backoff.next()).unref();
  }

  private scheduleFlush() {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // One microtask: events emitted together (one SDK message) travel in one frame.
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flushNow();
    });
  }

  private flushNow() {
    if (!this.ready) return;
    while (this.outbox.hasUnsent()) {
      const events = this.outbox.takeBatch(this.batchSize);
      const batchId = randomUUID();
      this.batches.set(
        batchId,
        events.map((event) => event.id),
      );
      if (!this.write({ type: "events", batch_id: batchId, events })) return;
    }
  }

  private sendDelivered() {
    if (!this.ready || this.unsentDelivered.size === 0) return;
    const ids = [...this.unsentDelivered].slice(0, 1000);
    if (this.write({ type: "delivered", message_ids: ids })) {
      for (const id of ids) this.unsentDelivered.delete(id);
    }
  }

  private heartbeat() {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    // A peer silent for three intervals is gone (half-open TCP): drop it and reconnect.
    if (Date.now() - this.lastFrameAt > this.pingIntervalMs * 3) {
      this.log.warn("server silent; reconnecting");
      socket.terminate();
      return;
    }
    this.write({ type: "ping" });
  }

  private write(frame: WorkerClientFrame): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }
}
