import type { WebSocket } from "ws";
import type { Bus, Unsubscribe } from "../bus/bus.ts";
import type { Logger } from "../log/logger.ts";
import { type StoredEvent, toEventFrame } from "../protocol/event.ts";
import { formatIssues, parseAtEdgeWith } from "../protocol/json.ts";
import {
  type Cursors,
  type ReplayMode,
  ViewerClientFrame,
  ViewerCloseCode,
  type ViewerFilters,
  ViewerQuery,
  type ViewerServerFrame,
} from "../protocol/viewer.ts";
import type { Store } from "../store/store.ts";
import { supersededDeltas } from "./superseded-deltas.ts";

export interface ViewerHubOptions {
  /** A viewer whose socket buffers more than this is told it lagged and is closed. */
  maxBufferedBytes: number;
  pingIntervalMs: number;
}

const FILL_PAGE = 1000;
/** Live events held for one stream while its replay catches up, before the viewer is lagged. */
const MAX_HELD_EVENTS = 20_000;
const frameCache = new WeakMap<StoredEvent, string>();

function serialize(event: StoredEvent): string {
  let text = frameCache.get(event);
  if (!text) {
    text = JSON.stringify(toEventFrame(event));
    frameCache.set(event, text);
  }
  return text;
}

export function matchesEventType(patterns: readonly string[] | undefined, type: string): boolean {
  if (!patterns || patterns.length === 0) return true;
  return patterns.some((pattern) =>
    pattern === "*"
      ? true
      : pattern.endsWith(".*")
        ? type.startsWith(pattern.slice(0, -1))
        : pattern === type,
  );
}

/** Does the event's stream fall under the viewer's entity filters? */
function matchesEntity(filters: ViewerFilters, event: StoredEvent): boolean {
  const types = filters.entity_types;
  const wantsSandbox = !types || types.length === 0 || types.includes("sandbox");
  const wantsTask = !types || types.length === 0 || types.includes("task");
  const ids = filters.entity_ids;
  if (!ids || ids.length === 0) {
    return (wantsSandbox && event.sandbox_id !== null) || (wantsTask && event.task_id !== null);
  }
  if (wantsSandbox && event.sandbox_id !== null && ids.includes(event.sandbox_id)) return true;
  if (wantsTask && event.task_id !== null && ids.includes(event.task_id)) return true;
  return ids.includes(event.stream_id) && (wantsTask || event.sandbox_id !== null);
}

interface StreamState {
  /** Highest seq the viewer has been brought past (sent, or skipped by its type filter). */
  last: number;
  pending: Map<number, StoredEvent>;
  filling: boolean;
  /** First seq of a run of superseded deltas passed over and not yet announced. */
  skippedFrom?: number;
}

/** Where a subscription starts and how it replays. */
export interface SubscribeStart {
  since?: number;
  /** The last N events of each named entity's streams. */
  tail?: number;
  cursors?: Cursors;
  replay?: ReplayMode;
}

/**
 * One viewer socket. Per stream it delivers events in seq order with no gap and no
 * duplicate: live events that arrive ahead of the cursor are held while the missing
 * ones are read from the store, which also gives a gap-free replay-then-live handover.
 */
class ViewerConnection {
  private filters: ViewerFilters = {};
  /** With history, streams first seen live are replayed from seq 1. */
  private history = false;
  /** Replay passes over superseded deltas (see superseded-deltas.ts). */
  private compact = false;
  private streams = new Map<string, StreamState>();
  private generation = 0;
  private closed = false;
  /** Live events that arrive while a subscription is being set up, offered once it is. */
  private early: StoredEvent[] | undefined = [];
  alive = true;

  constructor(
    readonly socket: WebSocket,
    private readonly store: Store,
    private readonly options: ViewerHubOptions,
    private readonly logger: Logger,
  ) {}

  async subscribe(filters: ViewerFilters, { since, tail, cursors, replay }: SubscribeStart) {
    const generation = ++this.generation;
    this.early ??= [];
    const start: Cursors = { ...(cursors ?? {}) };
    // With `since` or `tail`, or live only (no cursors either), the named entities' streams
    // start here (a stream with a cursor resumes from it): from `since`; `tail` events before
    // their end now; live only, from their end now, so every later event arrives in order.
    const namedStart = since !== undefined || tail !== undefined || cursors === undefined;
    const wantsTask = !filters.entity_types?.length || filters.entity_types.includes("task");
    for (const id of namedStart ? (filters.entity_ids ?? []) : []) {
      const streams = wantsTask ? await this.store.listTaskStreams(id) : [];
      for (const stream of streams.length ? streams : [id]) {
        if (start[stream] !== undefined) continue;
        if (since !== undefined) start[stream] = since;
        else {
          const last = await this.store.lastSeq(stream);
          start[stream] = tail === undefined ? last : Math.max(0, last - tail);
        }
      }
    }
    if (generation !== this.generation) return;
    this.filters = filters;
    this.compact = replay === "compact";
    this.history = since !== undefined || tail !== undefined || cursors !== undefined;
    this.streams = new Map();
    this.send({ type: "subscribed", filters, cursors: start });
    const fills: Promise<void>[] = [];
    for (const [stream, seq] of Object.entries(start)) {
      const state: StreamState = { last: seq, pending: new Map(), filling: false };
      this.streams.set(stream, state);
      fills.push(this.fill(stream, state, generation));
    }
    const early = this.early ?? [];
    this.early = undefined;
    for (const event of early) this.onLive(event);
    await Promise.all(fills);
    if (generation === this.generation) this.send({ type: "replayed", cursors: this.cursors() });
  }

  onLive(event: StoredEvent) {
    if (this.early) {
      this.early.push(event);
      return;
    }
    if (this.closed || !matchesEntity(this.filters, event)) return;
    let state = this.streams.get(event.stream_id);
    if (!state) {
      state = { last: this.history ? 0 : event.seq - 1, pending: new Map(), filling: false };
      this.streams.set(event.stream_id, state);
    }
    this.offer(event.stream_id, state, event);
  }

  private offer(stream: string, state: StreamState, event: StoredEvent) {
    if (event.seq <= state.last) return;
    if (state.filling || event.seq > state.last + 1) {
      state.pending.set(event.seq, event);
      if (state.pending.size > MAX_HELD_EVENTS) return this.lagged();
      if (!state.filling) void this.fill(stream, state, this.generation);
      return;
    }
    this.deliver(state, event);
    this.drain(stream, state);
  }

  /** Live delivery lags a viewer that cannot keep up; replay instead waits for it (see fill). */
  private deliver(state: StreamState, event: StoredEvent, replaying = false) {
    state.last = event.seq;
    if (!matchesEventType(this.filters.event_types, event.event_type)) return;
    if (this.closed) return;
    this.socket.send(serialize(event));
    if (!replaying && this.socket.bufferedAmount > this.options.maxBufferedBytes) this.lagged();
  }

  private async drained() {
    const low = this.options.maxBufferedBytes / 4;
    while (!this.closed && this.socket.bufferedAmount > low) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  private drain(stream: string, state: StreamState, afterFill = false) {
    while (state.pending.size > 0 && !this.closed) {
      const next = state.pending.get(state.last + 1);
      if (next) {
        state.pending.delete(next.seq);
        this.deliver(state, next);
        continue;
      }
      for (const seq of state.pending.keys()) if (seq <= state.last) state.pending.delete(seq);
      if (state.pending.size === 0) return;
      // A gap the store could not fill yet (a commit not visible here yet): retry shortly.
      const generation = this.generation;
      if (afterFill) setTimeout(() => void this.fill(stream, state, generation), 20).unref();
      else void this.fill(stream, state, generation);
      return;
    }
  }

  /** Reads from the store everything after the stream's cursor, then drains held live events. */
  private async fill(stream: string, state: StreamState, generation: number) {
    if (state.filling) return;
    state.filling = true;
    try {
      for (;;) {
        const page = await this.store.listEvents(stream, {
          afterSeq: state.last,
          limit: FILL_PAGE,
        });
        if (generation !== this.generation || this.closed) return;
        const superseded = this.compact ? await supersededDeltas(this.store, page) : undefined;
        if (generation !== this.generation || this.closed) return;
        for (const event of page) {
          if (event.seq !== state.last + 1) continue;
          if (superseded?.has(event.seq)) {
            state.skippedFrom ??= event.seq;
            state.last = event.seq;
            continue;
          }
          this.announceSkipped(stream, state);
          this.deliver(state, event, true);
          if (this.socket.bufferedAmount > this.options.maxBufferedBytes / 2) await this.drained();
          if (generation !== this.generation || this.closed) return;
        }
        this.announceSkipped(stream, state);
        if (state.pending.size > MAX_HELD_EVENTS) return this.lagged();
        if (page.length < FILL_PAGE) break;
      }
    } catch (error) {
      this.logger.error({ err: error, stream }, "viewer replay failed");
      this.sendError("ReplayFailed", "could not read stored events; reconnect with your cursors");
      this.socket.close(1011, "replay failed");
      return;
    } finally {
      state.filling = false;
    }
    this.drain(stream, state, true);
  }

  /** Tells the viewer which seqs compact replay passed over, so it sees no unexplained gap. */
  private announceSkipped(stream: string, state: StreamState) {
    if (state.skippedFrom === undefined) return;
    this.send({
      type: "skipped",
      stream_id: stream,
      from_seq: state.skippedFrom,
      to_seq: state.last,
    });
    state.skippedFrom = undefined;
  }

  /** Reads from the store whatever each stream may have missed (a bus reconnect). */
  refill() {
    if (this.closed || this.early) return;
    for (const [stream, state] of this.streams) {
      if (!state.filling) void this.fill(stream, state, this.generation);
    }
  }

  cursors(): Cursors {
    return Object.fromEntries([...this.streams].map(([stream, state]) => [stream, state.last]));
  }

  private lagged() {
    if (this.closed) return;
    const cursors = this.cursors();
    this.send({
      type: "lagged",
      message: "this viewer fell too far behind; reconnect with these cursors to resume",
      cursors,
    });
    this.close(ViewerCloseCode.lagged, "viewer fell behind; reconnect with cursors");
  }

  send(frame: ViewerServerFrame) {
    if (!this.closed) this.socket.send(JSON.stringify(frame));
  }

  sendError(name: string, message: string) {
    this.send({ type: "error", error: { name, message } });
  }

  close(code: number, reason: string) {
    if (this.closed) return;
    this.closed = true;
    this.socket.close(code, reason.slice(0, 120));
  }

  markClosed() {
    this.closed = true;
  }
}

/** Why a start position cannot be served, or undefined when it can. */
function checkStart(
  filters: ViewerFilters,
  since: number | undefined,
  tail: number | undefined,
): string | undefined {
  if (since !== undefined && tail !== undefined) return "use either since or tail, not both";
  if (filters.entity_ids?.length) return undefined;
  if (since !== undefined) return "since needs entity_ids (or use cursors=stream:seq)";
  if (tail !== undefined) return "tail needs entity_ids";
  return undefined;
}

/** Fans stored events out to viewer WebSockets, with filters, replay and backpressure. */
export class ViewerHub {
  private readonly connections = new Set<ViewerConnection>();
  private unsubscribe: Unsubscribe | undefined;
  private pinger: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly logger: Logger,
    private readonly options: ViewerHubOptions = {
      maxBufferedBytes: 8 * 1024 * 1024,
      pingIntervalMs: 25_000,
    },
  ) {}

  start() {
    this.unsubscribe = this.bus.subscribe((event) => {
      for (const connection of this.connections) connection.onLive(event);
    });
    this.pinger = setInterval(() => {
      for (const connection of this.connections) {
        if (!connection.alive) {
          connection.socket.terminate();
          continue;
        }
        connection.alive = false;
        connection.socket.ping();
      }
    }, this.options.pingIntervalMs);
    this.pinger.unref();
  }

  get size() {
    return this.connections.size;
  }

  /** The bus may have dropped events while reconnecting: every viewer catches up from the store. */
  refill() {
    for (const connection of this.connections) connection.refill();
  }

  attach(socket: WebSocket, query: unknown) {
    const parsed = ViewerQuery.safeParse(query ?? {});
    if (!parsed.success) {
      socket.close(
        ViewerCloseCode.badRequest,
        `bad filters: ${formatIssues(parsed.error.issues)}`.slice(0, 120),
      );
      return;
    }
    const { since, tail, cursors, replay, token: _token, ...filters } = parsed.data;
    const startProblem = checkStart(filters, since, tail);
    if (startProblem) {
      socket.close(ViewerCloseCode.badRequest, startProblem);
      return;
    }
    const connection = new ViewerConnection(socket, this.store, this.options, this.logger);
    this.connections.add(connection);
    socket.on("pong", () => {
      connection.alive = true;
    });
    socket.on("close", () => {
      connection.markClosed();
      this.connections.delete(connection);
    });
    socket.on("error", () => socket.terminate());
    socket.on("message", (data, isBinary) => {
      if (isBinary) return connection.sendError("BadFrame", "send JSON text frames");
      const frame = parseAtEdgeWith(ViewerClientFrame, data.toString());
      if (!frame.ok) return connection.sendError("BadFrame", frame.error);
      const value = frame.value;
      if (value.type === "ping") {
        connection.send({ type: "pong", id: value.id, server_time: Date.now() });
        return;
      }
      const { type: _type, since: frameSince, tail: frameTail, ...rest } = value;
      const { cursors: frameCursors, replay: frameReplay, ...frameFilters } = rest;
      const problem = checkStart(frameFilters, frameSince, frameTail);
      if (problem) return connection.sendError("BadFrame", problem);
      const start = {
        since: frameSince,
        tail: frameTail,
        cursors: frameCursors,
        replay: frameReplay,
      };
      void connection.subscribe(frameFilters, start).catch((error) => {
        this.logger.error({ err: error }, "viewer subscribe failed");
        connection.close(1011, "subscribe failed");
      });
    });
    void connection.subscribe(filters, { since, tail, cursors, replay }).catch((error) => {
      this.logger.error({ err: error }, "viewer subscribe failed");
      connection.close(1011, "subscribe failed");
    });
  }

  close() {
    this.unsubscribe?.();
    if (this.pinger) clearInterval(this.pinger);
    for (const connection of this.connections)
      connection.close(ViewerCloseCode.shuttingDown, "server shutting down");
    this.connections.clear();
  }
}
