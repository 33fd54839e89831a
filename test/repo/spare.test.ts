import assert from "node:assert/strict";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { git, gitText } from "../../src/repo/git.ts";
import { type RepoPlan, RepoService } from "../../src/repo/repo-service.ts";
import { parseRepoSource } from "../../src/repo/source.ts";
import { RepoUploads } from "../../src/repo/uploads.ts";
import { commitFiles, makeRemote, tempDir } from "./fixtures.ts";

/** A service that prepares checkouts ahead, on a fresh remote. */
async function setUp(t: Parameters<typeof tempDir>[0], prepareAheadDelayMs?: number) {
  const root = await tempDir(t);
  const remote = await makeRemote(root);
  const data = path.join(root, "data");
  const service = new RepoService({
    mirrorsDir: path.join(data, "mirrors"),
    prepareAhead: () => true,
    prepareAheadDelayMs,
  });
  t.after(() => service.close());
  const source = parseRepoSource(remote, { forbiddenRoots: [data] });
  const mirror = service.mirror(source);
  const spare = path.join(mirror.path, "omoi", "spare");
  let count = 0;
  /**
   * Plans and prepares one task's workspace, as a task start does; then, unless told not to,
   * asks for the next checkout, as the end of the task's turn does.
   */
  const start = async (
    request: { branch?: string; baseBranch?: string; prepareNext?: boolean } = {},
  ) => {
    // Distinct in their first 8 characters, as a task's default branch name takes those.
    const taskId = `tsk_${String(++count).padStart(8, "0")}00000000`;
    const { prepareNext = true, ...names } = request;
    const plan: RepoPlan = await service.plan(source, { title: "Fix it", taskId, ...names });
    const workspace = path.join(data, "workspaces", taskId);
    const clone = await service.prepareWorkspace(plan, workspace, taskId);
    if (prepareNext) service.prepareNext(plan);
    return { taskId, plan, workspace, clone };
  };
  return { root, remote, data, service, mirror, spare, start };
}

const inode = async (file: string) => (await stat(file)).ino;

/** What a task's workspace must be, however it was made. */
async function assertWorkspace(
  workspace: string,
  branch: string,
  base: string,
  head: string,
  mirrorPath: string,
) {
  const at = { cwd: workspace };
  for (const file of await readdir(path.join(workspace, ".git"), { recursive: true })) {
    if (file.startsWith("objects")) continue;
    const full = path.join(workspace, ".git", file);
    if (!(await stat(full)).isFile()) continue;
    assert.ok(
      !(await readFile(full, "latin1")).includes(mirrorPath),
      `.git/${file} does not name the mirror`,
    );
  }
  assert.equal(await gitText(["symbolic-ref", "HEAD"], at), `refs/heads/${branch}`);
  assert.equal(await gitText(["rev-parse", "HEAD"], at), head);
  assert.equal(await gitText(["status", "--porcelain", "--untracked-files=all"], at), "");
  assert.equal(await gitText(["remote"], at), "", "the sandbox's copy names no remote");
  const config = await readFile(path.join(workspace, ".git", "config"), "utf8");
  assert.doesNotMatch(config, /url\s*=/);
  const refs = (await gitText(["for-each-ref", "--format=%(refname) %(objectname)"], at))
    .split("\n")
    .sort();
  const expected = [`refs/heads/${branch} ${head}`];
  if (branch !== base.split(" ")[0]) expected.push(`refs/heads/${base}`);
  assert.deepEqual(refs, expected.sort());
}

test("the next task on a repository takes the checkout prepared for it, and a new one is prepared", async (t) => {
  const { service, mirror, spare, start, remote } = await setUp(t);
  const first = await start();
  await service.spares.settled();
  assert.ok((await stat(path.join(spare, ".git"))).isDirectory(), "a checkout is prepared");
  assert.deepEqual(
    (await readdir(path.dirname(spare))).filter((name) => name.startsWith("spare")),
    ["spare"],
    "nothing half-made is left beside it",
  );
  const prepared = await inode(path.join(spare, "src", "app.js"));

  const second = await start();
  assert.equal(
    await inode(path.join(second.workspace, "src", "app.js")),
    prepared,
    "the prepared checkout became the workspace",
  );
  const main = await gitText(["rev-parse", "main"], { cwd: remote });
  assert.equal(second.clone.baseSha, main);
  await assertWorkspace(second.workspace, second.plan.branch, `main ${main}`, main, mirror.path);
  // The same as the first task's clone, file for file.
  assert.deepEqual(await tree(second.workspace), await tree(first.workspace));

  await service.spares.settled();
  assert.notEqual(await inode(path.join(spare, "src", "app.js")), prepared, "a fresh one is ready");
});

test("a checkout prepared before the remote moved is brought up to date: new, changed and deleted files, a continued branch", async (t) => {
  const { root, remote, service, mirror, start } = await setUp(t);
  await start();
  await service.spares.settled();

  // Someone pushes to main (a change, a new file, a deletion) and to a new feature branch.
  const other = path.join(root, "other");
  await git(["clone", "--quiet", remote, other]);
  await writeFile(path.join(other, "README.md"), "# project\n\nmoved on\n");
  await git(["rm", "--quiet", "src/util.js"], { cwd: other });
  const main = await commitFiles(other, { "src/new.js": "export const two = 2;\n" }, "moved");
  await git(["checkout", "--quiet", "-b", "feature"], { cwd: other });
  const feature = await commitFiles(other, { "feature.txt": "wip\n" }, "feature");
  await git(["push", "--quiet", "origin", "main", "feature"], { cwd: other });

  const moved = await start();
  assert.equal(moved.clone.baseSha, main);
  await assertWorkspace(moved.workspace, moved.plan.branch, `main ${main}`, main, mirror.path);
  assert.equal(
    await readFile(path.join(moved.workspace, "README.md"), "utf8"),
    "# project\n\nmoved on\n",
  );
  assert.equal(
    await readFile(path.join(moved.workspace, "src/new.js"), "utf8"),
    "export const two = 2;\n",
  );
  await assert.rejects(stat(path.join(moved.workspace, "src/util.js")), { code: "ENOENT" });

  await service.spares.settled();
  const continued = await start({ branch: "feature" });
  assert.equal(continued.clone.continued, true);
  assert.equal(continued.clone.headSha, feature);
  await assertWorkspace(continued.workspace, "feature", `main ${main}`, feature, mirror.path);
  assert.equal(await readFile(path.join(continued.workspace, "feature.txt"), "utf8"), "wip\n");
});

test("tasks starting together: one takes the prepared checkout, the others clone; every workspace is whole", async (t) => {
  const { service, mirror, spare, start, remote } = await setUp(t);
  await start();
  await service.spares.settled();
  const prepared = await inode(path.join(spare, "README.md"));
  const started = await Promise.all([start(), start(), start()]);
  const main = await gitText(["rev-parse", "main"], { cwd: remote });
  const took = [];
  for (const { workspace, plan } of started) {
    await assertWorkspace(workspace, plan.branch, `main ${main}`, main, mirror.path);
    if ((await inode(path.join(workspace, "README.md"))) === prepared) took.push(workspace);
  }
  assert.equal(took.length, 1, "the prepared checkout went to exactly one task");
});

test("a task's work never reaches the next task's prepared checkout, even once collected and pushed", async (t) => {
  const { remote, service, mirror, start } = await setUp(t);
  const first = await start({ prepareNext: false });
  // The first task's agent writes what it can reach in its own workspace: files, a commit,
  // a hook and git config. Omoi collects its turn into the mirror and pushes its branch,
  // then prepares the next checkout, as the end of a turn does.
  await commitFiles(first.workspace, { "agent.txt": "from the agent\n" }, "agent commit");
  await writeFile(path.join(first.workspace, "README.md"), "agent was here\n");
  await writeFile(path.join(first.workspace, ".git", "hooks", "post-checkout"), "#!/bin/sh\n");
  await git(["config", "core.fsmonitor", "touch pwned"], { cwd: first.workspace });
  await service.collect(first.plan, first.workspace, first.taskId, "turn\n");
  await service.push(first.plan, first.taskId);
  service.prepareNext(first.plan);
  await service.spares.settled();

  const second = await start();
  const main = await gitText(["rev-parse", "main"], { cwd: remote });
  await assertWorkspace(second.workspace, second.plan.branch, `main ${main}`, main, mirror.path);
  assert.equal(await readFile(path.join(second.workspace, "README.md"), "utf8"), "# project\n");
  await assert.rejects(stat(path.join(second.workspace, "agent.txt")), { code: "ENOENT" });
  const hooks = await readdir(path.join(second.workspace, ".git", "hooks"));
  assert.deepEqual(
    hooks.filter((name) => !name.endsWith(".sample")),
    [],
  );
  assert.doesNotMatch(
    await readFile(path.join(second.workspace, ".git", "config"), "utf8"),
    /fsmonitor|pwned/,
  );
});

test("a prepared checkout made at another base: a branch nested under that base's name still starts", async (t) => {
  const { root, remote, mirror, service, start } = await setUp(t);
  const other = path.join(root, "other");
  await git(["clone", "--quiet", remote, other]);
  await git(["push", "--quiet", "origin", "main:dev"], { cwd: other });
  await start({ baseBranch: "dev" });
  await service.spares.settled();
  await git(["push", "--quiet", "origin", "--delete", "dev"], { cwd: other });

  const nested = await start({ branch: "dev/fix" });
  const main = await gitText(["rev-parse", "main"], { cwd: remote });
  await assertWorkspace(nested.workspace, "dev/fix", `main ${main}`, main, mirror.path);
});

test("when .gitattributes changed since the checkout was prepared, the task's files are the ones a fresh clone has", async (t) => {
  const { root, remote, service, start } = await setUp(t);
  const other = path.join(root, "other");
  await git(["clone", "--quiet", remote, other]);
  await commitFiles(other, { "notes.txt": "a\nb\n" }, "notes");
  await git(["push", "--quiet", "origin", "main"], { cwd: other });
  await start();
  await service.spares.settled();
  // Only the attributes change: notes.txt's content (its blob) stays the same.
  await commitFiles(other, { ".gitattributes": "*.txt eol=crlf\n" }, "line endings");
  await git(["push", "--quiet", "origin", "main"], { cwd: other });

  const after = await start();
  const fresh = path.join(root, "fresh");
  await git(["clone", "--quiet", remote, fresh]);
  assert.equal(
    await readFile(path.join(after.workspace, "notes.txt"), "utf8"),
    await readFile(path.join(fresh, "notes.txt"), "utf8"),
  );
  assert.equal(await readFile(path.join(fresh, "notes.txt"), "utf8"), "a\r\nb\r\n");
});

test("closing kills a preparation under way and leaves nothing half-made", async (t) => {
  const { service, spare, start } = await setUp(t, 0);
  await start();
  const folder = path.dirname(spare);
  // Wait until the preparation has begun writing its copy (or, on a fast machine, finished).
  for (let tries = 0; tries < 2000; tries++) {
    const names = await readdir(folder);
    if (names.includes("spare.tmp") || names.includes("spare")) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await service.close();
  const names = (await readdir(folder)).filter((name) => name.startsWith("spare"));
  assert.ok(
    names.length === 0 || (names.length === 1 && names[0] === "spare"),
    `only a whole checkout may be left, not ${names.join(", ")}`,
  );
  if (names.length === 1) await assertWhole(spare);
});

test("uploads get no prepared checkout; a repository named by path or URL does", async (t) => {
  const root = await tempDir(t);
  const uploads = new RepoUploads(path.join(root, "uploads"), 1 << 20);
  await git([
    "init",
    "--quiet",
    "--bare",
    path.join(root, "uploads", "upl_0123456789abcdef01234567.git"),
  ]);
  const upload = await uploads.source("upload:upl_0123456789abcdef01234567");
  assert.ok(upload);
  assert.equal(uploads.holds(upload), true);
  const remote = await makeRemote(root);
  assert.equal(uploads.holds(parseRepoSource(remote, { forbiddenRoots: [] })), false);
});

test("without prepareAhead, no checkout is prepared", async (t) => {
  const root = await tempDir(t);
  const remote = await makeRemote(root);
  const data = path.join(root, "data");
  const service = new RepoService({ mirrorsDir: path.join(data, "mirrors") });
  const source = parseRepoSource(remote, { forbiddenRoots: [data] });
  const plan = await service.plan(source, { title: "t", taskId: "tsk_0000000000000001" });
  await service.prepareWorkspace(
    plan,
    path.join(data, "workspaces", "one"),
    "tsk_0000000000000001",
  );
  service.prepareNext(plan);
  await service.spares.settled();
  const names = await readdir(path.join(service.mirror(source).path, "omoi"));
  assert.deepEqual(names, ["index"]);
});

/** A checkout with every tracked file in place and nothing else to report. */
async function assertWhole(checkout: string) {
  assert.equal(
    await gitText(["status", "--porcelain", "--untracked-files=all"], { cwd: checkout }),
    "",
  );
}

/** Every tracked path with its blob id. */
async function tree(workspace: string): Promise<string> {
  return gitText(["ls-files", "--stage"], { cwd: workspace });
}
