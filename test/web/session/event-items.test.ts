import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StoredEvent } from "../../../web/src/api/types.ts";
import { loadedItem, standaloneItem } from "../../../web/src/session/event-items.ts";

function event(event_type: string, payload: Record<string, unknown> = {}): StoredEvent {
  return {
    id: "e1",
    seq: 1,
    stream_id: "sbx_1",
    sandbox_id: "sbx_1",
    task_id: null,
    entity_type: "sandbox",
    entity_id: "sbx_1",
    event_type,
    source: "agent",
    payload,
    emitted_at: 5,
    stored_at: 6,
  } as StoredEvent;
}

const shown = (type: string, payload: Record<string, unknown> = {}) =>
  standaloneItem("k", event(type, payload), payload);

describe("standaloneItem", () => {
  it("says what a lifecycle step means, at the time it happened, and how the agent's activity moves", () => {
    assert.deepEqual(shown("task.completed"), {
      item: {
        kind: "note",
        key: "k",
        text: "Task completed",
        tone: "success",
        eventType: "task.completed",
        at: 5,
      },
      activity: "ended",
    });
    assert.deepEqual(shown("task.failed", { error: "out of memory", will_retry: true }).item, {
      kind: "error",
      key: "k",
      title: "Task failed (will retry)",
      message: "out of memory",
    });
    assert.equal(
      shown("sandbox.failed").item?.kind === "error" && shown("sandbox.failed").activity,
      "ended",
    );
    assert.deepEqual(shown("agent.waiting"), { item: null, activity: "waiting" });
    assert.equal(shown("sandbox.ready").item, null);
    assert.equal(shown("sandbox.ready").activity, undefined);
  });

  it("shows an event it has no words for by its type, and thinking only when it says something", () => {
    const unknown = shown("agent.something_new");
    assert.equal(unknown.item?.kind === "note" && unknown.item.text, "agent.something_new");
    assert.equal(shown("agent.thinking", { content: "  " }).item, null);
    assert.equal(shown("agent.thinking", { content: "hmm" }).item?.kind, "thinking");
  });

  it("reads todo lists and file edits from hostile payloads without throwing", () => {
    const todos = shown("agent.todo_updated", {
      todos: [
        { content: "Fix it", status: "in_progress" },
        { status: "done" },
        null,
        "x",
        { content: "Next" },
      ],
    }).item;
    assert.deepEqual(todos?.kind === "todos" && todos.todos, [
      { content: "Fix it", status: "in_progress", activeForm: undefined },
      { content: "Next", status: "pending", activeForm: undefined },
    ]);
    const edit = shown("agent.file_edited", { path: 3 }).item;
    assert.deepEqual(edit?.kind === "file_edit" && [edit.path, edit.diff], ["(unknown file)", ""]);
  });
});

describe("steps around the agent's work read as words, not event types", () => {
  const note = (type: string, payload: Record<string, unknown>) => {
    const item = shown(type, payload).item;
    return item?.kind === "note" ? [item.text, item.tone] : item;
  };

  it("says where the repository's work went: clone, commit, changes, push, pull request", () => {
    assert.deepEqual(
      note("repo.cloned", {
        url: "/home/me/web",
        base_branch: "main",
        base_sha: "b6056b04aa",
        branch: "omoi/fix-1",
        continued: false,
      }),
      ["Cloned /home/me/web · main @ b6056b04 → omoi/fix-1 (a new branch)", "info"],
    );
    assert.deepEqual(
      note("repo.committed", { sha: "f1a58952861b", message: "Add greet.sh\n\nbody" }),
      ["Committed f1a58952 Add greet.sh", "info"],
    );
    assert.deepEqual(note("repo.changes", { files: [{}, {}], added: 7, removed: 1 }), [
      "Changes: 2 files +7 −1",
      "info",
    ]);
    assert.deepEqual(
      note("repo.pushed", { branch: "omoi/fix-1", sha: "f1a58952861b", url: "/home/me/web" }),
      ["Pushed omoi/fix-1 @ f1a58952 to /home/me/web", "success"],
    );
    assert.deepEqual(
      note("repo.push_failed", { code: "push_rejected", reason: "protected branch" }),
      ["Not pushed (push_rejected): protected branch", "danger"],
    );
  });

  it("says who answered a request and how, which mode the agent is in, and a passed limit", () => {
    assert.deepEqual(note("agent.permission_requested", { request_id: "r", tool: "Bash" }), [
      "Bash asks for permission",
      "warn",
    ]);
    assert.deepEqual(
      note("agent.permission_resolved", {
        request_id: "r",
        kind: "permission",
        status: "resolved",
        decision: "allow",
        answered_by: { kind: "person", client: "web" },
      }),
      ["Allowed (web)", "success"],
    );
    assert.deepEqual(
      note("agent.permission_resolved", {
        request_id: "r",
        kind: "permission",
        status: "expired",
        decision: "deny",
        reason: "nobody answered",
        answered_by: { kind: "policy" },
      }),
      ["Denied: nobody answered (no answer: the task's policy)", "warn"],
    );
    assert.deepEqual(note("agent.mode_changed", { mode: "plan", previous: "default" }), [
      "Permission mode: plan (was default)",
      "info",
    ]);
    assert.deepEqual(
      note("agent.limit_exceeded", { limit: "run_time", value: 125_000, max: 120_000, unit: "ms" }),
      ["Run time limit passed: 2m5s of 2m0s allowed", "danger"],
    );
  });
});

describe("loadedItem", () => {
  it("lists settings and MCP servers, and makes no item when the session loaded none", () => {
    assert.equal(loadedItem("k", {}), null);
    const item = loadedItem("k", {
      project_settings: { files: ["CLAUDE.md", 4], skills: ["review"] },
      mcp_servers: [{ name: "docs", status: "connected" }, { status: "failed" }, { name: "db" }],
    });
    assert.deepEqual(item?.files, ["CLAUDE.md"]);
    assert.deepEqual(item?.skills, ["review"]);
    assert.deepEqual(item?.mcpServers, [
      { name: "docs", status: "connected" },
      { name: "db", status: "unknown" },
    ]);
  });
});
