import WebSocket from "ws";
import { type EventFrame, parseViewerFrame } from "../../src/client/viewer-frame.ts";

/** An event as the viewer socket delivers it. */
export type ViewerEvent = EventFrame;

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
        const frame = parseViewerFrame(data.toString());
        if (!frame) return;
        if (frame.type === "event") {
          viewer.onEvent?.(frame, receivedAt);
          return;
        }
        const type = frame.type;
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
