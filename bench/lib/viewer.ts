import WebSocket from "ws";
import { safeJsonParse } from "../../src/protocol/json.ts";

export interface ViewerEvent {
  id: string;
  seq: number;
  stream_id: string;
  event_type: string;
  payload: Record<string, unknown>;
  emitted_at: number;
  stored_at: number;
}

function asEvent(value: unknown): ViewerEvent | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const frame = value as Record<string, unknown>;
  if (frame.type !== "event") return undefined;
  if (typeof frame.id !== "string" || typeof frame.seq !== "number") return undefined;
  if (typeof frame.stream_id !== "string" || typeof frame.event_type !== "string") return undefined;
  return frame as unknown as ViewerEvent;
}

/** A viewer socket on `/ws/events`; calls `onEvent` with each event and when it arrived. */
export class BenchViewer {
  onEvent: ((event: ViewerEvent, receivedAt: number) => void) | undefined;
  closed: { code: number; reason: string } | undefined;
  frames = 0;
  lagged = false;
  private replayedWaiters: (() => void)[] = [];
  replayed = false;

  private constructor(readonly socket: WebSocket) {}

  /** Opens a viewer and resolves once the server confirmed the subscription. */
  static async open(
    wsBase: string,
    query: Record<string, string>,
    onEvent?: (event: ViewerEvent, receivedAt: number) => void,
  ): Promise<BenchViewer> {
    const search = new URLSearchParams(query).toString();
    const socket = new WebSocket(`${wsBase}/ws/events?${search}`, { perMessageDeflate: false });
    const viewer = new BenchViewer(socket);
    viewer.onEvent = onEvent;
    const subscribed = new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.once("close", (code, reason) =>
        reject(new Error(`viewer closed before subscribing: ${code} ${reason.toString()}`)),
      );
      socket.on("message", (data) => {
        const receivedAt = performance.now();
        viewer.frames++;
        const parsed = safeJsonParse(data.toString());
        if (!parsed.ok) return;
        const event = asEvent(parsed.value);
        if (event) {
          viewer.onEvent?.(event, receivedAt);
          return;
        }
        const type = (parsed.value as { type?: unknown }).type;
        if (type === "subscribed") resolve();
        if (type === "lagged") viewer.lagged = true;
        if (type === "replayed") {
          viewer.replayed = true;
          for (const waiter of viewer.replayedWaiters.splice(0)) waiter();
        }
      });
    });
    socket.on("close", (code, reason) => {
      viewer.closed = { code, reason: reason.toString() };
    });
    await subscribed;
    return viewer;
  }

  /** Resolves once replay has caught up to live (only sent for `since`/`cursors` viewers). */
  whenReplayed(): Promise<void> {
    if (this.replayed) return Promise.resolve();
    return new Promise((resolve) => this.replayedWaiters.push(resolve));
  }

  close() {
    this.socket.terminate();
  }
}
