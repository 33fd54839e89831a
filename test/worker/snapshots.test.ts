import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  evictSnapshots,
  restoreSnapshot,
  type SnapshotStoreConfig,
  saveSnapshot,
  snapshotKey,
  snapshotStoreConfig,
} from "../../src/worker/snapshots.ts";

let root: string;
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), "omoi-snapshots-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function folder(name: string, files: Record<string, string> = {}) {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), text);
  }
  return dir;
}

describe("snapshot key", () => {
  test("changes with the environment, the script and each manifest; not with other files", async () => {
    const workspace = await folder("key-ws", { "package.json": "{}", "src/a.ts": "1" });
    const base = await snapshotKey("env-1", "npm ci", workspace);
    assert.match(base, /^[0-9a-f]{64}$/);
    assert.equal(await snapshotKey("env-1", "npm ci", workspace), base);
    assert.notEqual(await snapshotKey("env-2", "npm ci", workspace), base);
    assert.notEqual(await snapshotKey("env-1", "npm install", workspace), base);
    await writeFile(path.join(workspace, "src/a.ts"), "2");
    assert.equal(await snapshotKey("env-1", "npm ci", workspace), base);
    await writeFile(path.join(workspace, "package.json"), '{"a":1}');
    const changed = await snapshotKey("env-1", "npm ci", workspace);
    assert.notEqual(changed, base);
    await writeFile(path.join(workspace, "requirements-dev.txt"), "pytest");
    assert.notEqual(await snapshotKey("env-1", "npm ci", workspace), changed);
  });

  test("a hostile manifest (a pipe, a symlink out) never blocks and never reads outside", async () => {
    const secret = await folder("key-secret", { "Cargo.lock": "secret" });
    const workspace = await folder("key-hostile");
    execFileSync("mkfifo", [path.join(workspace, "yarn.lock")]);
    await symlink(path.join(secret, "Cargo.lock"), path.join(workspace, "Cargo.lock"));
    const key = await snapshotKey("env-1", "x", workspace);
    const plain = await folder("key-plain", { "Cargo.lock": "secret" });
    assert.match(key, /^[0-9a-f]{64}$/);
    assert.notEqual(key, await snapshotKey("env-1", "x", plain));
  });
});

describe("snapshot store", () => {
  const store = (dir: string, maxBytes = 10 ** 9): SnapshotStoreConfig => ({
    dir,
    maxBytes,
    maxAgeMs: 60_000,
  });

  test("keeps what setup made (symlinks as symlinks, modes kept), restores it without overwriting the checkout", async () => {
    const workspace = await folder("s-ws", { "README.md": "repo" });
    const home = await folder("s-home");
    const before = new Set(["README.md"]);
    await folder("s-ws/node_modules/x", { "index.js": "module" });
    await writeFile(path.join(home, "tool"), "#!/bin/sh\n", { mode: 0o755 });
    await symlink("/etc/passwd", path.join(home, "link"));
    await writeFile(path.join(workspace, "README.md"), "changed by setup");
    const config = store(path.join(root, "s-store"));
    const key = "a".repeat(64);
    await saveSnapshot(config, key, { workspace, home, before }, 1_000);

    const workspace2 = await folder("s-ws2", { "README.md": "other checkout" });
    const home2 = path.join(root, "s-home2");
    assert.equal(
      await restoreSnapshot(config, key, { workspace: workspace2, home: home2 }, 2_000),
      true,
    );
    assert.equal(
      await readFile(path.join(workspace2, "node_modules/x/index.js"), "utf8"),
      "module",
    );
    assert.equal(await readFile(path.join(workspace2, "README.md"), "utf8"), "other checkout");
    assert.equal((await lstat(path.join(home2, "tool"))).mode & 0o777, 0o755);
    assert.equal(await readlink(path.join(home2, "link")), "/etc/passwd");
    assert.equal((await lstat(path.join(home2, "link"))).isSymbolicLink(), true);

    // Older than maxAgeMs: not used, and removed.
    assert.equal(
      await restoreSnapshot(config, key, { workspace: workspace2, home: home2 }, 1_000 + 60_001),
      false,
    );
    assert.equal(
      await restoreSnapshot(config, key, { workspace: workspace2, home: home2 }, 2_000),
      false,
    );
  });

  test("least recently used snapshots are evicted beyond the size bound", async () => {
    const config = store(path.join(root, "lru-store"));
    const home = await folder("lru-home", { blob: "x".repeat(100_000) });
    const workspace = await folder("lru-ws");
    const keys = ["1", "2", "3"].map((c) => c.repeat(64));
    for (const [i, key] of keys.entries()) {
      await saveSnapshot(config, key, { workspace, home, before: new Set() }, 1_000 + i);
    }
    // The oldest is used again, so the middle one is the least recently used.
    const target = { workspace: await folder("lru-t"), home: path.join(root, "lru-th") };
    assert.equal(await restoreSnapshot(config, keys[0] as string, target, 5_000), true);
    const removed = await evictSnapshots({ ...config, maxBytes: 250_000 });
    assert.deepEqual(removed, [keys[1]]);
    assert.deepEqual(await evictSnapshots({ ...config, maxBytes: 150_000 }), [keys[2]]);
    assert.equal(await restoreSnapshot(config, keys[1] as string, target, 5_000), false);
    assert.equal(await restoreSnapshot(config, keys[0] as string, target, 5_000), true);
  });

  test("the bounds come from OMOI_SNAPSHOT_MAX_BYTES / OMOI_SNAPSHOT_MAX_AGE_MS; bad values are refused", () => {
    const config = snapshotStoreConfig("/d", {
      OMOI_SNAPSHOT_MAX_BYTES: "1000",
      OMOI_SNAPSHOT_MAX_AGE_MS: "5",
    });
    assert.deepEqual(config, { dir: "/d", maxBytes: 1000, maxAgeMs: 5 });
    assert.throws(
      () => snapshotStoreConfig("/d", { OMOI_SNAPSHOT_MAX_BYTES: "lots" }),
      /OMOI_SNAPSHOT_MAX_BYTES/,
    );
  });
});
