import type { StoredEvent } from "../../src/protocol/event.ts";
import { newEventId, newSandboxId } from "../../src/protocol/ids.ts";

let seq = 0;

export function storedEvent(overrides: Partial<StoredEvent> = {}): StoredEvent {
  const sandboxId = newSandboxId();
  return {
    id: newEventId(),
    seq: ++seq,
    stream_id: sandboxId,
    sandbox_id: sandboxId,
    task_id: null,
    event_type: "agent.message",
    source: "agent",
    payload: { content: "hello" },
    emitted_at: 1_700_000_000_000,
    stored_at: 1_700_000_000_001,
    ...overrides,
  };
}

/** A subscriber that records what it gets and lets a test wait for the n-th event. */
export class Collector {
  readonly events: StoredEvent[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  readonly handler = (event: StoredEvent) => {
    this.events.push(event);
    this.waiters = this.waiters.filter((waiter) => {
      if (this.events.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  };

  /** Resolves once `count` events in total have arrived. */
  waitFor(count: number): Promise<void> {
    if (this.events.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  ids(): string[] {
    return this.events.map((event) => event.id);
  }
}
