import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FileEditTracker } from "../../src/worker/file-edits.ts";
import { readWorkspaceFile } from "../../src/worker/workspace-file.ts";

/*
 * The trusted worker reads files the agent controls: only regular files inside the
 * workspace, bounded in size and time, and never waiting on what the agent planted.
 */

let root: string;
let workspace: string;
before(async () => {
  root = await realpath(await mkdtemp(join(tmpdir(), "omoi-workspace-file-")));
  workspace = join(root, "workspace");
  await mkdir(workspace);
  await writeFile(join(root, "outside-secret.txt"), "outside secret");
});
after(async () => rm(root, { recursive: true, force: true }));

describe("readWorkspaceFile", () => {
  it("reads a regular file inside the workspace", async () => {
    await writeFile(join(workspace, "plain.txt"), "hello");
    assert.deepEqual(await readWorkspaceFile(workspace, join(workspace, "plain.txt")), {
      ok: true,
      text: "hello",
    });
  });

  it("refuses a named pipe at once instead of blocking on it", async () => {
    const pipe = join(workspace, "README.md");
    execFileSync("mkfifo", [pipe]);
    assert.deepEqual(await readWorkspaceFile(workspace, pipe), {
      ok: false,
      reason: "not_a_regular_file",
    });
  });

  it("refuses a socket, a folder and a device reached through a symlink", async () => {
    const socketPath = join(workspace, "agent.sock");
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      assert.deepEqual(await readWorkspaceFile(workspace, socketPath), {
        ok: false,
        reason: "not_a_regular_file",
      });
    } finally {
      server.close();
    }
    await mkdir(join(workspace, "folder"));
    assert.deepEqual(await readWorkspaceFile(workspace, join(workspace, "folder")), {
      ok: false,
      reason: "not_a_regular_file",
    });
    await symlink("/dev/zero", join(workspace, "zero"));
    assert.deepEqual(await readWorkspaceFile(workspace, join(workspace, "zero")), {
      ok: false,
      reason: "outside_workspace",
    });
  });

  it("follows symlinks only while they stay inside the workspace", async () => {
    await writeFile(join(workspace, "target.txt"), "inside");
    await symlink("target.txt", join(workspace, "inner-link"));
    await symlink(join(root, "outside-secret.txt"), join(workspace, "outer-link"));
    await symlink(root, join(workspace, "outer-folder"));
    assert.deepEqual(await readWorkspaceFile(workspace, join(workspace, "inner-link")), {
      ok: true,
      text: "inside",
    });
    for (const name of ["outer-link", "outer-folder/outside-secret.txt"]) {
      assert.deepEqual(await readWorkspaceFile(workspace, join(workspace, name)), {
        ok: false,
        reason: "outside_workspace",
      });
    }
  });

  it("refuses a file over the size bound", async () => {
    await writeFile(join(workspace, "big.txt"), "x".repeat(2048));
    assert.deepEqual(
      await readWorkspaceFile(workspace, join(workspace, "big.txt"), {
        maxBytes: 1024,
        timeoutMs: 2_000,
      }),
      { ok: false, reason: "too_large" },
    );
  });

  it("says a missing file is missing", async () => {
    assert.deepEqual(await readWorkspaceFile(workspace, join(workspace, "nothing.txt")), {
      ok: false,
      reason: "missing",
    });
  });
});

describe("FileEditTracker on hostile files", () => {
  it("an edit of a named pipe gives no diff and does not wait on the pipe", async () => {
    const pipe = join(workspace, "pipe-edit.md");
    execFileSync("mkfifo", [pipe]);
    const tracker = new FileEditTracker(workspace);
    await tracker.before("tool-1", "Edit", { file_path: pipe, old_string: "a", new_string: "b" });
    assert.equal(await tracker.after("tool-1"), null);
  });

  it("a pipe replaced by a file is diffed from nothing, never read as a pipe", async () => {
    const path = join(workspace, "replaced.md");
    execFileSync("mkfifo", [path]);
    const tracker = new FileEditTracker(workspace);
    await tracker.before("tool-2", "Write", { file_path: path, content: "new" });
    await rm(path);
    await writeFile(path, "new\n");
    const event = await tracker.after("tool-2");
    assert.ok(event);
    assert.match(String(event.payload.diff), /\+new/);
  });
});
