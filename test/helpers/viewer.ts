import WebSocket from "ws";
import type { EventFrame } from "../../src/protocol/event.ts";

/** A viewer socket that collects frames and lets a test wait for a condition. */
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
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      this.frames.push(frame);
      if (frame.type === "event") this.events.push(frame as unknown as EventFrame);
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
