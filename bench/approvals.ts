import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { safeJsonParse } from "../src/protocol/json.ts";
import { latencyFigures } from "./floors.ts";
import { ChannelClient } from "./lib/channel-client.ts";
import { apiClient, createExternalSandbox, expectStatus } from "./lib/http.ts";
import type { Figures } from "./lib/rounds.ts";
import type { BenchServer } from "./lib/server.ts";
import { BenchViewer, type ViewerEvent } from "./lib/viewer.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Now as ms epoch with sub-ms resolution; the worker stamps `resolved_at` the same way. */
const epochNow = () => performance.timeOrigin + performance.now();

/**
 * The server's half of an answer: POST …/permissions/{request_id} → the `answer` frame on the
 * worker channel of the sandbox that asked (the benchmark's channel client plays the worker).
 * One request at a time, on one sandbox kept open across windows.
 */
export async function openApprovalChannelProbe(server: BenchServer) {
  const sandbox = await createExternalSandbox(server.url);
  const client = await ChannelClient.connect(server.ws, sandbox, server.token(sandbox));
  const arrivals = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  client.onAnswer = (answer) => {
    arrivals.set(answer.id, answer.receivedAt);
    waiters.get(answer.id)?.();
  };
  let index = 0;
  return {
    async window(answers: number): Promise<Figures> {
      const latencies: number[] = [];
      for (let count = 0; count < answers; count++) {
        const id = randomUUID();
        await client.sendEvents([
          {
            id,
            event_type: "agent.permission_requested",
            source: "agent",
            payload: { request_id: id, tool: "Bash", input: { command: `echo ${index++}` } },
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
        arrivals.delete(id);
        await sleep(5);
      }
      return latencyFigures(latencies);
    },
    close() {
      client.close();
    },
  };
}

/** `permission_resolved` marks in a worker's log: request id → `resolved_at` (ms epoch). */
function resolvedMarks(server: BenchServer, sandboxId: string): Map<string, number> {
  const marks = new Map<string, number>();
  const file = path.join(server.dataDir, "sandbox-state", sandboxId, "worker.log");
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.includes('"permission_resolved"')) continue;
    const parsed = safeJsonParse(line);
    if (!parsed.ok || typeof parsed.value !== "object" || parsed.value === null) continue;
    const entry = parsed.value as Record<string, unknown>;
    if (typeof entry.requestId === "string" && typeof entry.resolved_at === "number")
      marks.set(entry.requestId, entry.resolved_at);
  }
  return marks;
}

/**
 * The whole path to the real SDK: a task runs the `permission` scenario in `default` mode in
 * a local sandbox with the real SDK and CLI; each sample asks the agent (a follow-up message)
 * to run a command it needs a permission for, and times the answer's POST to the moment the
 * worker's `canUseTool` promise resolves (the worker logs `resolved_at` there). One request
 * at a time; the sandbox stays open between turns, so each answer meets a live session.
 */
export async function openSdkApprovalProbe(server: BenchServer) {
  const { id: taskId } = await apiClient(server.url).createTask({
    prompt: "[scenario:permission] benchmark approvals",
    title: "benchmark: approval answers",
    permission_mode: "default",
  });
  const events: ViewerEvent[] = [];
  const waiters: { check: () => boolean; resolve: () => void }[] = [];
  const viewer = await BenchViewer.open(server.ws, { entity_ids: taskId, since: "0" }, (event) => {
    events.push(event);
    for (const waiter of [...waiters]) {
      if (!waiter.check()) continue;
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  const ofType = (type: string) => events.filter((event) => event.event_type === type);
  const waitFor = (check: () => boolean, what: string) => {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 60_000);
      waiters.push({
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  };
  const request = async (index: number) => {
    await waitFor(
      () => ofType("agent.permission_requested").length > index,
      `permission request #${index + 1}`,
    );
    return ofType("agent.permission_requested")[index];
  };
  const turnEnded = (count: number) =>
    waitFor(() => ofType("agent.waiting").length >= count, `turn ${count} to end`);
  /** Answers request `index`; returns its id and when the POST was sent (ms epoch). */
  const answer = async (index: number) => {
    const asked = await request(index);
    const sentAt = epochNow();
    await expectStatus(
      200,
      server.url,
      "POST",
      `/api/v1/sandboxes/${asked.stream_id}/permissions/${asked.id}`,
      { decision: "allow" },
    );
    return { id: asked.id, sandboxId: asked.stream_id, sentAt };
  };

  // The scenario's own two requests start the session (unrecorded).
  await answer(0);
  await answer(1);
  await turnEnded(1);
  let asked = 2;
  let turns = 1;
  return {
    async window(samples: number): Promise<Figures> {
      const sent: { id: string; sandboxId: string; sentAt: number }[] = [];
      for (let count = 0; count < samples; count++) {
        await expectStatus(201, server.url, "POST", `/api/v1/tasks/${taskId}/messages`, {
          content: `please do it again as s${asked}`,
        });
        sent.push(await answer(asked++));
        await turnEnded(++turns);
      }
      const marks = resolvedMarks(server, sent[0].sandboxId);
      const latencies = sent.map(({ id, sentAt }) => {
        const resolvedAt = marks.get(id);
        if (resolvedAt === undefined) throw new Error(`the worker logged no resolution of ${id}`);
        return resolvedAt - sentAt;
      });
      return latencyFigures(latencies);
    },
    async close() {
      viewer.close();
      await expectStatus(200, server.url, "POST", `/api/v1/tasks/${taskId}/cancel`).catch(
        () => undefined,
      );
    },
  };
}
