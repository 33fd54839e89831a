import { EventEmitter } from "node:events";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { parseWith } from "../../src/protocol/json.ts";
import type { MessageFrame } from "../../src/protocol/message.ts";
import {
  WORKER_CHANNEL_PATH,
  WorkerClientFrame,
  type WorkerServerFrame,
} from "../../src/protocol/worker-channel.ts";

export interface StoredTestEvent {
  id: string;
  seq: number;
  event_type: string;
  payload: Record<string, unknown>;
}

type Hello = Extract<WorkerClientFrame, { type: "hello" }>;
type EventsFrame = Extract<WorkerClientFrame, { type: "events" }>;

/**
 * Plays the server side of the worker channel for tests: a real `ws` server on port 0
 * that stores events once by id with gapless seqs, acks batches, pushes messages, and
 * records what the worker said. `until()` waits for a condition, re-checked on every
 * frame: tests wait on signals, never on sleeps.
 */
export class TestChannelServer {
  readonly stored: StoredTestEvent[] = [];
  readonly hellos: Hello[] = [];
  readonly delivered: string[] = [];
  duplicates = 0;
  pings = 0;
  connections = 0;
  /** Called for every events frame; return false to withhold the ack. */
  onEvents: (frame: EventsFrame, socket: WebSocket) => boolean = () => true;
  private readonly ids = new Set<string>();
  private readonly changes = new EventEmitter();
  private socket: WebSocket | null = null;
  private pendingMessages: MessageFrame[] = [];

  private constructor(
    private readonly server: WebSocketServer,
    readonly url: string,
  ) {
    this.changes.setMaxListeners(100);
    server.on("connection", (socket) => this.connected(socket));
  }

  static async start(): Promise<TestChannelServer> {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1", path: WORKER_CHANNEL_PATH });
    await new Promise((resolve) => server.once("listening", resolve));
    const { port } = server.address() as AddressInfo;
    return new TestChannelServer(server, `http://127.0.0.1:${port}`);
  }

  /** Resolves once `condition` holds, checking after every frame the server handles. */
  until(condition: () => boolean, what = "condition"): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        this.changes.off("change", check);
        clearTimeout(guard);
        resolve();
      };
      // Only a guard so a broken test fails with a name instead of hanging the runner.
      const guard = setTimeout(() => {
        this.changes.off("change", check);
        reject(new Error(`timed out waiting for ${what}`));
      }, 60_000);
      this.changes.on("change", check);
    });
  }

  /** Re-checks waiting conditions; for conditions on the worker's side of the test. */
  notify(): void {
    this.changes.emit("change");
  }

  /** A message the worker should get: pushed now if connected, else in the next welcome. */
  push(message: MessageFrame): void {
    this.pendingMessages.push(message);
    this.sendFrame({ type: "message", message });
  }

  sendFrame(frame: WorkerServerFrame): void {
    this.sendRaw(JSON.stringify(frame));
  }

  sendRaw(text: string): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(text);
  }

  /** Cuts the connection abruptly, as a crashed server or a broken network would. */
  drop(): void {
    this.socket?.terminate();
  }

  async close(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private connected(socket: WebSocket) {
    this.connections += 1;
    this.socket = socket;
    socket.on("message", (data) => {
      const parsed = parseWith(WorkerClientFrame, data.toString());
      if (!parsed.ok) throw new Error(`worker sent a bad frame: ${parsed.error}`);
      this.handle(parsed.value, socket);
      this.changes.emit("change");
    });
    socket.on("close", () => this.changes.emit("change"));
  }

  private handle(frame: WorkerClientFrame, socket: WebSocket) {
    switch (frame.type) {
      case "hello":
        this.hellos.push(frame);
        socket.send(
          JSON.stringify({
            type: "welcome",
            protocol: frame.protocol,
            sandbox_id: frame.sandbox_id,
            last_seq: this.stored.length,
            messages: this.pendingMessages,
          } satisfies WorkerServerFrame),
        );
        return;
      case "events": {
        for (const event of frame.events) {
          if (!event.id) throw new Error("worker sent an event without id");
          if (this.ids.has(event.id)) {
            this.duplicates += 1;
            continue;
          }
          this.ids.add(event.id);
          this.stored.push({
            id: event.id,
            seq: this.stored.length + 1,
            event_type: event.event_type,
            payload: event.payload ?? {},
          });
        }
        if (!this.onEvents(frame, socket)) return;
        const ack: WorkerServerFrame = {
          type: "ack",
          batch_id: frame.batch_id,
          ids: frame.events.map((event) => event.id!),
          last_seq: this.stored.length,
        };
        socket.send(JSON.stringify(ack));
        return;
      }
      case "delivered":
        this.delivered.push(...frame.message_ids);
        this.pendingMessages = this.pendingMessages.filter(
          (message) => !frame.message_ids.includes(message.id),
        );
        return;
      case "ping":
        this.pings += 1;
        socket.send(JSON.stringify({ type: "pong", id: frame.id }));
        return;
      case "pong":
        return;
    }
  }
}

export function messageFrame(
  id: string,
  content: string,
  extra: Partial<MessageFrame> = {},
): MessageFrame {
  return {
    id,
    message_id: id,
    sandbox_id: "sbx_test",
    message_type: "user_message",
    delivery: "steer",
    content,
    created_at: Date.now(),
    ...extra,
  };
}
