import { randomUUID } from "node:crypto";
import { latencyFigures } from "./floors.ts";
import { ChannelClient } from "./lib/channel-client.ts";
import { apiClient, createExternalSandbox, expectStatus, field, request } from "./lib/http.ts";
import type { Figures } from "./lib/rounds.ts";
import type { BenchServer } from "./lib/server.ts";
import { type Summary, summarize } from "./lib/stats.ts";
import { BenchViewer, type ViewerEvent } from "./lib/viewer.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * POST /messages → the pushed `message` frame on a connected worker channel, one message at
 * a time with a short pause between them, on one sandbox kept open across windows.
 */
export async function openInjectionProbe(server: BenchServer) {
  const sandbox = await createExternalSandbox(server.url);
  const client = await ChannelClient.connect(server.ws, sandbox, server.token(sandbox));
  const arrivals = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  client.onMessage = (message) => {
    arrivals.set(message.id, message.receivedAt);
    waiters.get(message.id)?.();
  };
  let index = 0;
  return {
    async window(messages: number): Promise<Figures> {
      const toWorker: number[] = [];
      const roundTrip: number[] = [];
      for (let count = 0; count < messages; count++) {
        const start = performance.now();
        const body = await expectStatus(
          201,
          server.url,
          "POST",
          `/api/v1/sandboxes/${sandbox}/messages`,
          { content: `benchmark message ${index++}` },
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
        toWorker.push(arrivals.get(id)! - start);
        arrivals.delete(id);
        roundTrip.push(responded - start);
        await sleep(5);
      }
      const post = summarize(roundTrip);
      return { ...latencyFigures(toWorker), postP50: post.p50, postP99: post.p99 };
    },
    close() {
      client.close();
    },
  };
}

/**
 * The seed prototype's delivery: a worker polls GET /messages every `intervalMs` (500 ms in
 * the prototype). `sandboxes` pollers run at staggered phases; each window posts one message
 * to each sandbox at a random moment and times POST sent → the poll that returns it.
 */
export async function openSeedPollProbe(
  server: BenchServer,
  options: { sandboxes: number; intervalMs: number },
) {
  const sandboxes = await Promise.all(
    Array.from({ length: options.sandboxes }, () => createExternalSandbox(server.url)),
  );
  const sentAt = new Map<string, number>();
  const samples: number[] = [];
  let running = true;
  const poll = async (sandbox: string, phase: number) => {
    await sleep(phase);
    while (running) {
      const next = performance.now() + options.intervalMs;
      const response = await request(server.url, "GET", `/api/v1/sandboxes/${sandbox}/messages`);
      const at = performance.now();
      if (response.status !== 200) throw new Error(`poll: ${response.status}`);
      for (const message of Array.isArray(response.body) ? response.body : []) {
        // Keyed by content: the poll may return a message before its POST's 201 arrives.
        const content = (message as { content?: unknown }).content;
        const sent = typeof content === "string" ? sentAt.get(content) : undefined;
        if (sent === undefined) continue;
        sentAt.delete(content as string);
        samples.push(at - sent);
      }
      await sleep(Math.max(0, next - performance.now()));
    }
  };
  const pollers = sandboxes.map((sandbox, index) =>
    poll(sandbox, (index * options.intervalMs) / sandboxes.length),
  );
  return {
    async window(): Promise<Figures> {
      samples.length = 0;
      await Promise.all(
        sandboxes.map(async (sandbox, index) => {
          await sleep(Math.random() * options.intervalMs);
          const content = `seed poll ${index} ${randomUUID()}`;
          sentAt.set(content, performance.now());
          await expectStatus(201, server.url, "POST", `/api/v1/sandboxes/${sandbox}/messages`, {
            content,
          });
        }),
      );
      const deadline = performance.now() + 10_000;
      while (sentAt.size > 0 && performance.now() < deadline) await sleep(10);
      return latencyFigures(samples);
    },
    async close() {
      running = false;
      await Promise.all(pollers);
    },
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
  const { id: taskId } = await apiClient(server.url).createTask({
    prompt: "[scenario:slow-tool] run the slow job",
    title: "benchmark: message injection",
  });
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
