import type { StoredEvent } from "../protocol/event.ts";

export type Unsubscribe = () => void;

/**
 * Publish/subscribe of stored events. Implemented in-process (embedded) and on Redis
 * pub/sub (scaled out); both pass `test/bus/conformance.ts`.
 *
 * Delivery is at-most-once and best-effort in order per publisher; consumers that need
 * every event (the viewer hub) fill gaps from the store by seq.
 */
export interface Bus {
  readonly kind: "memory" | "redis";
  /** Connects; resolves when subscriptions will receive what is published after it. */
  start(): Promise<void>;
  publish(event: StoredEvent): Promise<void>;
  /** Every published event, from every replica. */
  subscribe(handler: (event: StoredEvent) => void): Unsubscribe;
  close(): Promise<void>;
}
