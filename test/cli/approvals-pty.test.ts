import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { omoi as runCli } from "./cli-process.ts";
import { runInTerminal } from "./terminal-session.ts";

/**
 * `omoi run --mode` in a real pseudo-terminal against a real server, worker and sandbox:
 * the terminal prompts for permissions, plans and questions, and the line typed answers.
 */

describe("approvals in the terminal", () => {
  let omoi: TestOmoi;
  before(async () => {
    omoi = await startTestOmoi();
  });
  after(async () => {
    await omoi?.stop();
  });
  const run = (prompt: string, mode: string) =>
    runInTerminal(["run", prompt, "--mode", mode, "--server", omoi.url]);

  it("asks before a command: deny with a reason, then always allow", async () => {
    const session = run("[scenario:permission] go", "default");
    const first = await session.waitFor(
      "? allow it: y (yes) · a (always allow) · n [reason] (deny)",
    );
    assert.match(
      session.output(),
      /\? Bash asks for permission: \$ echo approved > /,
      "the request in words",
    );
    session.type("n not in the terminal\r");
    await session.waitFor("! denied: not in the terminal (cli)", first);
    const denied = await session.waitFor("First command outcome: not in the terminal", first);
    await session.waitFor("? allow it", denied);
    session.type("a\r");
    await session.waitFor("Second command outcome", denied);
    assert.equal(await session.exitCode, 0, "the task completed");
  });

  it("omoi mode switches the running agent; its next command is not asked for", async () => {
    const session = run("[scenario:permission] go", "default");
    const first = await session.waitFor("? allow it");
    const taskId = /\((task_[A-Za-z0-9]+)\)/.exec(session.output())?.[1];
    assert.ok(taskId, "the run names its task");
    // The list and the task's page say it waits for the person, and on what.
    const listed = await runCli(["tasks", "--server", omoi.url]);
    assert.match(listed.stdout, new RegExp(`${taskId}\\s+running · needs you`));
    const detail = await runCli(["task", taskId, "--server", omoi.url]);
    assert.match(detail.stdout, /^needs you\s+Allow Bash: echo approved/m);
    const bad = await runCli(["mode", taskId, "yolo", "--server", omoi.url]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /unknown mode 'yolo'/);
    const switched = await runCli(["mode", taskId, "bypassPermissions", "--server", omoi.url]);
    assert.equal(switched.code, 0, switched.stderr);
    assert.match(switched.stdout, /now works in bypassPermissions/);
    await session.waitFor("bypassPermissions", first);
    session.type("y\r");
    const done = await session.waitFor("Second command outcome", first);
    assert.equal(
      session.output().split("? allow it").length - 1,
      1,
      "the second command ran without a prompt",
    );
    assert.ok(done > first);
    assert.equal(await session.exitCode, 0, "the task completed");
  });

  it("approves a plan into a mode, then answers a question by number", async () => {
    const plan = run("[scenario:plan] go", "plan");
    await plan.waitFor("? approve the plan");
    plan.type("y acceptEdits\r");
    await plan.waitFor("Work outcome");
    assert.equal(await plan.exitCode, 0, "the task completed");

    const question = run("[scenario:question] go", "acceptEdits");
    await question.waitFor("? Which greeting should I write?  1) Hello  2) Howdy");
    question.type("2\r");
    await question.waitFor("You answered: Howdy");
    assert.equal(await question.exitCode, 0, "the task completed");
  });
});
