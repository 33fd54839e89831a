import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { omoi } from "./cli-process.ts";

/** The one-shot commands against a real server that queues tasks but runs no agents. */
describe("omoi commands against a server", () => {
  let server: TestOmoi;
  let taskId: string;
  before(async () => {
    server = await startTestOmoi({ OMOI_RUN_AGENTS: "0", OMOI_API_TOKEN: "secret-token-1" });
  });
  after(async () => {
    await server?.stop();
  });
  const cli = (args: string[]) =>
    omoi([...args, "--server", server.url, "--token", "secret-token-1"]);

  it("run --detach creates a task and prints its id", async () => {
    const result = await cli([
      "run",
      "tidy",
      "the",
      "README",
      "--title",
      "Tidy",
      "--priority",
      "high",
      "--max-turns",
      "5",
      "--max-budget",
      "1.5",
      "--detach",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^task_[a-z0-9]+\n$/);
    assert.match(result.stderr, /watch it with: omoi watch task_/);
    taskId = result.stdout.trim();
    const task = await api<Record<string, unknown>>(server.url, "GET", `/api/v1/tasks/${taskId}`);
    assert.equal(task.status, 401, "the API needs the token");
  });

  it("tasks lists it in a table, and as JSON", async () => {
    const table = await cli(["tasks"]);
    assert.equal(table.code, 0, table.stderr);
    const [header, row] = table.stdout.split("\n");
    assert.match(header!, /^ID\s+STATUS\s+PRIORITY\s+TITLE\s+AGE\s+COST$/);
    assert.match(row!, new RegExp(`^${taskId}\\s+pending\\s+high\\s+Tidy\\s+\\d+s\\s+-$`));
    const json = await cli(["tasks", "--json", "--status", "pending,running", "--limit", "5"]);
    const list = JSON.parse(json.stdout) as { tasks: { id: string; max_turns: number }[] };
    assert.equal(list.tasks[0]?.id, taskId);
    assert.equal(list.tasks[0]?.max_turns, 5);
    const none = await cli(["tasks", "--status", "failed"]);
    assert.equal(none.stdout, "no tasks with that status\n");
  });

  it("task shows the details", async () => {
    const result = await cli(["task", taskId]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Tidy\n/);
    assert.match(result.stdout, /status\s+pending/);
    assert.match(result.stdout, /limits\s+5 turns, \$1\.50/);
    assert.match(result.stdout, /prompt\ntidy the README\n$/);
  });

  it("send queues a message to a sandbox", async () => {
    const sandbox = await fetch(`${server.url}/api/v1/sandboxes`, {
      method: "POST",
      headers: { authorization: "Bearer secret-token-1", "content-type": "application/json" },
      body: "{}",
    });
    const sandboxId = ((await sandbox.json()) as { id: string }).id;
    const result = await cli(["send", sandboxId, "use", "tabs", "--queue"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^queued message \\S+ for ${sandboxId}\\n$`));
    const listed = await cli(["sandboxes"]);
    assert.match(listed.stdout, new RegExp(`^${sandboxId}\\s+\\S+\\s+external`, "m"));
    const stopped = await cli(["stop", sandboxId]);
    assert.equal(stopped.stdout, `sandbox ${sandboxId} is now terminated\n`);
  });

  it("stop cancels the task", async () => {
    const result = await cli(["stop", taskId, "--json"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { status: string }).status, "cancelled");
  });

  it("an unknown id says it was not found and how to list ids, with exit 1, in every command that takes one", async () => {
    const result = await cli(["task", "task_nope"]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      "omoi: task 'task_nope' not found — run `omoi tasks` to see task ids\n",
    );
    const cases: string[][] = [
      ["watch", "task_nope"],
      ["send", "task_nope", "hello"],
      ["stop", "task_nope"],
      ["mode", "task_nope", "plan"],
      ["diff", "task_nope"],
    ];
    for (const args of cases) {
      const failed = await cli(args);
      assert.equal(failed.code, 1, args.join(" "));
      assert.match(
        failed.stderr,
        /^omoi: task 'task_nope' not found — run `omoi tasks` to see task ids\n$/,
        args.join(" "),
      );
    }
    // Not shaped like a task id, so looked up as a sandbox: it is neither.
    for (const args of [
      ["watch", "nosuch"],
      ["send", "nosuch", "hello"],
      ["stop", "nosuch"],
    ]) {
      const failed = await cli(args);
      assert.equal(failed.code, 1, args.join(" "));
      assert.match(
        failed.stderr,
        /^omoi: task or sandbox 'nosuch' not found — run `omoi tasks` to see task ids \(`omoi sandboxes` for sandbox ids\)\n$/,
        args.join(" "),
      );
    }
  });

  it("a missing token says how to pass one", async () => {
    const result = await omoi(["tasks", "--server", server.url]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /pass --token or set OMOI_API_TOKEN/);
    const viaEnv = await omoi(["tasks", "--server", server.url], {
      OMOI_API_TOKEN: "secret-token-1",
    });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
  });
});
