import type { StoredEvent } from "../protocol/event.ts";
import { asOmoiEvent, type OmoiEvent } from "../protocol/events.ts";
import type { Unsubscribe } from "./bus.ts";
import type { BusErrorHandler } from "./report.ts";

type Handler = (event: OmoiEvent) => void;

/**
 * The subscriber list both buses share: synchronous delivery to every handler, in
 * subscription order. A handler that throws is reported and does not stop the others.
 */
export class FanOut {
  private readonly handlers = new Set<Handler>();

  constructor(private readonly onError: BusErrorHandler) {}

  add(handler: Handler): Unsubscribe {
    // Wrapped, so subscribing the same function twice gives two independent subscriptions.
    const entry: Handler = (event) => handler(event);
    this.handlers.add(entry);
    return () => {
      this.handlers.delete(entry);
    };
  }

  deliver(stored: StoredEvent): void {
    const event = asOmoiEvent(stored);
    // A handler may unsubscribe (itself or another) while we iterate; Set iteration copes,
    // and handlers removed before their turn are skipped.
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (error) {
        this.onError(error, `bus subscriber threw on ${event.event_type} ${event.id}`);
      }
    }
  }

  clear(): void {
    this.handlers.clear();
  }
}
