import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { api } from "./omoi.ts";

/*
 * A long agent session, generated and posted through the REST API as a producer would: the
 * mix of a real run — streamed text (deltas, then the finished message), Bash calls with
 * 30-line results, file diffs, todo lists, and a turn's end every few steps.
 */

export interface GeneratedEvent {
  event_type: string;
  payload: Record<string, unknown>;
}

export interface LongSession {
  sandbox: string;
  /** The stream's last seq (seq 1 is `sandbox.created`). */
  lastSeq: number;
  /** Seqs of the events that become conversation items, in order. */
  itemSeqs: number[];
  /** Text of the session's last message, on screen when it opens. */
  latestText: string;
}

const DELTAS_PER_MESSAGE = 12;
const RESULT_LINES = 30;
/** Events per POST: under the body limit with 30-line results. */
const BATCH = 250;

/** One step of work: a streamed message, a Bash call and its result, sometimes more. */
export function stepEvents(step: number): GeneratedEvent[] {
  const messageId = `msg_${step}`;
  const text = `Step ${step}: checking the build output and fixing what fails next.`;
  const words = text.match(/.{1,6}/g) ?? [text];
  const events: GeneratedEvent[] = [];
  for (let index = 0; index < DELTAS_PER_MESSAGE; index++) {
    const delta = index < words.length ? words[index] : "";
    events.push({
      event_type: "agent.message_delta",
      payload: { delta, message_id: messageId, index: 0 },
    });
  }
  events.push({ event_type: "agent.message", payload: { content: text, message_id: messageId } });
  const toolUseId = `toolu_${step}`;
  events.push({
    event_type: "agent.tool_use",
    payload: {
      tool: "Bash",
      tool_use_id: toolUseId,
      input: { command: `npm test -- --shard ${step}` },
    },
  });
  const output = Array.from(
    { length: RESULT_LINES },
    (_, line) => `ok ${line + 1} - step ${step} case ${line + 1} passes (${(line * 7) % 13} ms)`,
  ).join("\n");
  events.push({
    event_type: "agent.tool_result",
    payload: { tool_use_id: toolUseId, output, is_error: false, tool: "Bash" },
  });
  if (step % 5 === 0) {
    events.push({
      event_type: "agent.file_edited",
      payload: {
        path: `src/module-${step}.ts`,
        diff: `--- a/src/module-${step}.ts\n+++ b/src/module-${step}.ts\n@@ -1,3 +1,3 @@\n export const step = ${step - 1};\n-export const ok = false;\n+export const ok = true;\n`,
      },
    });
  }
  if (step % 10 === 0) {
    events.push({
      event_type: "agent.todo_updated",
      payload: {
        todos: [
          { content: `Fix shard ${step}`, status: "completed" },
          { content: `Fix shard ${step + 1}`, status: "in_progress" },
          { content: "Run the whole suite", status: "pending" },
        ],
      },
    });
  }
  if (step % 20 === 0) {
    events.push({
      event_type: "agent.turn_completed",
      payload: {
        num_turns: 1,
        usage: { input_tokens: 100, output_tokens: 50 },
        cost_usd: step / 1000,
      },
    });
  }
  return events;
}

/**
 * Seqs of the events that become conversation items, for `events` stored from `firstSeq` on.
 * A streamed message is the item of its finished message, however it was received.
 */
export function itemSeqsOf(events: GeneratedEvent[], firstSeq: number): number[] {
  const seqs: number[] = [];
  events.forEach((event, index) => {
    if (ITEM_TYPES.has(event.event_type)) seqs.push(firstSeq + index);
  });
  return seqs;
}

const ITEM_TYPES = new Set([
  "agent.message",
  "agent.tool_use",
  "agent.file_edited",
  "agent.todo_updated",
]);

/** Exactly `count` events of steps, ending with a message that names the last step. */
export function longSessionEvents(count: number): { events: GeneratedEvent[]; latestText: string } {
  const events: GeneratedEvent[] = [];
  let step = 0;
  for (;;) {
    const next = stepEvents(step + 1);
    if (events.length + next.length > count - 1) break;
    events.push(...next);
    step++;
  }
  // Whole steps only; heartbeats (no item of their own) make up the count.
  while (events.length < count - 1) events.push({ event_type: "agent.heartbeat", payload: {} });
  const latestText = `Latest step ${step}: all ${step} shards pass.`;
  events.push({
    event_type: "agent.message",
    payload: { content: latestText, message_id: "msg_last" },
  });
  return { events, latestText };
}

/** Creates an external sandbox and posts a generated session of `count` events into it. */
export async function postLongSession(url: string, count: number): Promise<LongSession> {
  const sandbox = `long-${randomUUID().slice(0, 8)}`;
  const created = await api(url, "POST", "/api/v1/sandboxes", { id: sandbox });
  assert.equal(created.status, 201);
  const { events, latestText } = longSessionEvents(count);
  await postEvents(url, sandbox, events);
  return { sandbox, lastSeq: count + 1, itemSeqs: itemSeqsOf(events, 2), latestText };
}

/** Posts events in batches, one after another, so seqs follow their order. */
export async function postEvents(url: string, sandbox: string, events: GeneratedEvent[]) {
  for (let start = 0; start < events.length; start += BATCH) {
    const posted = await api(
      url,
      "POST",
      `/api/v1/sandboxes/${sandbox}/events`,
      events.slice(start, start + BATCH),
    );
    assert.equal(posted.status, 201, JSON.stringify(posted.body).slice(0, 300));
  }
}
