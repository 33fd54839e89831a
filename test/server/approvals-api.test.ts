import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, describe, test } from "node:test";
import type { NeedsYou, Task } from "../../src/protocol/task.ts";
import { signWebhookBody, WEBHOOK_SIGNATURE_HEADER } from "../../src/server/webhook.ts";
import { workerToken } from "../../src/server/worker-token.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { cancelAll, startTask, type WatchedTask, waitForMessage } from "./approvals-helpers.ts";

/*
 * The answer endpoint's guarantees: one answer wins, bad input is a clear 4xx, requests
 * close when their sandbox ends or the task's no-answer policy says so, waiting tasks show
 * "needs you", and the webhook tells the outside world, signed.
 */

const SECRET = "approvals-test-secret-0123456789";
const WEBHOOK_SECRET = "webhook-test-secret-0123456789";
let omoi: TestOmoi;
let hookServer: Server;
const hooks: { body: string; signature: string | undefined }[] = [];
const started: WatchedTask[] = [];

before(async () => {
  hookServer = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      hooks.push({ body, signature: request.headers[WEBHOOK_SIGNATURE_HEADER] as string });
      response.end("ok");
    });
  });
  await new Promise<void>((resolve) => hookServer.listen(0, "127.0.0.1", resolve));
  const port = (hookServer.address() as AddressInfo).port;
  omoi = await startTestOmoi({
    OMOI_MAX_SANDBOXES: "3",
    OMOI_SECRET: SECRET,
    OMOI_WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
    OMOI_WEBHOOK_SECRET: WEBHOOK_SECRET,
  });
});
afterEach(() => cancelAll(omoi.url, started));
after(async () => {
  await omoi.stop();
  await new Promise((resolve) => hookServer.close(resolve));
});

async function openRequest(extra: Record<string, unknown> = {}) {
  const watched = await startTask(omoi.url, {
    prompt: "[scenario:permission] go",
    permission_mode: "default",
    ...extra,
  });
  started.push(watched);
  const request = await watched.request("agent.permission_requested");
  return { watched, request, sandboxId: await watched.sandboxId() };
}

describe("one answer wins", () => {
  test("two viewers answer at once: exactly one wins, the other gets a 409 naming the first", async () => {
    const { watched, request } = await openRequest();
    const [a, b] = await Promise.all([
      watched.answer(request.id, { decision: "allow" }),
      watched.answer(request.id, { decision: "deny", reason: "no" }),
    ]);
    const statuses = [a.status, b.status].sort();
    assert.deepEqual(statuses, [200, 409]);
    const winner = a.status === 200 ? a : b;
    const loser = a.status === 200 ? b : a;
    assert.equal(loser.body.error?.name, "Conflict");
    assert.match(
      loser.body.error!.message,
      new RegExp(`already answered '${winner.body.answer!.decision}'`),
    );
    await watched.viewer.waitForEvent("agent.permission_resolved");
    assert.equal(watched.count("agent.permission_resolved"), 1);
    // A later answer is refused the same way.
    const late = await watched.answer(request.id, { decision: "allow" });
    assert.equal(late.status, 409);
  });
});

describe("bad input", () => {
  test("unknown request, wrong sandbox, invalid decision, wrong kind, extra fields: clear 4xx, nothing answered", async () => {
    const { watched, request, sandboxId } = await openRequest();
    const post = (route: string, body: unknown, token?: string) =>
      api<{ error: { name: string; message: string } }>(omoi.url, "POST", route, body, token);
    const route = `/api/v1/sandboxes/${sandboxId}/permissions/${request.id}`;

    const unknown = await post(`/api/v1/sandboxes/${sandboxId}/permissions/no-such-request`, {
      decision: "allow",
    });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error.message, /approval request 'no-such-request' not found/);

    const elsewhere = await post(`/api/v1/sandboxes/sbx_other/permissions/${request.id}`, {
      decision: "allow",
    });
    assert.equal(elsewhere.status, 404);

    const invalid = await post(route, { decision: "maybe" });
    assert.equal(invalid.status, 400);
    assert.match(invalid.body.error.message, /decision/);

    const wrongKind = await post(route, { decision: "approve" });
    assert.equal(wrongKind.status, 400);
    assert.match(wrongKind.body.error.message, /use one of: allow, deny/);

    const extra = await post(route, { decision: "allow", run_as: "root" });
    assert.equal(extra.status, 400);

    const notJson = await post(route, "{decision:");
    assert.equal(notJson.status, 400);

    const rememberDeny = await post(route, { decision: "deny", remember: true });
    assert.equal(rememberDeny.status, 400);

    // The sandbox's own worker token cannot answer for the person.
    const byWorker = await post(route, { decision: "allow" }, workerToken(SECRET, sandboxId));
    assert.equal(byWorker.status, 403);
    const modeByWorker = await post(
      `/api/v1/sandboxes/${sandboxId}/mode`,
      { mode: "bypassPermissions" },
      workerToken(SECRET, sandboxId),
    );
    assert.equal(modeByWorker.status, 403);

    const badMode = await post(`/api/v1/sandboxes/${sandboxId}/mode`, { mode: "yolo" });
    assert.equal(badMode.status, 400);

    // None of that answered it: the request is still open and the agent still waits.
    const listed = await api<{ approvals: { id: string; status: string }[] }>(
      omoi.url,
      "GET",
      `/api/v1/sandboxes/${sandboxId}/permissions?status=open`,
    );
    assert.deepEqual(
      listed.body.approvals.map((approval) => [approval.id, approval.status]),
      [[request.id, "open"]],
    );
    assert.equal(watched.count("agent.permission_resolved"), 0);
    assert.equal((await watched.answer(request.id, { decision: "allow" })).status, 200);
  });

  test("a producer cannot forge a resolution or file a request under another id", async () => {
    const { sandboxId } = await openRequest();
    const token = workerToken(SECRET, sandboxId);
    const forged = await api(
      omoi.url,
      "POST",
      `/api/v1/sandboxes/${sandboxId}/events`,
      {
        event_type: "agent.permission_resolved",
        payload: { request_id: "x", kind: "permission", status: "resolved", decision: "allow" },
      },
      token,
    );
    assert.equal(forged.status, 400);
    const mismatched = await api(
      omoi.url,
      "POST",
      `/api/v1/sandboxes/${sandboxId}/events`,
      {
        id: "7f0c1a52-4b8e-4d4f-9a57-0c8f1f7e2b11",
        event_type: "agent.permission_requested",
        payload: { request_id: "someone-elses", tool: "Bash" },
      },
      token,
    );
    assert.equal(mismatched.status, 400);
  });

  test("task bodies: an unknown mode or a non-positive no-answer time is refused", async () => {
    const badMode = await api(omoi.url, "POST", "/api/v1/tasks", {
      prompt: "x",
      permission_mode: "yolo",
    });
    assert.equal(badMode.status, 400);
    const badPolicy = await api(omoi.url, "POST", "/api/v1/tasks", {
      prompt: "x",
      deny_unanswered_after_minutes: 0,
    });
    assert.equal(badPolicy.status, 400);
  });
});

describe("waiting is visible", () => {
  test("the task list says what a waiting task needs; the webhook is told, signed", async () => {
    const { watched, request } = await openRequest();
    const listed = await api<{ tasks: (Task & { needs_you: NeedsYou | null })[] }>(
      omoi.url,
      "GET",
      "/api/v1/tasks?limit=100",
    );
    const mine = listed.body.tasks.find((task) => task.id === watched.task.id)!;
    assert.equal(mine.needs_you?.request_id, request.id);
    assert.equal(mine.needs_you?.kind, "permission");
    assert.match(mine.needs_you!.summary, /^Allow Bash: echo approved >/);

    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error("no webhook call")), 10_000);
      const check = setInterval(() => {
        if (!hooks.some((hook) => hook.body.includes(request.id))) return;
        clearInterval(check);
        clearTimeout(deadline);
        resolve();
      }, 20);
    });
    const hook = hooks.find((candidate) => candidate.body.includes(request.id))!;
    assert.equal(hook.signature, signWebhookBody(WEBHOOK_SECRET, hook.body));
    const notice = JSON.parse(hook.body) as Record<string, unknown>;
    assert.equal(notice.type, "approval.requested");
    assert.equal(notice.task_id, watched.task.id);
    assert.match(String(notice.summary), /Allow Bash/);

    assert.equal((await watched.answer(request.id, { decision: "allow" })).status, 200);
    const after = await api<Task & { needs_you: NeedsYou | null }>(
      omoi.url,
      "GET",
      `/api/v1/tasks/${watched.task.id}`,
    );
    assert.notEqual(after.body.needs_you?.request_id, request.id);
  });
});

describe("requests nobody answers", () => {
  test("the task's policy denies after its time, and the agent goes on with why", async () => {
    const { watched, request } = await openRequest({ deny_unanswered_after_minutes: 0.01 });
    await watched.viewer.waitForEvent(
      "agent.permission_resolved",
      (event) => event.payload.request_id === request.id,
    );
    const resolved = watched.viewer.events.find(
      (event) => event.event_type === "agent.permission_resolved",
    )!;
    assert.deepEqual(resolved.payload.answered_by, { kind: "policy" });
    assert.equal(resolved.payload.decision, "deny");
    await waitForMessage(watched, "First command outcome: No one answered within");
    const late = await watched.answer(request.id, { decision: "allow" });
    assert.equal(late.status, 409);
  });

  test("a request whose sandbox ended is closed out as expired", async () => {
    const { watched, request, sandboxId } = await openRequest();
    const stopped = await api(omoi.url, "DELETE", `/api/v1/sandboxes/${sandboxId}`);
    assert.ok(stopped.status < 300, JSON.stringify(stopped.body));
    await watched.viewer.waitForEvent(
      "agent.permission_resolved",
      (event) => event.payload.request_id === request.id && event.payload.status === "expired",
    );
    const late = await watched.answer(request.id, { decision: "allow" });
    assert.equal(late.status, 409);
    assert.match((late.body as unknown as { error: { message: string } }).error.message, /expired/);
  });
});
