import type { EventDefinition, StoredEvent } from "../protocol/event.ts";
import { type EventOf, isEvent, type OmoiEvent } from "../protocol/events.ts";

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
  /**
   * Hands the event to this replica's subscribers before it returns, and on its way to the
   * other replicas in call order; it does not wait for them (nor for Redis) to have it.
   */
  publish(event: StoredEvent): Promise<void>;
  /** Every published event, from every replica; switch on `event_type` for a typed payload. */
  subscribe(handler: (event: OmoiEvent) => void): Unsubscribe;
  close(): Promise<void>;
}

/** Subscribes to the events of some definitions only, typed by them. */
export function subscribeTo<const D extends readonly EventDefinition[]>(
  bus: Bus,
  definitions: D,
  handler: (event: EventOf<D[number]>) => void,
): Unsubscribe {
  return bus.subscribe((event) => {
    if (isEvent(event, ...definitions)) handler(event);
  });
}
