import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EventDefinition } from "../../src/protocol/event.ts";
import * as events from "../../src/protocol/events.ts";
import {
  AgentToolUse,
  EventRegistry,
  isEvent,
  type OmoiEvent,
  TaskFailed,
  validateEventPayload,
} from "../../src/protocol/events.ts";

const isDefinition = (value: unknown): value is EventDefinition =>
  typeof value === "object" &&
  value !== null &&
  "type" in value &&
  "payload" in value &&
  "description" in value;

describe("the event registry", () => {
  it("lists every event definition, under its own type", () => {
    const defined = (Object.values(events) as unknown[]).filter(isDefinition);
    assert.ok(defined.length >= 30);
    for (const definition of defined) {
      assert.equal(
        EventRegistry[definition.type as keyof typeof EventRegistry],
        definition,
        `${definition.type} is defined but not in EventRegistry`,
      );
    }
    assert.equal(Object.keys(EventRegistry).length, defined.length);
  });

  it("validates payloads by type, keeps extra fields and refuses unknown types", () => {
    const ok = validateEventPayload("agent.tool_use", { tool: "Bash", extra: 1 });
    assert.deepEqual(ok, { ok: true, payload: { tool: "Bash", extra: 1 } });
    const bad = validateEventPayload("agent.tool_use", { tool: 7 });
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.error : "", /^agent\.tool_use: payload\.tool: /);
    const unknown = validateEventPayload("agent.teleported", {});
    assert.deepEqual(unknown, { ok: false, error: "unknown event_type 'agent.teleported'" });
    // Object's own names are not event types.
    assert.equal(validateEventPayload("constructor", {}).ok, false);
  });

  it("narrows the union of every event by definition", () => {
    const event = {
      id: "e1",
      seq: 1,
      stream_id: "sbx_1",
      sandbox_id: "sbx_1",
      task_id: null,
      event_type: "task.failed",
      source: "system",
      payload: { error: "boom", will_retry: true },
      emitted_at: 1,
      stored_at: 1,
    } satisfies OmoiEvent;
    const asUnion: OmoiEvent = event;
    assert.equal(isEvent(asUnion, AgentToolUse), false);
    assert.equal(isEvent(asUnion, AgentToolUse, TaskFailed), true);
    if (isEvent(asUnion, TaskFailed)) assert.equal(asUnion.payload.will_retry, true);
  });
});
