import type { SDKUserMessage } from "@anthropic-ai/claude-agent-sdk";

interface Entry {
  message: SDKUserMessage;
  /** Called when the SDK takes the message from the iterable: the SDK has it. */
  onPulled?: () => void;
}

/**
 * The SDK's prompt in streaming-input mode: an async iterable the worker feeds. The SDK
 * pulls from it as soon as it can and writes each message to the CLI, which folds a
 * message arriving mid-turn into that turn. Pulling is the moment the SDK "has" a
 * message, so that is when `onPulled` fires.
 */
export class InputQueue implements AsyncIterable<SDKUserMessage> {
  private readonly entries: Entry[] = [];
  private waiter: ((result: IteratorResult<SDKUserMessage>) => void) | null = null;
  private closed = false;

  push(message: SDKUserMessage, onPulled?: () => void): void {
    if (this.closed) throw new Error("input closed: the session is ending");
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = null;
      onPulled?.();
      waiter({ value: message, done: false });
      return;
    }
    this.entries.push({ message, onPulled });
  }

  /** Ends the iterable once what is queued has been pulled; the CLI then winds down. */
  close(): void {
    this.closed = true;
    if (this.entries.length === 0 && this.waiter) {
      const waiter = this.waiter;
      this.waiter = null;
      waiter({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<SDKUserMessage> {
    return {
      next: () => {
        const entry = this.entries.shift();
        if (entry) {
          entry.onPulled?.();
          return Promise.resolve({ value: entry.message, done: false });
        }
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
      return: () => {
        this.closed = true;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

export function userMessage(content: string): SDKUserMessage {
  return {
    type: "user",
    message: { role: "user", content },
    parent_tool_use_id: null,
    // Marks the text as a person's input (not a peer's or a tool's); see SDKMessageOrigin.
    origin: { kind: "human" },
  };
}
