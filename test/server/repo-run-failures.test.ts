import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";
import { makeRemote, refsOf, tempDir } from "../repo/fixtures.ts";

/*
 * Failures that only show once a run is under way, over the API with real runs (the real
 * SDK and CLI in the sandbox, scripted model): nothing changed, and a repository that
 * vanished between the task's creation and its start. (A push the remote refuses and a
 * pull request the forge refuses are in test/cli/repo-failures.test.ts and
 * test/web/repository.test.ts, through the same API.)
 */
describe("repository failures during a run", () => {
  let omoi: TestOmoi;
  let root: string;
  let viewer: TestViewer;
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    root = await tempDir({ after: (fn) => cleanups.push(fn) });
    omoi = await startTestOmoi({ OMOI_IDLE_WINDOW_MS: "600000", OMOI_MAX_SANDBOXES: "1" });
    viewer = new TestViewer(
      `${omoi.url.replace("http", "ws")}/ws/events?entity_types=sandbox,task&event_types=task.*,repo.*,agent.started`,
    );
    await viewer.opened;
  });
  after(async () => {
    viewer?.close();
    await omoi?.stop();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const of = (taskId: string, type: string) =>
    viewer.events.filter((event) => event.task_id === taskId && event.event_type === type);
  const waitFor = (taskId: string, type: string) =>
    viewer.waitFor(() => of(taskId, type).length > 0, `${taskId} ${type}`, 120_000);

  it("nothing changed: the changes say so, nothing is pushed, a pull request is refused", async () => {
    const remote = await makeRemote(root, "calm");
    const before = await refsOf(remote);
    const created = await api<{ id: string }>(omoi.url, "POST", "/api/v1/tasks", {
      prompt: "[scenario:quick] just look",
      repo: remote,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const taskId = created.body.id;
    await waitFor(taskId, "task.completed");
    const [changes] = of(taskId, "repo.changes");
    assert.ok(changes, "the changes are recorded after the turn");
    assert.deepEqual(changes.payload.files, []);
    assert.equal(changes.payload.commits, 0);
    assert.deepEqual(of(taskId, "repo.pushed"), []);
    assert.deepEqual(of(taskId, "repo.push_failed"), []);
    const pull = await api<{ error: { message: string; data: { code: string } } }>(
      omoi.url,
      "POST",
      `/api/v1/tasks/${taskId}/pull-request`,
      {},
    );
    assert.equal(pull.status, 409);
    assert.equal(pull.body.error.data.code, "nothing_changed");
    assert.match(pull.body.error.message, /not been pushed yet \(no changes\)/);
    assert.deepEqual(await refsOf(remote), before);
    await api(omoi.url, "POST", `/api/v1/tasks/${taskId}/cancel`);
  });

  it("a repository gone between creation and start fails the run with the reason", async () => {
    // The one sandbox slot is taken, so the next task waits in the queue.
    const holder = await api<{ id: string }>(omoi.url, "POST", "/api/v1/tasks", {
      prompt: "[scenario:quick] hold the slot",
    });
    await waitFor(holder.body.id, "agent.started");
    const remote = await makeRemote(root, "vanishing");
    const created = await api<{ id: string; status: string }>(omoi.url, "POST", "/api/v1/tasks", {
      prompt: "[scenario:repo-edit] too late",
      repo: remote,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.status, "pending");
    await rm(remote, { recursive: true, force: true });
    await api(omoi.url, "POST", `/api/v1/tasks/${holder.body.id}/cancel`);

    const taskId = created.body.id;
    await waitFor(taskId, "task.failed");
    const [failed] = of(taskId, "task.failed");
    assert.match(
      String(failed.payload.error),
      /could not start the sandbox: no repository at \/.*vanishing\.git$/,
    );
    assert.deepEqual(of(taskId, "agent.started"), []);
    const task = await api<{ status: string }>(omoi.url, "GET", `/api/v1/tasks/${taskId}`);
    assert.equal(task.body.status, "failed");
  });
});
