import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { parseWith } from "../../src/protocol/json.ts";
import { PROTOCOL_VERSION } from "../../src/protocol/version.ts";
import {
  WORKER_CHANNEL_PATH,
  type WorkerClientFrame,
  WorkerServerFrame,
} from "../../src/protocol/worker-channel.ts";

export interface BenchEvent {
  id: string;
  event_type: string;
  source: "agent";
  payload: Record<string, unknown>;
  emitted_at: number;
}

export interface PushedMessage {
  id: string;
  receivedAt: number;
}

/**
 * A worker as the server sees it: one socket speaking the worker channel (hello, then
 * `events` batches acknowledged by `ack`, `message` frames pushed down).
 */
export class ChannelClient {
  private readonly pendingAcks = new Map<string, () => void>();
  onMessage: ((message: PushedMessage) => void) | undefined;
  /** An approval answer pushed down (`answer` frame), by request id. */
  onAnswer: ((answer: PushedMessage) => void) | undefined;
  acked = 0;

  private constructor(
    readonly sandboxId: string,
    private readonly socket: WebSocket,
  ) {}

  static async connect(wsBase: string, sandboxId: string, token: string): Promise<ChannelClient> {
    const socket = new WebSocket(`${wsBase}${WORKER_CHANNEL_PATH}`, { perMessageDeflate: false });
    const client = new ChannelClient(sandboxId, socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
    const welcome = new Promise<void>((resolve, reject) => {
      socket.once("close", (code, reason) =>
        reject(new Error(`channel closed before welcome: ${code} ${reason.toString()}`)),
      );
      client.onWelcome = resolve;
    });
    socket.on("message", (data) => client.receive(data.toString()));
    client.send({ type: "hello", protocol: PROTOCOL_VERSION, sandbox_id: sandboxId, token });
    await welcome;
    return client;
  }

  private onWelcome: (() => void) | undefined;

  private receive(text: string) {
    const receivedAt = performance.now();
    const frame = parseWith(WorkerServerFrame, text);
    if (!frame.ok) throw new Error(`bad frame from server: ${frame.error}`);
    const value = frame.value;
    switch (value.type) {
      case "welcome":
        this.onWelcome?.();
        return;
      case "ack": {
        this.acked += value.ids.length;
        const done = this.pendingAcks.get(value.batch_id);
        this.pendingAcks.delete(value.batch_id);
        done?.();
        return;
      }
      case "nack":
        throw new Error(`server refused a batch: ${value.error.message}`);
      case "message":
        this.send({ type: "delivered", message_ids: [value.message.id] });
        this.onMessage?.({ id: value.message.id, receivedAt });
        return;
      case "answer":
        this.send({ type: "answers_received", request_ids: [value.answer.request_id] });
        this.onAnswer?.({ id: value.answer.request_id, receivedAt });
        return;
      case "ping":
        this.send({ type: "pong", id: value.id });
        return;
      default:
        return;
    }
  }

  private send(frame: WorkerClientFrame) {
    this.socket.send(JSON.stringify(frame));
  }

  /** Sends one batch; resolves when the server acknowledges it (stored and published). */
  sendEvents(events: BenchEvent[]): Promise<void> {
    const batchId = randomUUID();
    const acked = new Promise<void>((resolve) => this.pendingAcks.set(batchId, resolve));
    this.send({ type: "events", batch_id: batchId, events });
    return acked;
  }

  close() {
    this.socket.close();
  }
}

/** An `agent.message` event with a fresh id, stamped now. */
export function benchEvent(content: string): BenchEvent {
  return {
    id: randomUUID(),
    event_type: "agent.message",
    source: "agent",
    payload: { content },
    emitted_at: Date.now(),
  };
}
