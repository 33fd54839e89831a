import { ChannelClient } from "./lib/channel-client.ts";
import { createExternalSandbox, expectStatus, field } from "./lib/http.ts";
import type { BenchServer } from "./lib/server.ts";
import { type Summary, summarize } from "./lib/stats.ts";
import { BenchViewer, type ViewerEvent } from "./lib/viewer.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface InjectionResult {
  samples: number;
  /** From sending the POST to the `message` frame arriving on the worker channel. */
  postToWorker: Summary;
  /** Round trip of the POST itself (the 201), for comparison. */
  postRoundTrip: Summary;
}

/**
 * POST /messages → the pushed `message` frame on a connected worker channel, one message at
 * a time with a short pause between them.
 */
export async function injectionRun(
  server: BenchServer,
  options: { messages: number; warmup: number },
): Promise<InjectionResult> {
  const sandbox = await createExternalSandbox(server.url);
  const client = await ChannelClient.connect(server.ws, sandbox, server.token(sandbox));
  const arrivals = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  client.onMessage = (message) => {
    arrivals.set(message.id, message.receivedAt);
    waiters.get(message.id)?.();
  };
  const toWorker: number[] = [];
  const roundTrip: number[] = [];
  for (let index = 0; index < options.warmup + options.messages; index++) {
    const start = performance.now();
    const body = await expectStatus(
      201,
      server.url,
      "POST",
      `/api/v1/sandboxes/${sandbox}/messages`,
      {
        content: `benchmark message ${index}`,
      },
    );
    const responded = performance.now();
    const id = field(body, "message_id");
    if (!arrivals.has(id)) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`message ${id} never arrived`)), 5000);
        waiters.set(id, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    waiters.delete(id);
    if (index >= options.warmup) {
      toWorker.push(arrivals.get(id)! - start);
      roundTrip.push(responded - start);
    }
    await sleep(5);
  }
  client.close();
  return {
    samples: toWorker.length,
    postToWorker: summarize(toWorker),
    postRoundTrip: summarize(roundTrip),
  };
}

export interface SdkInjectionResult {
  samples: number;
  /** POST sent (ms epoch) → `agent.message_injected`.emitted_at (worker clock, same machine). */
  postToInjected: Summary;
  /** POST sent → a viewer receives that `agent.message_injected`. */
  postToViewer: Summary;
}

/** Waits for the first event matching `check` on a viewer that collects everything. */
function collector(viewerEvents: ViewerEvent[]) {
  const waiters: {
    check: (event: ViewerEvent) => boolean;
    resolve: (event: ViewerEvent) => void;
  }[] = [];
  return {
    push(event: ViewerEvent) {
      viewerEvents.push(event);
      for (const waiter of [...waiters]) {
        if (!waiter.check(event)) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    },
    waitFor(check: (event: ViewerEvent) => boolean, what: string, timeoutMs: number) {
      const seen = viewerEvents.find(check);
      if (seen) return Promise.resolve(seen);
      return new Promise<ViewerEvent>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${what}`)),
          timeoutMs,
        );
        waiters.push({
          check,
          resolve: (event) => {
            clearTimeout(timer);
            resolve(event);
          },
        });
      });
    },
  };
}

/**
 * The full path to the real SDK: a task runs the `slow-tool` scenario in a local sandbox;
 * messages are POSTed while its tool runs and afterwards, and each is timed to the worker's
 * `agent.message_injected` (emitted when the SDK pulls the message from its input).
 */
export async function sdkInjectionRun(
  server: BenchServer,
  options: { messages: number },
): Promise<SdkInjectionResult> {
  const task = await expectStatus(201, server.url, "POST", "/api/v1/tasks", {
    prompt: "[scenario:slow-tool] run the slow job",
    title: "benchmark: message injection",
  });
  const taskId = field(task, "id");
  const arrivedAt = new Map<string, number>();
  const events = collector([]);
  const viewer = await BenchViewer.open(server.ws, { entity_ids: taskId, since: "0" }, (event) => {
    if (event.event_type === "agent.message_injected") {
      const id = event.payload.message_id;
      if (typeof id === "string") arrivedAt.set(id, Date.now());
    }
    events.push(event);
  });
  try {
    await events.waitFor(
      (event) => event.event_type === "agent.tool_use",
      "agent.tool_use",
      60_000,
    );
    const toInjected: number[] = [];
    const toViewer: number[] = [];
    for (let index = 0; index < options.messages; index++) {
      const sentAt = Date.now();
      const body = await expectStatus(201, server.url, "POST", `/api/v1/tasks/${taskId}/messages`, {
        content: `benchmark steer ${index}`,
      });
      const id = field(body, "message_id");
      const injected = await events.waitFor(
        (event) => event.event_type === "agent.message_injected" && event.payload.message_id === id,
        `agent.message_injected for message ${index}`,
        30_000,
      );
      toInjected.push(injected.emitted_at - sentAt);
      toViewer.push((arrivedAt.get(id) ?? Number.NaN) - sentAt);
      // Let the agent answer before the next one, so each message meets a live session.
      await sleep(400);
    }
    return {
      samples: toInjected.length,
      postToInjected: summarize(toInjected),
      postToViewer: summarize(toViewer),
    };
  } finally {
    viewer.close();
    await expectStatus(200, server.url, "POST", `/api/v1/tasks/${taskId}/cancel`).catch(
      () => undefined,
    );
  }
}
