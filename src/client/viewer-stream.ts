import { backoffDelay } from "../protocol/backoff.ts";
import { FATAL_VIEWER_CLOSE_CODES, ViewerCloseCode } from "../protocol/close-codes.ts";
import type { Cursors } from "../protocol/viewer.ts";
import { StreamCursors } from "./stream-cursors.ts";
import { type EventFrame, parseViewerFrame, type ViewerQuery, viewerUrl } from "./viewer-frame.ts";

/*
 * The one viewer-stream client: a viewer WebSocket that survives disconnects, used by the
 * web app and the CLI. It keeps the last seq seen per stream (`stream_id` → `seq`, see
 * stream-cursors.ts), drops anything at or below it (so a replay overlap is never shown
 * twice), and on close reconnects with backoff, resuming from those cursors: no gap, no
 * duplicate. Deltas that compact replay passed over are reported (`onSkipped`), so they
 * count as taken in. `lagged` (the frame or the close code) reconnects at once; the fatal
 * close codes and a refused upgrade stop it. Browser-safe: no Node imports, the socket is
 * opened by the function passed in.
 */

/** The part of a WebSocket this client uses: the browser's, or a Node adapter's. */
export interface ViewerSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  /** `status`: the HTTP status of a refused upgrade, where the runtime can tell it. */
  onclose: ((event: { code: number; reason: string; status?: number }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type OpenViewerSocket = (url: string) => ViewerSocket;

const OPEN = 1;

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

/** Why the stream stopped for good: reconnecting with the same query cannot help. */
export interface ViewerStreamFailure {
  reason: string;
  /** The close code, or the HTTP status of a refused upgrade. */
  code?: number;
  status?: number;
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
  onState?: (state: ConnectionState) => void;
  /** Replay has caught up with the live stream. */
  onReplayed?: () => void;
  /** Where each stream starts on this connection (a stream's history ends at its cursor). */
  onSubscribed?: (cursors: Cursors) => void;
  /**
   * Compact replay passed over `count` superseded deltas of a stream (their finished message
   * follows): they are taken in without being shown, exactly as if they had come live.
   */
  onSkipped?: (stream: string, count: number) => void;
  /** The stream stopped for good (bad filters, a refused token). */
  onFailed?: (failure: ViewerStreamFailure) => void;
}

export interface ViewerStreamOptions {
  /** The server, `http(s)://host:port`. */
  baseUrl: string;
  openSocket: OpenViewerSocket;
  /** A token to put in the query (a browser cannot set headers on a WebSocket). */
  token?: () => string | null;
  backoff?: { baseMs: number; maxMs: number };
  /** A ping this often keeps the connection proven alive. */
  pingEveryMs?: number;
  /** Without any frame for this long, the connection is presumed dead and replaced. */
  silenceLimitMs?: number;
}

export class ViewerStream {
  private readonly cursors = new StreamCursors();
  private socket: ViewerSocket | null = null;
  private state: ConnectionState = { phase: "connecting", attempt: 0, retryAt: null, reason: null };
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastFrameAt = 0;
  private live = false;
  private stopped = false;
  private connectedOnce = false;
  /** Gaps already resynced, so a persistent gap cannot loop forever. */
  private readonly resynced = new Set<string>();

  constructor(
    private readonly subscription: StreamSubscription,
    private readonly handlers: StreamHandlers,
    private readonly options: ViewerStreamOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.dropSocket("viewer left");
    this.setState({ phase: "closed", attempt: 0, retryAt: null, reason: null });
  }

  /** Close and reconnect now, resuming from the cursors (used after `lagged`, or by hand). */
  reconnectNow(reason: string): void {
    if (this.stopped) return;
    this.dropSocket("reconnecting");
    this.scheduleReconnect(reason, true);
  }

  getCursors(): Cursors {
    return this.cursors.snapshot();
  }

  getState(): ConnectionState {
    return { ...this.state };
  }

  private query(): ViewerQuery {
    const { entityTypes, entityIds, eventTypes, replay, tail, compact } = this.subscription;
    // since=0 asks for the whole history of the one stream named (tail=N for the last N
    // events of each); streams already held are resumed from their cursor instead.
    const single = replay && entityIds?.length === 1;
    return {
      entityTypes,
      entityIds,
      eventTypes,
      cursors: this.subscription.resume === false ? undefined : this.cursors.snapshot(),
      ...(single ? (tail === undefined ? { since: 0 } : { tail }) : {}),
      compact,
      token: this.options.token?.(),
    };
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
    let socket: ViewerSocket;
    try {
      socket = this.options.openSocket(viewerUrl(this.options.baseUrl, this.query()));
    } catch (error) {
      this.scheduleReconnect(error instanceof Error ? error.message : "cannot open socket", false);
      return;
    }
    this.socket = socket;
    this.lastFrameAt = Date.now();
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.connectedOnce = true;
      this.lastFrameAt = Date.now();
      const replaying = this.subscription.replay || this.resuming();
      this.setState({
        phase: replaying ? "replaying" : "live",
        attempt: 0,
        retryAt: null,
        reason: null,
      });
      if (!replaying) this.live = true;
      this.startPings();
    };
    socket.onmessage = (message) => {
      if (this.socket === socket) this.handleMessage(message.data);
    };
    socket.onerror = () => {};
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.clearTimers();
      const reason = describeClose(event.code, event.reason, event.status);
      if (isFatal(event.code, event.status)) {
        this.stopped = true;
        this.setState({ phase: "closed", attempt: 0, retryAt: null, reason });
        this.handlers.onFailed?.({ reason, code: event.code, status: event.status });
        return;
      }
      this.scheduleReconnect(reason, event.code === ViewerCloseCode.lagged);
    };
  }

  private handleMessage(data: unknown): void {
    this.lastFrameAt = Date.now();
    const frame = parseViewerFrame(data);
    if (!frame) return;
    switch (frame.type) {
      case "event": {
        if (this.gapBefore(frame.stream_id, frame.seq)) return;
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
        if (this.gapBefore(frame.stream_id, frame.from_seq)) return;
        const count = this.cursors.pass(frame.stream_id, frame.from_seq, frame.to_seq);
        if (count > 0) this.handlers.onSkipped?.(frame.stream_id, count);
        return;
      }
      case "subscribed":
        // Where each named stream starts (`since`, or `tail` events before its end): what
        // comes next follows on from there, so a gap after it can be told.
        if (this.subscription.replay) {
          for (const [stream, seq] of Object.entries(frame.cursors))
            this.cursors.start(stream, seq);
        }
        this.handlers.onSubscribed?.(frame.cursors);
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

  /**
   * The server promises no gaps in a stream whose place the viewer knows; if one shows before
   * `seq`, ask again from the cursor, once per gap, so a gap that persists is let through
   * rather than looped on. True when it reconnected.
   */
  private gapBefore(stream: string, seq: number): boolean {
    const last = this.cursors.at(stream);
    if (!this.cursors.has(stream) || seq <= last + 1) return false;
    const gap = `${stream}:${last}`;
    if (this.subscription.resume === false || this.resynced.has(gap)) return false;
    this.resynced.add(gap);
    this.reconnectNow(`a gap after seq ${last}; resuming`);
    return true;
  }

  private resuming(): boolean {
    return this.subscription.resume !== false && this.cursors.size > 0;
  }

  private scheduleReconnect(reason: string, immediate: boolean): void {
    if (this.stopped) return;
    this.clearTimers();
    const attempt = immediate ? 0 : this.state.attempt + 1;
    const delay = backoffDelay(attempt, this.options.backoff ?? { baseMs: 250, maxMs: 10_000 });
    this.setState({ phase: "reconnecting", attempt, retryAt: Date.now() + delay, reason });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  private startPings(): void {
    this.clearPing();
    const every = this.options.pingEveryMs ?? 15_000;
    const silenceLimit = this.options.silenceLimitMs ?? 40_000;
    this.pingTimer = setInterval(() => {
      const socket = this.socket;
      if (!socket || socket.readyState !== OPEN) return;
      if (Date.now() - this.lastFrameAt > silenceLimit) {
        this.reconnectNow("the server stopped answering");
        return;
      }
      socket.send(JSON.stringify({ type: "ping" }));
    }, every);
  }

  private dropSocket(why: string): void {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    socket.onclose = null;
    socket.onmessage = null;
    try {
      socket.close(1000, why);
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
    this.handlers.onState?.(state);
  }
}

/** A refused upgrade (4xx) or a fatal close code: the same query cannot succeed. */
function isFatal(code: number, status: number | undefined): boolean {
  if (status !== undefined && status >= 400 && status < 500) return true;
  return FATAL_VIEWER_CLOSE_CODES.includes(code);
}

function describeClose(code: number, reason: string, status?: number): string {
  if (reason) return reason;
  if (status !== undefined) return `HTTP ${status}`;
  if (code === 1006) return "connection lost";
  if (code === ViewerCloseCode.shuttingDown) return "server going away";
  if (code === ViewerCloseCode.lagged) return "fell behind the live stream";
  return `closed (${code})`;
}
