import type { ServerResponse } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import type { Plan, PlannedBlock } from "./plan.ts";
import { estimateTokens, outputTokens, pieces } from "./tokens.ts";

/** Identity of one response. */
export interface ResponseMeta {
  id: string;
  model: string;
  inputTokens: number;
  requestId: string;
}

const textPieceChars = 12;
const jsonPieceChars = 48;

function usage(inputTokens: number, output: number) {
  return {
    input_tokens: inputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: output,
  };
}

/** The content block as it appears in a finished message. */
export function finishedBlock(block: PlannedBlock): Record<string, unknown> {
  return { ...block };
}

/** A whole non-streaming Messages response. */
export function messageBody(plan: Plan, meta: ResponseMeta): Record<string, unknown> {
  return {
    id: meta.id,
    type: "message",
    role: "assistant",
    model: meta.model,
    content: plan.blocks.map(finishedBlock),
    stop_reason: plan.stopReason,
    stop_sequence: null,
    usage: usage(meta.inputTokens, outputTokens(plan.blocks)),
  };
}

async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return;
  await delay(ms, undefined, { signal }).catch(() => undefined);
}

function startOf(block: PlannedBlock): Record<string, unknown> {
  if (block.type === "thinking") return { type: "thinking", thinking: "", signature: "" };
  if (block.type === "text") return { type: "text", text: "" };
  return { type: "tool_use", id: block.id, name: block.name, input: {} };
}

function deltasOf(block: PlannedBlock): Array<{ delta: Record<string, unknown>; text: string }> {
  if (block.type === "thinking") {
    const parts = pieces(block.thinking, textPieceChars).map((text) => ({
      delta: { type: "thinking_delta", thinking: text },
      text,
    }));
    return [...parts, { delta: { type: "signature_delta", signature: block.signature }, text: "" }];
  }
  if (block.type === "text") {
    return pieces(block.text, textPieceChars).map((text) => ({
      delta: { type: "text_delta", text },
      text,
    }));
  }
  const json = JSON.stringify(block.input);
  return ["", ...pieces(json, jsonPieceChars)].map((text) => ({
    delta: { type: "input_json_delta", partial_json: text },
    text,
  }));
}

/**
 * Streams a plan as Anthropic server-sent events, paced like a model. Stops quietly when
 * the client goes away (signal aborts). With `plan.fail.drop` it cuts the connection mid-text.
 */
export async function streamPlan(
  res: ServerResponse,
  plan: Plan,
  meta: ResponseMeta,
  signal: AbortSignal,
): Promise<void> {
  const send = (event: string, data: Record<string, unknown>): void => {
    if (signal.aborted || res.destroyed) return;
    res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
  };
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "request-id": meta.requestId,
  });
  const message = { ...messageBody(plan, meta), content: [], stop_reason: null };
  send("message_start", { message: { ...message, usage: usage(meta.inputTokens, 1) } });
  send("ping", {});
  await pause(plan.pace.firstTokenMs, signal);
  if (plan.fail?.drop) {
    send("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
    send("content_block_delta", { index: 0, delta: { type: "text_delta", text: "I was abou" } });
    // Let what was written reach the client first, so it sees a stream that breaks off.
    await new Promise<void>((resolve) => res.write("", () => resolve()));
    res.destroy();
    return;
  }
  const msPerToken = plan.pace.tokensPerSecond > 0 ? 1000 / plan.pace.tokensPerSecond : 0;
  for (const [index, block] of plan.blocks.entries()) {
    send("content_block_start", { index, content_block: startOf(block) });
    for (const { delta, text } of deltasOf(block)) {
      send("content_block_delta", { index, delta });
      if (text) await pause(msPerToken * estimateTokens(text), signal);
    }
    send("content_block_stop", { index });
  }
  const output = outputTokens(plan.blocks);
  send("message_delta", {
    delta: { stop_reason: plan.stopReason, stop_sequence: null },
    usage: usage(meta.inputTokens, output),
  });
  send("message_stop", {});
  if (!res.destroyed) res.end();
}
