import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import { startScriptedModel } from "../../src/model/server.ts";
import type { Approval } from "../../src/protocol/approval.ts";
import { api, type OmoiProcess, spawnOmoi, TEST_REDIS_URL, tempDir } from "../helpers/omoi.ts";
import { createTestDatabase } from "../helpers/postgres.ts";
import { TestViewer } from "../helpers/viewer.ts";
import { startTask, waitForMessage } from "./approvals-helpers.ts";

/*
 * Pending requests are durable state: a reloaded viewer, a restarted server and another
 * replica all see an open request and can answer it, and the answer reaches the agent.
 */

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const openRequests = (base: string, sandboxId: string) =>
  api<{ approvals: Approval[] }>(
    base,
    "GET",
    `/api/v1/sandboxes/${sandboxId}/permissions?status=open`,
  );

describe("durable requests", () => {
  test("a reload and a server kill -9 while a request is open: still there, still answerable", async () => {
    const data = tempDir("omoi-approvals-");
    cleanups.push(() => data.remove());
    // The model lives outside the server, so the run can go on after the server is killed.
    const model = await startScriptedModel({ port: 0 });
    cleanups.push(() => model.close());
    const env = { OMOI_DATA_DIR: data.dir, OMOI_PORT: "0", ANTHROPIC_BASE_URL: model.url };
    let server: OmoiProcess = await spawnOmoi(env);
    cleanups.push(() => server.stop());
    const watched = await startTask(server.url, {
      prompt: "[scenario:permission] go",
      permission_mode: "default",
    });
    const request = await watched.request("agent.permission_requested");
    const sandboxId = await watched.sandboxId();
    watched.viewer.close();

    // A reload: a new viewer replays the stored events and finds the request open.
    const reloaded = new TestViewer(
      `${server.url.replace("http", "ws")}/ws/events?entity_types=sandbox&entity_ids=${sandboxId}&since=0`,
    );
    await reloaded.waitForEvent("agent.permission_requested", (event) => event.id === request.id);
    reloaded.close();
    const listed = await openRequests(server.url, sandboxId);
    assert.deepEqual(
      listed.body.approvals.map((approval) => approval.id),
      [request.id],
    );

    await server.kill9();
    server = await spawnOmoi({ ...env, OMOI_PORT: String(server.port) });
    const after = await openRequests(server.url, sandboxId);
    assert.deepEqual(
      after.body.approvals.map((approval) => [approval.id, approval.status, approval.tool]),
      [[request.id, "open", "Bash"]],
    );
    const answered = await api<Approval>(
      server.url,
      "POST",
      `/api/v1/sandboxes/${sandboxId}/permissions/${request.id}`,
      { decision: "allow" },
    );
    assert.equal(answered.status, 200, JSON.stringify(answered.body));

    // The worker outlived the server, reconnected, and its agent got the answer.
    const follow = new TestViewer(
      `${server.url.replace("http", "ws")}/ws/events?entity_types=sandbox&entity_ids=${sandboxId}&since=0`,
    );
    cleanups.push(() => follow.close());
    await follow.waitForEvent(
      "agent.message",
      (event) => String(event.payload.content).includes("First command outcome"),
      90_000,
    );
    const sandbox = await api<{ workspace: string }>(
      server.url,
      "GET",
      `/api/v1/sandboxes/${sandboxId}`,
    );
    assert.equal(existsSync(path.join(sandbox.body.workspace, "approved.txt")), true);
  });

  test("two replicas on Postgres + Redis: a request of a run on A is answered on B", async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const secret = randomBytes(24).toString("hex");
    const channel = `omoi-approvals-${randomBytes(6).toString("hex")}`;
    const replicas: OmoiProcess[] = [];
    for (const [index, name] of ["approvals-a", "approvals-b"].entries()) {
      const data = tempDir(`omoi-approvals-${index}-`);
      cleanups.push(() => data.remove());
      const replica = await spawnOmoi({
        DATABASE_URL: database.url,
        REDIS_URL: TEST_REDIS_URL,
        OMOI_REDIS_CHANNEL: channel,
        OMOI_SECRET: secret,
        OMOI_REPLICA_ID: name,
        OMOI_PORT: "0",
        OMOI_DATA_DIR: data.dir,
        // Only A runs agents, so the run is A's and the answer crosses replicas.
        OMOI_RUN_AGENTS: index === 0 ? "1" : "0",
      });
      replicas.push(replica);
      cleanups.push(() => replica.stop());
    }
    const [a, b] = replicas;
    const onA = await startTask(a.url, {
      prompt: "[scenario:permission] go",
      permission_mode: "default",
    });
    cleanups.push(() => onA.viewer.close());
    const request = await onA.request("agent.permission_requested");
    const sandboxId = await onA.sandboxId();
    const seenOnB = await openRequests(b.url, sandboxId);
    assert.deepEqual(
      seenOnB.body.approvals.map((approval) => approval.id),
      [request.id],
    );
    const answered = await api(
      b.url,
      "POST",
      `/api/v1/sandboxes/${sandboxId}/permissions/${request.id}`,
      {
        decision: "deny",
        reason: "answered on replica B",
      },
    );
    assert.equal(answered.status, 200);
    await waitForMessage(onA, "First command outcome: answered on replica B");
  });
});
