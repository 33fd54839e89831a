import type { Bus } from "../bus/bus.ts";
import { kindOfRequestEvent, RESOLVED_EVENT_TYPE } from "../protocol/approval-requests.ts";
import { badRequest, conflict, OmoiError } from "../protocol/error.ts";
import {
  type EventDefinition,
  type EventSource,
  MAX_EVENT_PAYLOAD_BYTES,
  type NewEvent,
  type PayloadInputOf,
  type StoredEvent,
} from "../protocol/event.ts";
import {
  type EventOf,
  type RegisteredDefinition,
  validateEventPayload,
} from "../protocol/events.ts";
import { newEventId } from "../protocol/ids.ts";
import type { AppendResult, EventToStore, Store } from "../store/store.ts";

/** Where an event goes: its stream, and the sandbox/task it belongs to. */
export interface EventTarget {
  streamId: string;
  sandboxId: string | null;
  taskId: string | null;
}

/**
 * Store, then publish: the one path every event takes into Omoi. An event is on disk
 * (with its seq) before any viewer hears of it.
 */
export class Ingest {
  /**
   * Runs after events are stored and before anyone hears of them (approval requests become
   * rows here, so a viewer that sees a request can answer it). A failure fails the append,
   * and the producer's resend (same ids) runs it again.
   */
  afterStore: ((results: AppendResult[]) => Promise<void>) | undefined;

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
  ) {}

  /** Validates producer events against the registry. Throws a 4xx OmoiError naming the problem. */
  prepare(target: EventTarget, events: NewEvent[], defaultSource: EventSource): EventToStore[] {
    const now = Date.now();
    return events.map((event, index) => {
      const where = events.length > 1 ? `events[${index}]: ` : "";
      if (defaultSource === "agent") checkProducerEvent(event, where);
      const checked = validateEventPayload(event.event_type, event.payload);
      if (!checked.ok) throw badRequest(`${where}${checked.error}`, { index });
      const size = Buffer.byteLength(JSON.stringify(checked.payload));
      if (size > MAX_EVENT_PAYLOAD_BYTES) {
        throw new OmoiError(
          "PayloadTooLarge",
          `${where}payload is ${size} bytes; the limit is ${MAX_EVENT_PAYLOAD_BYTES} bytes per event`,
          413,
          { limit_bytes: MAX_EVENT_PAYLOAD_BYTES, index },
        );
      }
      return {
        id: event.id ?? newEventId(),
        stream_id: target.streamId,
        sandbox_id: target.sandboxId,
        // A sandbox's events belong to its task; a producer cannot file them under another.
        task_id: target.sandboxId ? target.taskId : (event.task_id ?? target.taskId),
        event_type: event.event_type,
        source: event.source ?? defaultSource,
        payload: checked.payload,
        emitted_at: event.emitted_at ?? now,
      };
    });
  }

  async append(events: EventToStore[]): Promise<AppendResult[]> {
    if (events.length === 0) return [];
    const results = await this.store.appendEvents(events);
    // An id is unique across Omoi: one already used in another stream is a producer's bug.
    const clash = results.find(
      (result, index) => result.duplicate && result.event.stream_id !== events[index].stream_id,
    );
    if (clash) {
      throw conflict(
        `event id ${clash.event.id} is already used by another stream; mint a fresh id per event`,
        {
          id: clash.event.id,
        },
      );
    }
    await this.afterStore?.(results);
    // Duplicates are published again: a retry after a commit whose reply was lost finds its
    // events stored but never published. Viewers drop what they already have (by seq).
    const unique = new Map(results.map((result) => [result.event.id, result.event]));
    await this.publish([...unique.values()]);
    return results;
  }

  /** Publishes stored events: those appended here, or stored along with other rows. */
  async publish(events: StoredEvent[]): Promise<void> {
    // Issued together, in seq order: a networked bus pipelines them on one connection.
    await Promise.all(events.map((event) => this.bus.publish(event)));
  }

  /**
   * Emits one event Omoi itself decided on (lifecycle changes), typed by its definition:
   * `emit(target, TaskStarted, { sandbox_id })`. The payload is still validated, so a
   * value the types cannot see (an over-long string) is refused like a producer's.
   */
  async emit<D extends RegisteredDefinition>(
    target: EventTarget,
    definition: D,
    payload: PayloadInputOf<D>,
    source?: EventSource,
  ): Promise<EventOf<D>>;
  async emit(
    target: EventTarget,
    definition: EventDefinition,
    payload: unknown,
    source: EventSource = "system",
  ): Promise<StoredEvent> {
    const [prepared] = this.prepare(
      target,
      [{ event_type: definition.type, payload: payload as Record<string, unknown> }],
      source,
    );
    const [result] = await this.append([prepared]);
    return result.event;
  }
}

/**
 * Workers and outside producers report what happens in their sandbox: what the agent does
 * (`agent.*`) and how its environment was set up (`environment.*`). Lifecycle and message
 * events are Omoi's own, so a producer cannot forge them.
 */
const PRODUCER_EVENT = /^(agent|environment)\./;

function checkProducerEvent(event: NewEvent, where: string) {
  if (!PRODUCER_EVENT.test(event.event_type)) {
    throw badRequest(
      `${where}event_type '${event.event_type}' is emitted by Omoi itself; producers send agent.* and environment.* events`,
    );
  }
  if (event.source === "system") {
    throw badRequest(`${where}source 'system' is Omoi's own; producers use 'agent' or 'worker'`);
  }
  if (event.event_type === RESOLVED_EVENT_TYPE) {
    throw badRequest(
      `${where}${RESOLVED_EVENT_TYPE} is emitted by Omoi itself when a request is answered`,
    );
  }
  if (kindOfRequestEvent(event.event_type) && event.payload?.request_id !== event.id) {
    throw badRequest(`${where}${event.event_type}: payload.request_id must equal the event's id`);
  }
}

export const sandboxTarget = (sandboxId: string, taskId: string | null): EventTarget => ({
  streamId: sandboxId,
  sandboxId,
  taskId,
});

export const taskTarget = (taskId: string): EventTarget => ({
  streamId: taskId,
  sandboxId: null,
  taskId,
});
