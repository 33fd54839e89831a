import type { StoredEvent } from "../protocol/event.ts";
import type { OmoiEvent } from "../protocol/events.ts";
import type { Bus, Unsubscribe } from "./bus.ts";
import { FanOut } from "./fan-out.ts";
import { type BusErrorHandler, logBusError } from "./report.ts";

export interface MemoryBusOptions {
  onError?: BusErrorHandler;
}

/**
 * The embedded bus: one process, no network. `publish` calls every handler before it
 * resolves, so an event reaches viewers without waiting for a tick.
 */
export class MemoryBus implements Bus {
  readonly kind = "memory";
  private readonly fanOut: FanOut;
  private closed = false;

  constructor(options: MemoryBusOptions = {}) {
    this.fanOut = new FanOut(options.onError ?? logBusError);
  }

  async start(): Promise<void> {}

  async publish(event: StoredEvent): Promise<void> {
    if (this.closed) return;
    this.fanOut.deliver(event);
  }

  subscribe(handler: (event: OmoiEvent) => void): Unsubscribe {
    return this.fanOut.add(handler);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.fanOut.clear();
  }
}
