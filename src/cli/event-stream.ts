import type WebSocket from "ws";
import { backoffDelay } from "../protocol/backoff.ts";
import { FATAL_VIEWER_CLOSE_CODES, ViewerCloseCode } from "../protocol/close-codes.ts";
import type { EventFrame, OmoiClient } from "./client.ts";
import { parseViewerFrame } from "./client.ts";
import { ApiError, CliError } from "./errors.ts";

/*
 * Follows one task's or sandbox's events over the viewer WebSocket, from the start (or
 * from the last `tail` events of each stream), across reconnects: it keeps the last seq
 * seen per stream, reconnects with backoff and `cursors=stream:seq,…`, and drops anything
 * at or below a cursor, so the caller sees every event once, in order. With `compact`,
 * replay passes over streamed deltas whose finished message is stored; the server says
 * which seqs it passed over, so the cursor moves past them and no gap is left unexplained.
 */

export interface FollowTarget {
  entityType: "task" | "sandbox";
  id: string;
}

export interface ReconnectInfo {
  attempt: number;
  delayMs: number;
  reason: string;
}

export interface FollowOptions {
  client: OmoiClient;
  target: FollowTarget;
  onEvent(event: EventFrame): void;
  /** Replay of stored events has caught up with live (after each (re)connect). */
  onReplayed?(): void;
  /** The first connection's start cursors: with `tail`, each stream's history ends there. */
  onStart?(cursors: Record<string, number>): void;
  /** Start with the last N events of each stream instead of the first. */
  tail?: number;
  /** Leave superseded deltas out of replay. */
  compact?: boolean;
  onReconnecting?(info: ReconnectInfo): void;
  onReconnected?(): void;
  /** Abort to stop following; the promise then resolves. */
  signal: AbortSignal;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Without any frame for this long the socket is presumed dead. */
  idleTimeoutMs?: number;
}

/** Resolves when `signal` aborts; rejects on errors reconnecting cannot fix (bad filters, auth). */
export function followEvents(options: FollowOptions): Promise<void> {
  const follower = new Follower(options);
  return follower.run();
}

class Follower {
  private readonly cursors = new Map<string, number>();
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly idleTimeoutMs: number;
  private failures = 0;
  private connectedOnce = false;
  /** The first `subscribed` frame was reported. */
  private started = false;
  /** Gaps already resynced, so a persistent gap cannot loop forever. */
  private readonly resynced = new Set<string>();

  constructor(private readonly options: FollowOptions) {
    this.initialDelayMs = options.initialDelayMs ?? 200;
    this.maxDelayMs = options.maxDelayMs ?? 5_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  }

  async run(): Promise<void> {
    const { signal } = this.options;
    while (!signal.aborted) {
      const outcome = await this.connectOnce();
      if (signal.aborted) return;
      if (outcome.fatal) throw outcome.fatal;
      if (outcome.immediate) continue;
      this.failures++;
      const delayMs = backoffDelay(this.failures, {
        baseMs: this.initialDelayMs,
        maxMs: this.maxDelayMs,
      });
      this.options.onReconnecting?.({ attempt: this.failures, delayMs, reason: outcome.reason });
      await sleep(delayMs, signal);
    }
  }

  private connectOnce(): Promise<{ reason: string; fatal?: Error; immediate?: boolean }> {
    const { client, target, signal } = this.options;
    const { tail, compact } = this.options;
    const socket = client.openViewer({
      entity_types: [target.entityType],
      entity_ids: [target.id],
      ...(tail === undefined ? { since: 0 } : { tail }),
      replay: compact ? "compact" : "full",
      cursors: this.cursors,
    });
    return new Promise((resolve) => {
      let settled = false;
      let immediate = false;
      let fatal: Error | undefined;
      let reason = "connection lost";
      let idleTimer: NodeJS.Timeout | undefined;
      const resetIdle = () => {
        if (idleTimer) clearTimeout(idleTimer);
        idleTimer = setTimeout(() => {
          reason = "no answer from the server";
          socket.send(JSON.stringify({ type: "ping" }));
          idleTimer = setTimeout(() => socket.terminate(), 5_000);
        }, this.idleTimeoutMs);
      };
      const finish = () => {
        if (settled) return;
        settled = true;
        if (idleTimer) clearTimeout(idleTimer);
        signal.removeEventListener("abort", onAbort);
        resolve({ reason, fatal, immediate });
      };
      const onAbort = () => {
        socket.removeAllListeners("message");
        closeQuietly(socket);
        finish();
      };
      signal.addEventListener("abort", onAbort, { once: true });

      socket.on("open", () => {
        resetIdle();
        if (this.connectedOnce && this.failures > 0) this.options.onReconnected?.();
        this.connectedOnce = true;
        this.failures = 0;
      });
      socket.on("ping", resetIdle);
      socket.on("unexpected-response", (_request, response) => {
        const status = response.statusCode ?? 0;
        response.resume();
        if (status === 401 || status === 403) {
          fatal = new ApiError(
            status,
            "Unauthorized",
            "the server refused the event stream: pass --token or set OMOI_API_TOKEN",
          );
        } else if (status >= 400 && status < 500) {
          fatal = new CliError(`the server refused the event stream (HTTP ${status})`, 1);
        } else reason = `HTTP ${status}`;
        socket.terminate();
        finish();
      });
      socket.on("message", (data) => {
        resetIdle();
        const frame = parseViewerFrame(data.toString());
        if (!frame) return;
        if (frame.type === "replayed") this.options.onReplayed?.();
        if (frame.type === "subscribed" && !this.started) {
          this.started = true;
          this.options.onStart?.(frame.cursors);
        }
        if (frame.type === "skipped") {
          const last = this.cursors.get(frame.stream_id) ?? 0;
          if (frame.to_seq > last && frame.from_seq <= last + 1) {
            this.cursors.set(frame.stream_id, frame.to_seq);
          }
        }
        if (frame.type === "lagged") {
          reason = "fell behind";
          immediate = true;
        }
        if (frame.type !== "event") return;
        const event = frame.event;
        const last = this.cursors.get(event.stream_id) ?? 0;
        if (event.seq <= last) return;
        if (event.seq > last + 1) {
          const gap = `${event.stream_id}:${last}`;
          if (!this.resynced.has(gap)) {
            // The server promises no gaps; if one shows, ask again from the cursor.
            this.resynced.add(gap);
            reason = "resync";
            immediate = true;
            socket.removeAllListeners("message");
            closeQuietly(socket);
            return;
          }
        }
        this.cursors.set(event.stream_id, event.seq);
        this.options.onEvent(event);
      });
      socket.on("close", (code, reasonBuffer) => {
        const text = reasonBuffer.toString();
        if (FATAL_VIEWER_CLOSE_CODES.includes(code)) {
          fatal = new CliError(`the server closed the event stream: ${text || `code ${code}`}`, 1);
        } else if (code === ViewerCloseCode.lagged) {
          immediate = true;
        } else if (!immediate && text) reason = text;
        finish();
      });
      socket.on("error", (error) => {
        if (!immediate) reason = describeSocketError(error);
        finish();
      });
    });
  }
}

function describeSocketError(error: Error): string {
  const code = (error as { code?: string }).code;
  if (code === "ECONNREFUSED") return "server not reachable";
  return code ?? error.message;
}

function closeQuietly(socket: WebSocket) {
  socket.on("error", () => {});
  if (socket.readyState === socket.CONNECTING) socket.terminate();
  else socket.close(1000);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
