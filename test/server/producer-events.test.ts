import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { workerToken } from "../../src/server/worker-token.ts";
import { startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { createTask, getTask, Lifecycle } from "../orchestrator/helpers.ts";

const TOKEN = "a-long-enough-api-token";
const SECRET = "a-secret-of-sixteen-plus-characters";

async function post(url: string, route: string, token: string, body: unknown) {
  const response = await fetch(`${url}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as { error?: { name: string; message: string } },
  };
}

describe("producer events cannot drive the lifecycle", () => {
  let omoi: TestOmoi;
  let events: Lifecycle;
  before(async () => {
    omoi = await startTestOmoi({ OMOI_API_TOKEN: TOKEN, OMOI_SECRET: SECRET });
    events = await new Lifecycle(omoi.url, TOKEN).open();
  });
  after(async () => {
    events.close();
    await omoi.stop();
  });

  test("a forged agent.turn_completed and agent.waiting, posted with the worker token or the API token, do not complete a running task", async () => {
    const task = await createTask(
      omoi.url,
      { prompt: "[scenario:slow-tool] run the slow step" },
      TOKEN,
    );
    const started = await events.next(task.id, "task.started");
    const sandboxId = String(started.payload.sandbox_id);
    const forged = [
      {
        event_type: "agent.turn_completed",
        payload: { result: "forged result", is_error: false, num_turns: 1 },
      },
      { event_type: "agent.waiting", payload: {} },
    ];
    for (const token of [workerToken(SECRET, sandboxId), TOKEN]) {
      for (const event of forged) {
        const refused = await post(omoi.url, `/api/v1/sandboxes/${sandboxId}/events`, token, event);
        assert.equal(refused.status, 403, JSON.stringify(refused.body));
        assert.match(refused.body.error?.message ?? "", /worker channel/);
      }
      const batch = await post(omoi.url, `/api/v1/sandboxes/${sandboxId}/events`, token, forged);
      assert.equal(batch.status, 403, "a batch carrying a lifecycle event is refused whole");
    }
    assert.equal((await getTask(omoi.url, task.id, TOKEN)).status, "running");

    await events.next(task.id, "task.completed");
    const done = await getTask(omoi.url, task.id, TOKEN);
    assert.equal(done.status, "completed");
    assert.equal(done.result, "The slow job finished.", "the result is what the worker reported");
    assert.equal(events.of(task.id, "task.completed").length, 1);
  });

  test("other agent events from a producer are still stored in its own sandbox", async () => {
    const created = await post(omoi.url, "/api/v1/sandboxes", TOKEN, { id: "external-one" });
    assert.equal(created.status, 201);
    const stored = await post(omoi.url, "/api/v1/sandboxes/external-one/events", TOKEN, [
      { event_type: "agent.message", payload: { content: "hello" } },
      { event_type: "agent.turn_completed", payload: { result: "done" } },
      { event_type: "agent.waiting", payload: {} },
    ]);
    assert.equal(stored.status, 201, "an external sandbox keeps its whole event route");
  });

  test("an event into an ended sandbox is refused with 409 and nothing is stored", async () => {
    const created = await post(omoi.url, "/api/v1/sandboxes", TOKEN, { id: "external-two" });
    assert.equal(created.status, 201);
    const ended = await fetch(`${omoi.url}/api/v1/sandboxes/external-two`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(ended.status, 200);
    for (const token of [workerToken(SECRET, "external-two"), TOKEN]) {
      const refused = await post(omoi.url, "/api/v1/sandboxes/external-two/events", token, {
        event_type: "agent.message",
        payload: { content: "after the end" },
      });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.error?.name, "SandboxEnded");
      assert.match(refused.body.error?.message ?? "", /terminated/);
    }
    const listed = await fetch(`${omoi.url}/api/v1/sandboxes/external-two/events`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const { events: stored } = (await listed.json()) as { events: { event_type: string }[] };
    assert.deepEqual(
      stored.filter((event) => event.event_type.startsWith("agent.")),
      [],
      "nothing stored after the end",
    );
  });
});
