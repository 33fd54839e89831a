import { nodeViewerSocket } from "../client/node-socket.ts";
import type { EventFrame } from "../client/viewer-frame.ts";
import { ViewerStream, type ViewerStreamFailure } from "../client/viewer-stream.ts";
import type { OmoiClient } from "./client.ts";
import { ApiError, CliError } from "./errors.ts";

/*
 * Follows one task's or sandbox's events with the viewer-stream client, from the start (or
 * from the last `tail` events of each stream), across reconnects, so the caller sees every
 * event once, in order. With `compact`, replay passes over streamed deltas whose finished
 * message is stored. Here: what the terminal is told, and which failures end the command.
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
}

/** Resolves when `signal` aborts; rejects on errors reconnecting cannot fix (bad filters, auth). */
export function followEvents(options: FollowOptions): Promise<void> {
  const { client, target, signal } = options;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return resolve();
    let started = false;
    let reconnecting = false;
    const stream = new ViewerStream(
      {
        entityTypes: [target.entityType],
        entityIds: [target.id],
        replay: true,
        tail: options.tail,
        compact: options.compact,
      },
      {
        onEvent: (event) => options.onEvent(event),
        onReplayed: () => options.onReplayed?.(),
        onSubscribed: (cursors) => {
          if (started) return;
          started = true;
          options.onStart?.(cursors);
        },
        onState: (state) => {
          if (state.phase === "reconnecting" && state.retryAt !== null && state.attempt > 0) {
            reconnecting = true;
            const delayMs = Math.max(0, state.retryAt - Date.now());
            options.onReconnecting?.({
              attempt: state.attempt,
              delayMs,
              reason: state.reason ?? "",
            });
          }
          if ((state.phase === "replaying" || state.phase === "live") && reconnecting) {
            reconnecting = false;
            options.onReconnected?.();
          }
        },
        onFailed: (failure) => {
          signal.removeEventListener("abort", onAbort);
          reject(failureError(failure));
        },
      },
      {
        baseUrl: client.serverUrl,
        openSocket: nodeViewerSocket({ token: client.token, handshakeTimeoutMs: client.timeoutMs }),
        backoff: { baseMs: 200, maxMs: 5_000 },
      },
    );
    const onAbort = () => {
      stream.stop();
      resolve();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    stream.start();
  });
}

function failureError(failure: ViewerStreamFailure): Error {
  const { status } = failure;
  if (status === 401 || status === 403) {
    return new ApiError(
      status,
      "Unauthorized",
      "the server refused the event stream: pass --token or set OMOI_API_TOKEN",
    );
  }
  if (status !== undefined)
    return new CliError(`the server refused the event stream (HTTP ${status})`, 1);
  return new CliError(`the server closed the event stream: ${failure.reason}`, 1);
}
