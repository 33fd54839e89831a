import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { lutimes, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { OUTGOING_MAX_AGE_MS, OutgoingBundles } from "../../src/repo/outgoing.ts";

/*
 * The files a task's result is sent in: one per download, removed when its reader closes;
 * what a stop in between left behind is swept once old, never a file still being served.
 */

const HOUR = 60 * 60_000;
let root: string;
let dir: string;

before(() => {
  root = mkdtempSync(path.join(tmpdir(), "omoi-outgoing-"));
  dir = path.join(root, "data", "outgoing");
});
after(() => rmSync(root, { recursive: true, force: true }));

const name = (index: number) => `${index.toString(16).padStart(24, "0")}.bundle`;

async function aged(file: string, agoMs: number) {
  const when = new Date(Date.now() - agoMs);
  await lutimes(file, when, when);
}

test("leftovers past the age are swept; recent ones, files being served and names Omoi does not make are kept; links are removed, never followed", async () => {
  const outgoing = new OutgoingBundles(dir);
  assert.deepEqual(await outgoing.sweep(), [], "no folder yet: nothing to do");

  // A download in progress: its file is old (a slow reader) but still held.
  const served = await outgoing.reserve();
  assert.equal(path.dirname(served), dir);
  assert.match(path.basename(served), /^[0-9a-f]{24}\.bundle$/);
  writeFileSync(served, "being read");
  await aged(served, 2 * OUTGOING_MAX_AGE_MS);

  // What a stop between writing and sending left: a bundle, and git's lock of one.
  const leftover = path.join(dir, name(1));
  writeFileSync(leftover, "old result");
  await aged(leftover, 2 * HOUR);
  const lock = path.join(dir, `${name(2)}.lock`);
  writeFileSync(lock, "half written");
  await aged(lock, 2 * HOUR);
  // Written a moment ago: perhaps another process's download.
  const recent = path.join(dir, name(3));
  writeFileSync(recent, "new result");

  // Names Omoi does not make, however old.
  const foreign = ["notes.txt", `${name(4)}.bak`, "upl_000000000000000000000001.bundle"];
  for (const file of foreign) {
    writeFileSync(path.join(dir, file), "not Omoi's");
    await aged(path.join(dir, file), 2 * HOUR);
  }

  // Links named like a bundle, to a file and to a folder outside: removed, targets untouched.
  const outside = path.join(root, "precious.txt");
  writeFileSync(outside, "keep me");
  const outsideDir = path.join(root, "precious-dir");
  mkdirSync(outsideDir);
  writeFileSync(path.join(outsideDir, "inside.txt"), "keep me too");
  const fileLink = path.join(dir, name(5));
  symlinkSync(outside, fileLink);
  await aged(fileLink, 2 * HOUR);
  const dirLink = path.join(dir, name(6));
  symlinkSync(outsideDir, dirLink);
  await aged(dirLink, 2 * HOUR);
  // The link itself is old, its target new: the link's own age counts.
  await utimes(outside, new Date(), new Date());

  const swept = await outgoing.sweep();
  assert.deepEqual(swept.sort(), [name(1), `${name(2)}.lock`, name(5), name(6)].sort());
  assert.ok(!existsSync(leftover) && !existsSync(lock));
  assert.ok(!existsSync(fileLink) && !existsSync(dirLink), "the links are gone");
  assert.equal(readFileSync(outside, "utf8"), "keep me", "the link's target is untouched");
  assert.equal(readFileSync(path.join(outsideDir, "inside.txt"), "utf8"), "keep me too");
  assert.equal(readFileSync(served, "utf8"), "being read", "the download keeps its file");
  assert.ok(existsSync(recent), "a recent bundle is kept");
  for (const file of foreign) assert.ok(existsSync(path.join(dir, file)), `${file} is kept`);

  // Once its reader is done, the file goes with its lock, and a later sweep has nothing of it.
  writeFileSync(`${served}.lock`, "");
  await outgoing.release(served);
  assert.ok(!existsSync(served) && !existsSync(`${served}.lock`));
  await aged(recent, 2 * HOUR);
  assert.deepEqual(await outgoing.sweep(), [name(3)]);
  assert.deepEqual(readdirSync(dir).sort(), [...foreign].sort());
});

test("a shorter age sweeps sooner; a held file is never swept whatever its age", async () => {
  const outgoing = new OutgoingBundles(path.join(root, "short"), { maxAgeMs: 1000 });
  const held = await outgoing.reserve();
  writeFileSync(held, "x");
  await aged(held, HOUR);
  const left = path.join(outgoing.dir, name(7));
  writeFileSync(left, "y");
  await aged(left, 5000);
  assert.deepEqual(await outgoing.sweep(), [name(7)]);
  assert.ok(existsSync(held));
  await outgoing.release(held);
  assert.deepEqual(readdirSync(outgoing.dir), []);
});
