import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatTask } from "../../src/cli/commands/task.ts";
import { createStyle } from "../../src/cli/style.ts";
import type { TaskWithSandbox } from "../../src/protocol/sandbox.ts";

const NOW = 1_796_127_500_000;

function task(fields: Partial<TaskWithSandbox> = {}): TaskWithSandbox {
  return {
    id: "task_4016095cde8b4227bfb0",
    title: "Add a greeting",
    prompt: "Add a greeting",
    phase_id: "PHASE_IMPLEMENTATION",
    priority: "MEDIUM",
    runtime: "claude",
    model: null,
    max_turns: null,
    max_budget_usd: null,
    permission_mode: "default",
    deny_unanswered_after_minutes: null,
    limits: null,
    depends_on: [],
    repo: null,
    status: "running",
    attempts: 1,
    max_retries: 0,
    environment_id: null,
    sandbox_id: null,
    session_id: null,
    workspace: null,
    result: null,
    error: null,
    num_turns: 1,
    input_tokens: 10,
    output_tokens: 2,
    cost_usd: 0,
    created_at: NOW - 60_000,
    updated_at: NOW,
    started_at: NOW - 50_000,
    completed_at: null,
    sandbox: null,
    ...fields,
  } as TaskWithSandbox;
}

const shown = (value: TaskWithSandbox) => formatTask(value, createStyle(false), NOW);

describe("omoi task", () => {
  it("says what the task waits for you on, and the mode it works in", () => {
    const text = shown(
      task({
        needs_you: {
          request_id: "r1",
          sandbox_id: "sbx_1",
          kind: "permission",
          tool: "Bash",
          summary: "Allow Bash: echo approved",
          since: NOW - 1000,
        },
      }),
    );
    assert.match(text, /^needs you\s+Allow Bash: echo approved$/m);
    assert.match(text, /^mode\s+default$/m);
  });

  it("shows a task's repository: branch, changes, what was pushed, why a push failed, the pull request", () => {
    const text = shown(
      task({
        repo: {
          url: "/home/me/web",
          repository_id: null,
          base_branch: "main",
          branch: "omoi/add-a-greeting-4016095c",
          continued: false,
          auto_pr: false,
          base_sha: "b6056b04aaaa",
          head_sha: "6a9402235c50",
          pushed_sha: "6a9402235c50",
          changes: { files: 1, added: 7, removed: 1 },
          pull_request: null,
          compare_url: null,
          last_error: "the remote rejected the push",
        },
      }),
    );
    assert.match(text, /^repository\s+\/home\/me\/web$/m);
    assert.match(text, /^branch\s+omoi\/add-a-greeting-4016095c ← main$/m);
    assert.match(text, /^changes\s+1 file \+7 −1$/m);
    assert.match(text, /^pushed\s+6a940223$/m);
    assert.match(text, /^not pushed\s+the remote rejected the push$/m);
    assert.doesNotMatch(
      shown(task()),
      /repository|branch|needs you/,
      "nothing about a repository when there is none",
    );
  });
});
