import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { assertNoProcesses, createTask, getTask, Lifecycle, listSandboxes } from "./helpers.ts";

const QUICK = "[scenario:quick] say hello";

async function followUp(url: string, taskId: string, content: string) {
  const response = await api<{ message_id: string; sandbox_id: string }>(
    url,
    "POST",
    `/api/v1/tasks/${taskId}/messages`,
    { content },
  );
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body;
}

describe("follow-ups within the idle window", () => {
  let omoi: TestOmoi;
  let events: Lifecycle;
  before(async () => {
    omoi = await startTestOmoi({ OMOI_MAX_SANDBOXES: "2", OMOI_IDLE_WINDOW_MS: "600000" });
    events = await new Lifecycle(omoi.url).open();
  });
  after(async () => {
    events.close();
    await omoi.stop();
  });

  test("the task completes, its sandbox stays open, a follow-up runs the same session again", async () => {
    const task = await createTask(omoi.url, { prompt: QUICK });
    await events.next(task.id, "task.completed");
    const done = await getTask(omoi.url, task.id);
    assert.equal(done.status, "completed");
    assert.equal(done.result, "Hello from Omoi's scripted model.");
    assert.equal(done.sandbox?.status, "idle", "the sandbox waits for follow-ups");
    assert.ok(done.session_id);

    const sent = await followUp(omoi.url, task.id, "one more thing");
    assert.equal(sent.sandbox_id, done.sandbox_id, "delivered to the open sandbox");
    await events.count(task.id, "task.completed", 2);
    const started = events.of(task.id, "task.started");
    assert.equal(started.length, 2);
    assert.equal(started[1].payload.follow_up, true);
    const again = await getTask(omoi.url, task.id);
    assert.equal(again.status, "completed");
    assert.equal(again.result, "Got your message: “one more thing”.");
    assert.equal(again.session_id, done.session_id);
    assert.equal(again.sandbox_id, done.sandbox_id);
    assert.ok(again.num_turns > done.num_turns, "turns add up across runs");
  });
});

describe("follow-ups after the idle window closed the sandbox", () => {
  let omoi: TestOmoi;
  let events: Lifecycle;
  before(async () => {
    omoi = await startTestOmoi({ OMOI_MAX_SANDBOXES: "2", OMOI_IDLE_WINDOW_MS: "300" });
    events = await new Lifecycle(omoi.url).open();
  });
  after(async () => {
    events.close();
    await omoi.stop();
  });

  test("a later follow-up resumes the session in a new sandbox on the same workspace", async () => {
    const task = await createTask(omoi.url, { prompt: QUICK });
    await events.next(task.id, "task.completed");
    await events.next(task.id, "sandbox.completed");
    const first = await getTask(omoi.url, task.id);
    assert.equal(first.sandbox?.status, "completed", "closed after the idle window");
    assertNoProcesses(first.sandbox!);
    assert.ok(first.session_id && first.workspace);

    const sent = await followUp(omoi.url, task.id, "are you still there?");
    assert.notEqual(sent.sandbox_id, first.sandbox_id, "a new sandbox");
    await events.count(task.id, "task.completed", 2);
    const answer = events.viewer.events.find(
      (event) =>
        event.event_type === "agent.message" &&
        event.sandbox_id === sent.sandbox_id &&
        String(event.payload.content ?? event.payload.text ?? "").includes("are you still there?"),
    );
    assert.ok(answer, "the answer came from the new sandbox");

    const resumed = await getTask(omoi.url, task.id);
    assert.equal(resumed.status, "completed");
    assert.equal(resumed.result, "Got your message: “are you still there?”.");
    assert.equal(resumed.sandbox_id, sent.sandbox_id);
    assert.equal(resumed.session_id, first.session_id, "the same session, resumed");
    assert.equal(resumed.workspace, first.workspace);
    assert.equal(resumed.sandbox?.workspace, first.workspace, "the same workspace");
    const sandboxes = await listSandboxes(omoi.url, `task_id=${task.id}`);
    assert.equal(sandboxes.length, 2);
    assert.ok(resumed.cost_usd >= first.cost_usd, "cost keeps adding up");
  });
});

/** The most sandboxes open at once, read from the order their lifecycle events were told. */
function mostOpenAtOnce(events: Lifecycle): number {
  const open = new Set<string>();
  let most = 0;
  for (const event of events.viewer.events) {
    if (!event.sandbox_id) continue;
    if (event.event_type === "sandbox.starting") open.add(event.sandbox_id);
    if (["sandbox.completed", "sandbox.failed", "sandbox.terminated"].includes(event.event_type))
      open.delete(event.sandbox_id);
    most = Math.max(most, open.size);
  }
  return most;
}

describe("follow-ups respect OMOI_MAX_SANDBOXES", () => {
  let omoi: TestOmoi;
  let events: Lifecycle;
  before(async () => {
    omoi = await startTestOmoi({ OMOI_MAX_SANDBOXES: "1", OMOI_IDLE_WINDOW_MS: "300" });
    events = await new Lifecycle(omoi.url).open();
  });
  after(async () => {
    events.close();
    await omoi.stop();
  });

  test("five follow-ups that each need a new sandbox, with one slot, start one sandbox at a time and all get answered", async () => {
    const tasks = [];
    for (let index = 0; index < 5; index++)
      tasks.push(await createTask(omoi.url, { prompt: `${QUICK} ${index}` }));
    const ids = tasks.map((task) => task.id);
    await events.all(ids, ["task.completed"]);
    for (const id of ids) await events.next(id, "sandbox.completed");

    const sent = await Promise.all(
      ids.map((id, index) => followUp(omoi.url, id, `again ${index}`)),
    );
    assert.equal(new Set(sent.map((message) => message.sandbox_id)).size, 5, "a new sandbox each");
    for (const id of ids) await events.count(id, "task.completed", 2, 180_000);

    assert.equal(mostOpenAtOnce(events), 1, "never more sandboxes open than the limit");
    for (const [index, id] of ids.entries()) {
      const row = await getTask(omoi.url, id);
      assert.equal(row.status, "completed");
      assert.equal(row.result, `Got your message: “again ${index}”.`);
      assert.equal(row.sandbox_id, sent[index].sandbox_id);
    }
  });
});
