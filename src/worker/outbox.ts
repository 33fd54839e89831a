import type { OutgoingEvent } from "./agent-event.ts";

/**
 * Events waiting for the server's acknowledgement, in emit order. Each event is either
 * unsent or in flight; a reconnect puts every in-flight event back to unsent, so the
 * next connection resends them in the original order with the original ids.
 */
export class Outbox {
  private readonly events = new Map<string, OutgoingEvent>();
  private readonly inFlight = new Set<string>();
  private drainedWaiters: Array<() => void> = [];

  add(event: OutgoingEvent): void {
    this.events.set(event.id, event);
  }

  /** The next unsent events, oldest first, now marked in flight. */
  takeBatch(max: number): OutgoingEvent[] {
    const batch: OutgoingEvent[] = [];
    for (const [id, event] of this.events) {
      if (this.inFlight.has(id)) continue;
      this.inFlight.add(id);
      batch.push(event);
      if (batch.length >= max) break;
    }
    return batch;
  }

  hasUnsent(): boolean {
    return this.events.size > this.inFlight.size;
  }

  acknowledge(ids: readonly string[]): void {
    for (const id of ids) {
      this.events.delete(id);
      this.inFlight.delete(id);
    }
    if (this.events.size === 0) this.notifyDrained();
  }

  /** A batch the server did not take (nack, failed POST): its events go back to unsent. */
  release(ids: readonly string[]): void {
    for (const id of ids) this.inFlight.delete(id);
  }

  /** After a disconnect nothing is in flight any more. */
  releaseAll(): void {
    this.inFlight.clear();
  }

  size(): number {
    return this.events.size;
  }

  /** Resolves when the outbox is empty. */
  drained(): Promise<void> {
    if (this.events.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainedWaiters.push(resolve));
  }

  private notifyDrained() {
    const waiters = this.drainedWaiters;
    this.drainedWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Resolves true when `promise` settles first, false when the timeout does. */
export async function within(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
