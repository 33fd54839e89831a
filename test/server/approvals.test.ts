import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { cancelAll, startTask, type WatchedTask, waitForMessage } from "./approvals-helpers.ts";

/*
 * Approvals with the real SDK and CLI in the real sandbox, against the scripted model's
 * `permission`, `plan` and `question` scenarios, driven only through Omoi's public API.
 */

let omoi: TestOmoi;
const started: WatchedTask[] = [];
before(async () => {
  omoi = await startTestOmoi({ OMOI_MAX_SANDBOXES: "3" });
});
afterEach(() => cancelAll(omoi.url, started));
after(async () => {
  await omoi.stop();
});

async function run(body: Record<string, unknown>) {
  const watched = await startTask(omoi.url, body);
  started.push(watched);
  return watched;
}

const workspaceFile = async (watched: WatchedTask, name: string) => {
  const sandbox = await fetch(`${omoi.url}/api/v1/sandboxes/${await watched.sandboxId()}`).then(
    (response) => response.json() as Promise<{ workspace: string }>,
  );
  return path.join(sandbox.workspace, name);
};

describe("tool permissions", () => {
  test("deny: the tool does not run and the agent goes on with the reason; allow: it runs", async () => {
    const watched = await run({ prompt: "[scenario:permission] go", permission_mode: "default" });
    const first = await watched.request("agent.permission_requested");
    assert.equal(first.payload.tool, "Bash");
    assert.equal(first.payload.request_id, first.id);
    assert.match(String((first.payload.input as { command: string }).command), /approved\.txt/);

    const denied = await watched.answer(first.id, {
      decision: "deny",
      reason: "not in this repo, please",
    });
    assert.equal(denied.status, 200, JSON.stringify(denied.body));
    assert.equal(denied.body.status, "resolved");
    await waitForMessage(watched, "First command outcome: not in this repo, please");
    assert.equal(existsSync(await workspaceFile(watched, "approved.txt")), false);

    const resolved = watched.viewer.events.find(
      (event) => event.event_type === "agent.permission_resolved",
    )!;
    assert.equal(resolved.source, "system");
    assert.equal(resolved.payload.decision, "deny");
    assert.deepEqual(resolved.payload.answered_by, { kind: "person", client: "api" });

    const second = await watched.request("agent.permission_requested", 1);
    const allowed = await watched.answer(second.id, { decision: "allow" });
    assert.equal(allowed.status, 200);
    await waitForMessage(watched, "Second command outcome");
    assert.equal(readFileSync(await workspaceFile(watched, "second.txt"), "utf8"), "approved\n");
  });
});

describe("remembering and switching", () => {
  test("always allow: the same command pattern is not asked for again in the task", async () => {
    const watched = await run({ prompt: "[scenario:permission] go", permission_mode: "default" });
    const first = await watched.request("agent.permission_requested");
    const rules = first.payload.rules as { toolName: string; ruleContent?: string }[];
    assert.equal(rules[0].toolName, "Bash");
    const remembered = await watched.answer(first.id, { decision: "allow", remember: true });
    assert.equal(remembered.status, 200);
    assert.equal(remembered.body.answer?.remember, true);
    await waitForMessage(watched, "Second command outcome");
    assert.equal(watched.count("agent.permission_requested"), 1);
    assert.equal(existsSync(await workspaceFile(watched, "approved.txt")), true);
    assert.equal(existsSync(await workspaceFile(watched, "second.txt")), true);
  });

  test("a mode switch mid-run takes effect on the next tool call", async () => {
    const watched = await run({ prompt: "[scenario:permission] go", permission_mode: "default" });
    const first = await watched.request("agent.permission_requested");
    const sandboxId = await watched.sandboxId();
    const switched = await fetch(`${omoi.url}/api/v1/sandboxes/${sandboxId}/mode`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ mode: "bypassPermissions" }),
    });
    assert.equal(switched.status, 200);
    await watched.viewer.waitForEvent(
      "agent.mode_changed",
      (event) => event.payload.mode === "bypassPermissions" && event.payload.previous === "default",
    );
    assert.equal((await watched.answer(first.id, { decision: "allow" })).status, 200);
    await waitForMessage(watched, "Second command outcome");
    assert.equal(
      watched.count("agent.permission_requested"),
      1,
      "the second command was not asked for",
    );
    assert.equal(existsSync(await workspaceFile(watched, "second.txt")), true);
    const sandbox = await fetch(`${omoi.url}/api/v1/sandboxes/${sandboxId}`).then(
      (response) => response.json() as Promise<{ permission_mode: string }>,
    );
    assert.equal(sandbox.permission_mode, "bypassPermissions");
  });
});

describe("plan mode", () => {
  test("nothing changes until the plan is approved; then the work runs in the chosen mode", async () => {
    const watched = await run({ prompt: "[scenario:plan] go", permission_mode: "plan" });
    const plan = await watched.request("agent.plan_proposed");
    assert.match(String(plan.payload.plan), /^# Plan/);
    assert.match(watched.messages().join("\n"), /Early edit outcome: Plan mode/);
    assert.equal(existsSync(await workspaceFile(watched, "too-early.txt")), false);
    assert.equal(
      watched.count("agent.permission_requested"),
      0,
      "the early edit was refused, not asked",
    );

    // Approved into `default`: the plan's edit now asks, like any edit in that mode.
    const approved = await watched.answer(plan.id, { decision: "approve", mode: "default" });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    await watched.viewer.waitForEvent(
      "agent.mode_changed",
      (event) => event.payload.mode === "default",
    );
    const edit = await watched.request("agent.permission_requested");
    assert.equal(edit.payload.tool, "Write");
    assert.equal(existsSync(await workspaceFile(watched, "plan-result.txt")), false);
    assert.equal((await watched.answer(edit.id, { decision: "allow" })).status, 200);
    await waitForMessage(watched, "Work outcome");
    assert.equal(
      readFileSync(await workspaceFile(watched, "plan-result.txt"), "utf8"),
      "the approved plan ran\n",
    );
  });

  test("keep planning: the agent gets the feedback and still changes nothing", async () => {
    const watched = await run({ prompt: "[scenario:plan] go", permission_mode: "plan" });
    const plan = await watched.request("agent.plan_proposed");
    const kept = await watched.answer(plan.id, {
      decision: "keep_planning",
      reason: "also cover the tests",
    });
    assert.equal(kept.status, 200);
    await waitForMessage(
      watched,
      "Plan outcome: The person wants you to keep planning. Their feedback: also cover the tests",
    );
    await waitForMessage(watched, "Work outcome");
    assert.equal(existsSync(await workspaceFile(watched, "plan-result.txt")), false);
  });
});

describe("questions", () => {
  test("the answer reaches the agent and its next message uses it", async () => {
    const watched = await run({ prompt: "[scenario:question] go", permission_mode: "acceptEdits" });
    const question = await watched.request("agent.question");
    const questions = question.payload.questions as {
      question: string;
      options: { label: string }[];
    }[];
    assert.equal(questions[0].question, "Which greeting should I write?");
    assert.deepEqual(
      questions[0].options.map((option) => option.label),
      ["Hello", "Howdy"],
    );
    const answered = await watched.answer(question.id, { decision: "answer", answers: ["Howdy"] });
    assert.equal(answered.status, 200);
    await waitForMessage(watched, "You answered: Howdy");
    await waitForMessage(watched, "Finished");
    assert.equal(readFileSync(await workspaceFile(watched, "greeting.txt"), "utf8"), "Howdy\n");
  });

  test("a free answer (not one of the options) reaches the agent too", async () => {
    const watched = await run({ prompt: "[scenario:question] go", permission_mode: "acceptEdits" });
    const question = await watched.request("agent.question");
    assert.equal(
      (await watched.answer(question.id, { decision: "answer", answers: ["Good evening"] })).status,
      200,
    );
    await waitForMessage(watched, "You answered: Good evening");
  });
});

describe("always allow across sandboxes", () => {
  // Sandboxes close 300 ms after their turn, so a follow-up resumes the task in a new one.
  let resumable: TestOmoi;
  const mine: WatchedTask[] = [];
  before(async () => {
    resumable = await startTestOmoi({ OMOI_MAX_SANDBOXES: "2", OMOI_IDLE_WINDOW_MS: "300" });
  });
  afterEach(() => cancelAll(resumable.url, mine));
  after(async () => {
    await resumable.stop();
  });

  /** Runs the scenario's first turn (answering its requests), until its sandbox has closed. */
  async function firstTurn(remember: boolean) {
    const watched = await startTask(resumable.url, {
      prompt: "[scenario:permission] go",
      permission_mode: "default",
    });
    mine.push(watched);
    const first = await watched.request("agent.permission_requested");
    assert.equal((await watched.answer(first.id, { decision: "allow", remember })).status, 200);
    if (!remember) {
      const second = await watched.request("agent.permission_requested", 1);
      assert.equal((await watched.answer(second.id, { decision: "allow" })).status, 200);
    }
    await waitForMessage(watched, "Second command outcome");
    await watched.viewer.waitForEvent("sandbox.completed", undefined, 60_000);
    return watched;
  }

  async function followUp(watched: WatchedTask, content: string) {
    const sent = await api<{ sandbox_id: string }>(
      resumable.url,
      "POST",
      `/api/v1/tasks/${watched.task.id}/messages`,
      { content },
    );
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    assert.notEqual(sent.body.sandbox_id, await watched.sandboxId(), "a new sandbox");
    return sent.body.sandbox_id;
  }

  const workspace = async (watched: WatchedTask) =>
    (
      await api<{ workspace: string }>(
        resumable.url,
        "GET",
        `/api/v1/sandboxes/${await watched.sandboxId()}`,
      )
    ).body.workspace;

  test("a rule remembered in the task still applies when a follow-up resumes it in a new sandbox", async () => {
    const watched = await firstTurn(true);
    assert.equal(watched.count("agent.permission_requested"), 1);
    await followUp(watched, "please do it again as third");
    // Either the agent goes on alone, or (the rule lost) it asks: wait for whichever comes.
    await watched.viewer.waitFor(
      () =>
        watched.count("agent.permission_requested") > 1 ||
        watched.messages().some((text) => text.includes("Again (third): ")),
      "the follow-up's command to run or be asked for",
      60_000,
    );
    assert.equal(watched.count("agent.permission_requested"), 1, "not asked again");
    assert.equal(
      readFileSync(path.join(await workspace(watched), "third.txt"), "utf8"),
      "approved\n",
    );
  });

  test("without always allow, the resumed session asks again", async () => {
    const watched = await firstTurn(false);
    const sandboxId = await followUp(watched, "please do it again as fourth");
    const third = await watched.request("agent.permission_requested", 2);
    assert.equal(third.sandbox_id, sandboxId);
    assert.equal(existsSync(path.join(await workspace(watched), "fourth.txt")), false);
    const allowed = await api(
      resumable.url,
      "POST",
      `/api/v1/sandboxes/${sandboxId}/permissions/${third.id}`,
      { decision: "allow" },
    );
    assert.equal(allowed.status, 200);
    await waitForMessage(watched, "Again (fourth): ");
    assert.equal(
      readFileSync(path.join(await workspace(watched), "fourth.txt"), "utf8"),
      "approved\n",
    );
  });
});
