import { randomUUID } from "node:crypto";
import { ChannelClient } from "./lib/channel-client.ts";
import { createExternalSandbox, expectStatus } from "./lib/http.ts";
import { startServer } from "./lib/server.ts";
import { ms, summarize } from "./lib/stats.ts";

/*
 * Approval answers: POST …/permissions/{request_id} → the `answer` frame on the worker
 * channel of the sandbox that asked (the worker resolves `canUseTool` as it reads that frame,
 * in the same tick). One request at a time on the embedded defaults, like message injection.
 * Bar: p99 ≤ 10 ms. Run on its own: `node --import tsx bench/approvals.ts [samples]`.
 */

const BAR_P99_MS = 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function measureApprovals(samples: number) {
  const server = await startServer("embedded");
  try {
    const sandbox = await createExternalSandbox(server.url);
    const client = await ChannelClient.connect(server.ws, sandbox, server.token(sandbox));
    const arrivals = new Map<string, number>();
    const waiters = new Map<string, () => void>();
    client.onAnswer = (answer) => {
      arrivals.set(answer.id, answer.receivedAt);
      waiters.get(answer.id)?.();
    };
    const latencies: number[] = [];
    for (let index = 0; index < samples; index++) {
      const id = randomUUID();
      await client.sendEvents([
        {
          id,
          event_type: "agent.permission_requested",
          source: "agent",
          payload: { request_id: id, tool: "Bash", input: { command: `echo ${index}` } },
          emitted_at: Date.now(),
        },
      ]);
      const arrived = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`answer ${id} never arrived`)), 5000);
        waiters.set(id, () => {
          clearTimeout(timer);
          resolve();
        });
      });
      const start = performance.now();
      await expectStatus(
        200,
        server.url,
        "POST",
        `/api/v1/sandboxes/${sandbox}/permissions/${id}`,
        {
          decision: "allow",
        },
      );
      await arrived;
      waiters.delete(id);
      latencies.push(arrivals.get(id)! - start);
      await sleep(5);
    }
    client.close();
    return summarize(latencies);
  } finally {
    await server.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const samples = Number(process.argv[2] ?? 200);
  const summary = await measureApprovals(samples);
  const verdict = summary.p99 <= BAR_P99_MS ? "meets" : "misses";
  console.log(
    `approval answer POSTed → worker has it (${samples} samples, embedded): p50 ${ms(summary.p50)}, p99 ${ms(summary.p99)} — ${verdict} the bar (p99 ≤ ${BAR_P99_MS} ms)`,
  );
  process.exit(0);
}
