import WebSocket from "ws";
import { type EventFrame, parseViewerFrame } from "../../src/client/viewer-frame.ts";

/**
 * A viewer socket that collects frames and lets a test wait for a condition. It reads frames
 * as every client does (`parseViewerFrame`) but does not reconnect: tests look at exactly
 * what the server sent, close codes included.
 */
export class TestViewer {
  readonly frames: Record<string, unknown>[] = [];
  readonly events: EventFrame[] = [];
  readonly socket: WebSocket;
  closed: { code: number; reason: string } | undefined;
  private waiters: { check: () => boolean; resolve: () => void }[] = [];
  readonly opened: Promise<void>;

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.socket.once("open", () => resolve());
      this.socket.once("error", reject);
    });
    this.socket.on("message", (data) => {
      const text = data.toString();
      const frame = parseViewerFrame(text);
      // A frame no client could read is kept too, for the test to see.
      this.frames.push((frame ?? JSON.parse(text)) as Record<string, unknown>);
      if (frame?.type === "event") this.events.push(frame);
      this.poke();
    });
    this.socket.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.poke();
    });
    this.socket.on("error", () => undefined);
  }

  private poke() {
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.check()) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Resolves when check() holds; rejects after the safety timeout with what was seen. */
  waitFor(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `timed out waiting for ${what}; saw ${this.events.length} events: ${this.events
              .map((event) => `${event.seq}:${event.event_type}`)
              .slice(-20)
              .join(", ")}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push({
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  waitForEvent(
    type: string,
    predicate: (event: EventFrame) => boolean = () => true,
    timeoutMs?: number,
  ) {
    return this.waitFor(
      () => this.events.some((event) => event.event_type === type && predicate(event)),
      type,
      timeoutMs,
    );
  }

  close() {
    this.socket.close();
  }
}
