import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { newSandboxId } from "../../src/protocol/ids.ts";
import { WorkspaceRetention } from "../../src/sandbox/retention.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";

/*
 * Workspaces and sandbox state are kept for the retention time after the sandbox that last
 * used them ended, then deleted; nothing in use, recent or outside the data dir is touched.
 */

const HOUR = 60 * 60_000;
let root: string;
let dataDir: string;
let store: SqliteStore;

before(async () => {
  root = mkdtempSync(path.join(tmpdir(), "omoi-retention-"));
  dataDir = path.join(root, "data");
  store = new SqliteStore(path.join(dataDir, "omoi.db"));
  await store.migrate();
});
after(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

/** A sandbox of this replica with its folders on disk, ended `endedAgoMs` ago (null: running). */
async function sandboxWithFiles(
  endedAgoMs: number | null,
  workspace?: string,
  owner = "replica-a",
) {
  const id = newSandboxId();
  const folder = workspace ?? path.join(dataDir, "workspaces", id);
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, "result.txt"), "the agent's work");
  const state = path.join(dataDir, "sandbox-state", id);
  mkdirSync(state, { recursive: true });
  writeFileSync(path.join(state, "worker.log"), "log");
  await store.createSandbox({
    id,
    task_id: null,
    kind: "agent",
    provider: "local",
    workspace: folder,
    owner,
  });
  if (endedAgoMs !== null) {
    await store.updateSandbox(id, { status: "completed", ended_at: Date.now() - endedAgoMs });
  } else {
    await store.updateSandbox(id, { status: "running" });
  }
  return { id, workspace: folder, state };
}

test("workspaces and state past retention are deleted; recent, running, shared, foreign and outside ones are kept", async () => {
  const retention = new WorkspaceRetention(store, {
    dataDir,
    retentionMs: HOUR,
    owner: "replica-a",
  });
  const old = await sandboxWithFiles(2 * HOUR);
  // The agent planted a link to something outside: deleting the workspace must not follow it.
  const outsideTarget = path.join(root, "outside-target.txt");
  writeFileSync(outsideTarget, "not the agent's");
  symlinkSync(outsideTarget, path.join(old.workspace, "link"));
  const recent = await sandboxWithFiles(HOUR / 2);
  const running = await sandboxWithFiles(null);
  // A task's earlier sandbox ended long ago, its follow-up recently: the shared workspace stays.
  const earlier = await sandboxWithFiles(3 * HOUR);
  const followUp = await sandboxWithFiles(HOUR / 4, earlier.workspace);
  const outside = await sandboxWithFiles(2 * HOUR, path.join(root, "user-folder"));
  const otherReplica = await sandboxWithFiles(2 * HOUR, undefined, "replica-b");

  const before = retention.retained((await store.getSandbox(old.id))!);
  assert.equal(before.workspace, old.workspace);
  assert.equal(before.state, old.state);
  assert.ok(before.until !== null && before.until < Date.now(), "its retention is over");

  const swept = await retention.sweep();
  assert.deepEqual(new Set(swept), new Set([old.id, earlier.id, outside.id]));
  assert.equal(existsSync(old.workspace), false);
  assert.equal(existsSync(old.state), false);
  assert.equal(existsSync(outsideTarget), true, "a symlink's target is never deleted");
  for (const kept of [recent, running, followUp, otherReplica]) {
    assert.equal(existsSync(kept.workspace), true, kept.id);
    assert.equal(existsSync(kept.state), true, kept.id);
  }
  assert.equal(existsSync(earlier.workspace), true, "shared with a recent follow-up");
  assert.equal(existsSync(earlier.state), false, "its own state is past retention");
  assert.equal(existsSync(outside.workspace), true, "a folder Omoi did not make is never deleted");
  assert.deepEqual(retention.retained((await store.getSandbox(running.id))!).until, null);
});
