import assert from "node:assert/strict";
import { existsSync, readFileSync, watch } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import type { Sandbox } from "../../src/protocol/sandbox.ts";
import type { Retained } from "../../src/sandbox/retention.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { runTaskToCompletion } from "../helpers/tasks.ts";

/*
 * What a sandbox leaves on disk is kept for OMOI_WORKSPACE_RETENTION_MS after it ended,
 * then deleted by the sweeper; DELETE says what it kept and until when.
 */

const completedTask = (omoi: TestOmoi) =>
  runTaskToCompletion(omoi.url, { prompt: "[scenario:shell] echo the-agents-work > kept.txt" });

/** Resolves once `folder` is gone: waits on its parent's change events. */
function gone(folder: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(path.dirname(folder), () => {
      if (existsSync(folder)) return;
      watcher.close();
      resolve();
    });
    if (!existsSync(folder)) {
      watcher.close();
      resolve();
    }
  });
}

test("DELETE of a sandbox says what it kept on disk and until when; the files are still there", async () => {
  const omoi = await startTestOmoi({ OMOI_WORKSPACE_RETENTION_MS: String(3 * 60 * 60_000) });
  try {
    const task = await completedTask(omoi);
    const deleted = await api<Sandbox & { retained: Retained }>(
      omoi.url,
      "DELETE",
      `/api/v1/sandboxes/${task.sandbox_id}`,
    );
    assert.equal(deleted.status, 200);
    assert.equal(deleted.body.status, "terminated");
    const { retained } = deleted.body;
    assert.equal(retained.workspace, task.workspace);
    assert.equal(
      readFileSync(path.join(retained.workspace!, "kept.txt"), "utf8"),
      "the-agents-work\n",
    );
    assert.ok(retained.state && existsSync(retained.state));
    assert.equal(retained.until, deleted.body.ended_at! + 3 * 60 * 60_000);
  } finally {
    await omoi.stop();
  }
});

test("past OMOI_WORKSPACE_RETENTION_MS the sweeper deletes a sandbox's workspace and state", async () => {
  const omoi = await startTestOmoi({
    OMOI_WORKSPACE_RETENTION_MS: "0",
    OMOI_WORKSPACE_SWEEP_INTERVAL_MS: "100",
  });
  try {
    const task = await completedTask(omoi);
    assert.ok(task.workspace && existsSync(path.join(task.workspace, "kept.txt")));
    const deleted = await api<Sandbox & { retained: Retained }>(
      omoi.url,
      "DELETE",
      `/api/v1/sandboxes/${task.sandbox_id}`,
    );
    assert.equal(deleted.status, 200);
    assert.equal(deleted.body.retained.until, deleted.body.ended_at);
    await gone(task.workspace);
    await gone(path.join(omoi.dataDir, "sandbox-state", task.sandbox_id!));
  } finally {
    await omoi.stop();
  }
});
