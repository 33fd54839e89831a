import { backoffDelay } from "../../../src/protocol/backoff.ts";
import { FATAL_VIEWER_CLOSE_CODES, ViewerCloseCode } from "../../../src/protocol/close-codes.ts";
import { getToken } from "../api/client.ts";
import type { Cursors, EventFrame, ServerFrame } from "../api/types.ts";
import { StreamCursors } from "./stream-cursors.ts";

/*
 * One viewer WebSocket that survives disconnects. It keeps the last seq seen per stream
 * (`stream_id` → `seq`, see stream-cursors.ts), drops anything at or below it (so a replay
 * overlap is never shown twice), and on close reconnects with backoff, resuming from those
 * cursors: no gap, no duplicate. A `lagged` frame is handled the same way. Deltas that compact
 * replay passed over are reported (`onSkipped`), so they count as taken in.
 */

export type ConnectionPhase = "connecting" | "replaying" | "live" | "reconnecting" | "closed";

export interface ConnectionState {
  phase: ConnectionPhase;
  /** Failed attempts in a row; 0 once a connection works. */
  attempt: number;
  /** When the next attempt starts (ms epoch), while reconnecting. */
  retryAt: number | null;
  /** Why the last connection ended, in words. */
  reason: string | null;
}

export interface StreamSubscription {
  entityTypes?: string[];
  entityIds?: string[];
  eventTypes?: string[];
  /** Replay every stored event (since=0 / cursors at 0) before going live. */
  replay: boolean;
  /**
   * Instead of everything, replay only the last N events of each stream (`tail=N`), then
   * live; earlier history is paged in over REST from the cursors `onSubscribed` reports.
   */
  tail?: number;
  /** Leave streamed deltas whose finished message is stored out of replay (`replay=compact`). */
  compact?: boolean;
  /**
   * Resume from the cursors after a reconnect (default). A live-only feed may turn this off:
   * with cursors the server replays every stream it has not seen from seq 1.
   */
  resume?: boolean;
}

export interface StreamHandlers {
  /** `live` is false while the server replays stored history. */
  onEvent: (frame: EventFrame, live: boolean) => void;
  onState: (state: ConnectionState) => void;
  /** Replay has caught up with the live stream. */
  onReplayed?: () => void;
  /** Where each stream starts on this connection (a stream's history ends at its cursor). */
  onSubscribed?: (cursors: Cursors) => void;
  /**
   * Compact replay passed over `count` superseded deltas of a stream (their finished message
   * follows): they are taken in without being shown, exactly as if they had come live.
   */
  onSkipped?: (stream: string, count: number) => void;
}

const PING_EVERY_MS = 15_000;
const SILENCE_LIMIT_MS = 40_000;
const MAX_BACKOFF_MS = 10_000;

export function formatCursors(cursors: Cursors): string {
  return Object.entries(cursors)
    .map(([stream, seq]) => `${stream}:${seq}`)
    .join(",");
}

function socketUrl(query: URLSearchParams): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/events?${query}`;
}

function parseFrame(data: unknown): ServerFrame | null {
  if (typeof data !== "string") return null;
  try {
    const value: unknown = JSON.parse(data);
    if (typeof value !== "object" || value === null) return null;
    const type = (value as { type?: unknown }).type;
    if (typeof type !== "string") return null;
    if (type === "skipped") {
      const frame = value as { stream_id?: unknown; from_seq?: unknown; to_seq?: unknown };
      if (typeof frame.stream_id !== "string" || typeof frame.to_seq !== "number") return null;
      if (typeof frame.from_seq !== "number") return null;
    }
    if (type === "event") {
      const frame = value as Partial<EventFrame>;
      if (typeof frame.stream_id !== "string" || typeof frame.seq !== "number") return null;
      if (typeof frame.event_type !== "string") return null;
      if (typeof frame.payload !== "object" || frame.payload === null) frame.payload = {};
    }
    return value as ServerFrame;
  } catch {
    return null;
  }
}

export class EventStream {
  private readonly cursors = new StreamCursors();
  private socket: WebSocket | null = null;
  private state: ConnectionState = { phase: "connecting", attempt: 0, retryAt: null, reason: null };
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastFrameAt = 0;
  private live = false;
  private stopped = false;
  private connectedOnce = false;

  constructor(
    private readonly subscription: StreamSubscription,
    private readonly handlers: StreamHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close(1000, "viewer left");
    }
    this.setState({ phase: "closed", attempt: 0, retryAt: null, reason: null });
  }

  /** Close and reconnect now, resuming from the cursors (used after `lagged`, or by hand). */
  reconnectNow(reason: string): void {
    if (this.stopped) return;
    this.dropSocket();
    this.scheduleReconnect(reason, true);
  }

  getCursors(): Cursors {
    return this.cursors.snapshot();
  }

  private buildQuery(): URLSearchParams {
    const { entityTypes, entityIds, eventTypes, replay } = this.subscription;
    const query = new URLSearchParams();
    if (entityTypes?.length) query.set("entity_types", entityTypes.join(","));
    if (entityIds?.length) query.set("entity_ids", entityIds.join(","));
    if (eventTypes?.length) query.set("event_types", eventTypes.join(","));
    const cursors = this.subscription.resume === false ? "" : formatCursors(this.cursors.snapshot());
    if (cursors) query.set("cursors", cursors);
    // since=0 asks for the whole history of every stream the filters match (tail=N for the
    // last N events of each); streams we already hold are resumed from their cursor instead.
    const { tail, compact } = this.subscription;
    if (replay && entityIds?.length === 1) {
      if (tail !== undefined) query.set("tail", String(tail));
      else query.set("since", "0");
    }
    if (compact) query.set("replay", "compact");
    const token = getToken();
    if (token) query.set("token", token);
    return query;
  }

  private connect(): void {
    if (this.stopped) return;
    this.live = false;
    this.setState({
      phase: this.connectedOnce ? "reconnecting" : "connecting",
      attempt: this.state.attempt,
      retryAt: null,
      reason: this.state.reason,
    });
    let socket: WebSocket;
    try {
      socket = new WebSocket(socketUrl(this.buildQuery()));
    } catch (error) {
      this.scheduleReconnect(error instanceof Error ? error.message : "cannot open socket", false);
      return;
    }
    this.socket = socket;
    this.lastFrameAt = Date.now();
    socket.onopen = () => {
      this.connectedOnce = true;
      this.lastFrameAt = Date.now();
      const replaying = this.subscription.replay || this.resuming();
      this.setState({ phase: replaying ? "replaying" : "live", attempt: 0, retryAt: null, reason: null });
      if (!replaying) this.live = true;
      this.startPings();
    };
    socket.onmessage = (message) => this.handleMessage(message.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.clearTimers();
      const reason = describeClose(event.code, event.reason);
      if (FATAL_VIEWER_CLOSE_CODES.includes(event.code)) {
        this.setState({ phase: "closed", attempt: 0, retryAt: null, reason });
        return;
      }
      this.scheduleReconnect(reason, event.code === ViewerCloseCode.lagged);
    };
  }

  private handleMessage(data: unknown): void {
    this.lastFrameAt = Date.now();
    const frame = parseFrame(data);
    if (!frame) return;
    switch (frame.type) {
      case "event": {
        // Already taken in: a replay overlap or a duplicate.
        if (!this.cursors.accept(frame.stream_id, frame.seq)) return;
        this.handlers.onEvent(frame, this.live);
        return;
      }
      case "replayed":
        this.live = true;
        this.setState({ ...this.state, phase: "live" });
        this.handlers.onReplayed?.();
        return;
      case "skipped": {
        // Compact replay passed over superseded deltas: the cursor moves past them.
        const count = this.cursors.pass(frame.stream_id, frame.from_seq, frame.to_seq);
        if (count > 0) this.handlers.onSkipped?.(frame.stream_id, count);
        return;
      }
      case "subscribed":
        if (frame.cursors) this.handlers.onSubscribed?.(frame.cursors);
        if (!this.subscription.replay && !this.resuming()) {
          this.live = true;
          this.setState({ ...this.state, phase: "live" });
        }
        return;
      case "lagged":
        this.reconnectNow("fell behind the live stream; resuming");
        return;
      default:
        return;
    }
  }

  private resuming(): boolean {
    return this.subscription.resume !== false && this.cursors.size > 0;
  }

  private scheduleReconnect(reason: string, immediate: boolean): void {
    if (this.stopped) return;
    this.clearTimers();
    const attempt = immediate ? 0 : this.state.attempt + 1;
    const delay = backoffDelay(attempt, { baseMs: 250, maxMs: MAX_BACKOFF_MS });
    this.setState({ phase: "reconnecting", attempt, retryAt: Date.now() + delay, reason });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  private startPings(): void {
    this.clearPing();
    this.pingTimer = setInterval(() => {
      const socket = this.socket;
      if (!socket || socket.readyState !== WebSocket.OPEN) return;
      if (Date.now() - this.lastFrameAt > SILENCE_LIMIT_MS) {
        this.reconnectNow("the server stopped answering");
        return;
      }
      socket.send(JSON.stringify({ type: "ping" }));
    }, PING_EVERY_MS);
  }

  private dropSocket(): void {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    socket.onclose = null;
    socket.onmessage = null;
    try {
      socket.close(1000, "reconnecting");
    } catch {
      // already closed
    }
  }

  private clearPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  private clearTimers(): void {
    this.clearPing();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    this.handlers.onState(state);
  }
}

function describeClose(code: number, reason: string): string {
  if (reason) return reason;
  if (code === 1006) return "connection lost";
  if (code === ViewerCloseCode.shuttingDown) return "server going away";
  if (code === ViewerCloseCode.lagged) return "fell behind the live stream";
  return `closed (${code})`;
}
