import type { PlannedBlock } from "./plan.ts";
import type { CountTokensRequest } from "./request.ts";

/** Roughly four characters a token, like English text through Claude's tokenizer. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

export function inputTokens(request: CountTokensRequest): number {
  const parts = [JSON.stringify(request.messages)];
  if (request.system !== undefined) parts.push(JSON.stringify(request.system));
  if (request.tools !== undefined) parts.push(JSON.stringify(request.tools));
  return estimateTokens(parts.join(""));
}

export function blockText(block: PlannedBlock): string {
  if (block.type === "thinking") return block.thinking;
  if (block.type === "text") return block.text;
  return JSON.stringify(block.input);
}

export function outputTokens(blocks: readonly PlannedBlock[]): number {
  return blocks.reduce((sum, block) => sum + estimateTokens(blockText(block)), 0);
}

/** Splits text into pieces of about `size` characters, so a stream carries several deltas. */
export function pieces(text: string, size: number): string[] {
  const result: string[] = [];
  for (let start = 0; start < text.length; start += size) {
    result.push(text.slice(start, start + size));
  }
  return result.length ? result : [""];
}
