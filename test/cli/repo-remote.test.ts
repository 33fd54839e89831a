import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { git, gitText } from "../../src/repo/git.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";
import { commitFiles, refsOf, tempDir } from "../repo/fixtures.ts";
import { omoiIn } from "./cli-process.ts";

/*
 * `omoi run --repo .` against a server on another machine: the server's health names a
 * machine other than the CLI's (OMOI_MACHINE_ID), its data dir and the person's checkout are
 * separate folders, and the checkout's path is never given to it. The committed history
 * travels as a git bundle; `omoi checkout` brings the result back as a bundle.
 */
describe("omoi with a server on another machine", () => {
  let server: TestOmoi;
  let root: string;
  let checkout: string;
  let viewer: TestViewer;
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    root = await tempDir({ after: (fn) => cleanups.push(fn) });
    checkout = path.join(root, "checkout");
    await git(["init", "--quiet", "-b", "main", checkout]);
    await commitFiles(checkout, { "README.md": "# mine\n", "app.py": "print(1)\n" }, "start");
    server = await startTestOmoi({
      OMOI_IDLE_WINDOW_MS: "600000",
      OMOI_MACHINE_ID: "another-machine",
    });
    viewer = new TestViewer(
      `${server.url.replace("http", "ws")}/ws/events?entity_types=sandbox,task&event_types=task.*,repo.*`,
    );
    await viewer.opened;
  });
  after(async () => {
    viewer?.close();
    await server?.stop();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const cli = (args: string[], cwd = checkout) => omoiIn(cwd, server.url, args);
  const completed = (taskId: string) =>
    viewer.waitFor(
      () =>
        viewer.events.some(
          (event) => event.task_id === taskId && event.event_type === "task.completed",
        ),
      "task.completed",
      120_000,
    );
  const eventOf = (taskId: string, type: string) =>
    viewer.events.find((event) => event.task_id === taskId && event.event_type === type);

  it("run --repo . sends the branch as a bundle; checkout brings the result back", async () => {
    const created = await cli(["run", "--repo", ".", "--detach", "[scenario:repo-edit] add hello"]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stderr, /sent main as a git bundle \(\d+ bytes\)/);
    const taskId = created.stdout.trim();
    const task = await api<{ repo: { url: string; base_branch: string } }>(
      server.url,
      "GET",
      `/api/v1/tasks/${taskId}`,
    );
    assert.match(task.body.repo.url, /^upload:upl_/);
    assert.equal(task.body.repo.base_branch, "main");
    await completed(taskId);
    const pushed = eventOf(taskId, "repo.pushed");
    assert.ok(pushed, JSON.stringify(viewer.events.map((event) => event.event_type)));
    // The server was never told where the checkout is.
    const database = await readFile(path.join(server.dataDir, "omoi.db"));
    const wal = await readFile(path.join(server.dataDir, "omoi.db-wal")).catch(() =>
      Buffer.alloc(0),
    );
    assert.ok(!database.includes(checkout) && !wal.includes(checkout));

    const before = await refsOf(checkout);
    const checkedOut = await cli(["checkout", taskId]);
    assert.equal(checkedOut.code, 0, checkedOut.stderr);
    const branch = String(pushed.payload.branch);
    assert.equal(await gitText(["branch", "--show-current"], { cwd: checkout }), branch);
    assert.equal(await gitText(["rev-parse", "HEAD"], { cwd: checkout }), pushed.payload.sha);
    assert.match(await readFile(path.join(checkout, "hello.py"), "utf8"), /def hello/);
    assert.equal((await refsOf(checkout))["refs/heads/main"], before["refs/heads/main"]);
    await git(["checkout", "--quiet", "main"], { cwd: checkout });
  });

  it("--include-uncommitted adds the working tree's changes without touching index, tree or refs", async () => {
    await writeFile(path.join(checkout, "app.py"), "print(2)\n");
    await writeFile(path.join(checkout, "draft.txt"), "not yet committed\n");
    await writeFile(path.join(checkout, "staged.txt"), "staged\n");
    await git(["add", "staged.txt"], { cwd: checkout });
    const index = path.join(checkout, ".git", "index");
    const before = {
      status: await gitText(["status", "--porcelain"], { cwd: checkout }),
      index: await readFile(index),
      indexTime: (await stat(index)).mtimeMs,
      refs: await refsOf(checkout),
      objects: await gitText(["count-objects"], { cwd: checkout }),
    };

    const created = await cli([
      "run",
      "--repo",
      ".",
      "--include-uncommitted",
      "--detach",
      "[scenario:repo-edit] add hello",
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stderr, /sent main with your uncommitted changes as a git bundle/);
    const taskId = created.stdout.trim();

    assert.equal(await gitText(["status", "--porcelain"], { cwd: checkout }), before.status);
    assert.deepEqual(await readFile(index), before.index);
    assert.equal((await stat(index)).mtimeMs, before.indexTime);
    assert.deepEqual(await refsOf(checkout), before.refs);
    assert.equal(await gitText(["count-objects"], { cwd: checkout }), before.objects);

    await completed(taskId);
    assert.ok(eventOf(taskId, "repo.pushed"));
    // The result, taken home into another clone, holds the uncommitted work under the agent's.
    const other = path.join(root, "other");
    await git(["clone", "--quiet", checkout, other]);
    const checkedOut = await cli(["checkout", taskId], other);
    assert.equal(checkedOut.code, 0, checkedOut.stderr);
    assert.equal(await readFile(path.join(other, "draft.txt"), "utf8"), "not yet committed\n");
    assert.equal(await readFile(path.join(other, "app.py"), "utf8"), "print(2)\n");
    assert.equal(await readFile(path.join(other, "staged.txt"), "utf8"), "staged\n");
    assert.match(await readFile(path.join(other, "hello.py"), "utf8"), /def hello/);
    const log = await gitText(["log", "--format=%s", "-4"], { cwd: other });
    assert.match(log, /Add hello\nUncommitted changes \(sent by omoi run\)\nstart$/);
  });

  it("a bundle larger than the server takes is refused before it is sent, naming the limit", async () => {
    const small = await startTestOmoi({
      OMOI_RUN_AGENTS: "0",
      OMOI_MACHINE_ID: "another-machine",
      OMOI_UPLOAD_MAX_BYTES: "2048",
    });
    try {
      const big = path.join(root, "big");
      await git(["init", "--quiet", "-b", "main", big]);
      await commitFiles(big, { "data.bin": randomBytes(8192).toString("base64") }, "data");
      const result = await omoiIn(big, small.url, ["run", "--repo", ".", "--detach", "x"]);
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /the bundle of main is \d+ bytes, more than the server takes \(2048, OMOI_UPLOAD_MAX_BYTES\)/,
      );
      assert.deepEqual(await readdir(path.join(small.dataDir, "uploads")).catch(() => []), []);
    } finally {
      await small.stop();
    }
  });

  it("an absolute path that does not exist here is the server's to judge", async () => {
    const result = await cli(["run", "--repo", "/srv/nowhere/project.git", "--detach", "x"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no repository at \/srv\/nowhere\/project\.git/);
  });

  it("a bare repository is sent like a checkout; one without commits is a clear error", async () => {
    const bare = path.join(root, "bare.git");
    await git(["clone", "--quiet", "--bare", checkout, bare]);
    const sent = await cli(["run", "--repo", bare, "--detach", "[scenario:quick] look"], root);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stderr, /sent main as a git bundle/);
    await api(server.url, "POST", `/api/v1/tasks/${sent.stdout.trim()}/cancel`);
    const empty = path.join(root, "empty.git");
    await git(["init", "--quiet", "--bare", empty]);
    const refused = await cli(["run", "--repo", empty, "--detach", "x"], root);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /main has no commits yet: there is nothing to send/);
  });

  it("a path that is not a git repository is a clear error before anything is sent", async () => {
    const result = await cli(["run", "--repo", root, "--detach", "x"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /is not a git repository/);
  });
});
