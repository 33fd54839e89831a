import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { lutimes, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { TASK_REPO_UNTOUCHED } from "../../src/protocol/repo.ts";
import { Mirror } from "../../src/repo/mirror.ts";
import { UploadRetention } from "../../src/repo/upload-retention.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { task } from "../store/fixtures.ts";

/*
 * Uploaded repositories are deleted once no task needs them any more: older than the
 * retention time, and every task naming them finished longer ago than that.
 */

const HOUR = 60 * 60_000;
let root: string;
let uploads: string;
let mirrors: string;
let store: SqliteStore;

before(async () => {
  root = mkdtempSync(path.join(tmpdir(), "omoi-upload-retention-"));
  uploads = path.join(root, "data", "uploads");
  mirrors = path.join(root, "data", "mirrors");
  mkdirSync(uploads, { recursive: true });
  store = new SqliteStore(path.join(root, "data", "omoi.db"));
  await store.migrate();
});
after(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

let counter = 0;
/** An upload on disk received `agoMs` ago, with the mirror Omoi made of it. */
async function uploaded(agoMs: number) {
  counter += 1;
  const id = `upl_${counter.toString(16).padStart(24, "0")}`;
  const location = path.join(uploads, `${id}.git`);
  mkdirSync(location);
  writeFileSync(path.join(location, "HEAD"), "ref: refs/heads/main\n");
  const mirror = new Mirror(mirrors, { kind: "local", location, display: id, credential: null });
  mkdirSync(mirror.path, { recursive: true });
  const when = new Date(Date.now() - agoMs);
  await utimes(location, when, when);
  return { id, location, mirror: mirror.path };
}

async function taskOn(id: string, status: "pending" | "completed") {
  const created = await store.createTask({
    ...task(),
    repo: {
      url: `upload:${id}`,
      repository_id: null,
      base_branch: "main",
      branch: "omoi/work",
      continued: false,
      auto_pr: false,
      ...TASK_REPO_UNTOUCHED,
    },
  });
  if (status === "completed") await store.updateTask(created.id, { status: "completed" });
}

test("uploads no task needs are deleted past retention with their mirrors; uploads a live or recent task names are kept", async () => {
  const retention = new UploadRetention(store, {
    uploadsDir: uploads,
    mirrorsDir: mirrors,
    retentionMs: HOUR,
  });
  const forgotten = await uploaded(3 * HOUR);
  const pending = await uploaded(3 * HOUR);
  await taskOn(pending.id, "pending");
  const finishedRecently = await uploaded(3 * HOUR);
  await taskOn(finishedRecently.id, "completed");
  const young = await uploaded(HOUR / 2);
  // What a receive cut short by a stop leaves behind; one still being received.
  const leftover = path.join(uploads, `upl_${"f".repeat(24)}.bundle`);
  writeFileSync(leftover, "half a bundle");
  const old = new Date(Date.now() - 3 * HOUR);
  await utimes(leftover, old, old);
  const receiving = path.join(uploads, `upl_${"e".repeat(24)}.git.tmp`);
  mkdirSync(receiving);
  // A link in the uploads folder is removed, never followed.
  const outside = path.join(root, "outside");
  mkdirSync(outside);
  writeFileSync(path.join(outside, "keep.txt"), "not Omoi's");
  const link = path.join(uploads, `upl_${"d".repeat(24)}.git`);
  symlinkSync(outside, link);
  await lutimes(link, old, old);
  const foreign = path.join(uploads, "notes.txt");
  writeFileSync(foreign, "a file Omoi did not make");
  await utimes(foreign, old, old);

  const swept = await retention.sweep();
  assert.deepEqual(swept.sort(), [forgotten.id, `upl_${"d".repeat(24)}`].sort());
  assert.ok(
    !existsSync(forgotten.location) && !existsSync(forgotten.mirror),
    "upload and mirror gone",
  );
  assert.ok(
    existsSync(pending.location) && existsSync(pending.mirror),
    "an unfinished task's upload stays",
  );
  assert.ok(existsSync(finishedRecently.location), "a task finished within retention keeps it");
  assert.ok(existsSync(young.location), "a recent upload stays until it is old");
  assert.ok(!existsSync(leftover), "an old leftover of a cut receive is removed");
  assert.ok(existsSync(receiving), "an upload being received is left alone");
  assert.ok(!existsSync(link), "the link is removed");
  assert.ok(existsSync(path.join(outside, "keep.txt")), "its target is not followed");
  assert.ok(existsSync(foreign), "names Omoi does not make are never touched");

  // Two hours on: the finished task's retention has passed; the pending task still needs its upload.
  const later = await retention.sweep(Date.now() + 2 * HOUR);
  assert.deepEqual(later.sort(), [finishedRecently.id, young.id].sort());
  assert.ok(existsSync(pending.location), "a pending task's upload is never deleted");
});
