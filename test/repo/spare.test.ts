import assert from "node:assert/strict";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { git, gitText } from "../../src/repo/git.ts";
import { type RepoPlan, RepoService } from "../../src/repo/repo-service.ts";
import { parseRepoSource } from "../../src/repo/source.ts";
import { commitFiles, makeRemote, tempDir } from "./fixtures.ts";

/** A service that prepares checkouts ahead, on a fresh remote. */
async function setUp(t: Parameters<typeof tempDir>[0]) {
  const root = await tempDir(t);
  const remote = await makeRemote(root);
  const data = path.join(root, "data");
  const service = new RepoService({
    mirrorsDir: path.join(data, "mirrors"),
    prepareAhead: () => true,
  });
  t.after(() => service.close());
  const source = parseRepoSource(remote, { forbiddenRoots: [data] });
  const mirror = service.mirror(source);
  const spare = path.join(mirror.path, "omoi", "spare");
  let count = 0;
  /** Plans and prepares one task's workspace, as a task start does. */
  const start = async (request: { branch?: string; baseBranch?: string } = {}) => {
    const taskId = `tsk_${String(++count).padStart(16, "0")}`;
    const plan: RepoPlan = await service.plan(source, { title: "Fix it", taskId, ...request });
    const workspace = path.join(data, "workspaces", taskId);
    const clone = await service.prepareWorkspace(plan, workspace, taskId);
    return { plan, workspace, clone };
  };
  return { root, remote, data, service, spare, start };
}

const inode = async (file: string) => (await stat(file)).ino;

/** What a task's workspace must be, however it was made. */
async function assertWorkspace(workspace: string, branch: string, base: string, head: string) {
  const at = { cwd: workspace };
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
  const { service, spare, start, remote } = await setUp(t);
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
  await assertWorkspace(second.workspace, second.plan.branch, `main ${main}`, main);
  // The same as the first task's clone, file for file.
  assert.deepEqual(await tree(second.workspace), await tree(first.workspace));

  await service.spares.settled();
  assert.notEqual(await inode(path.join(spare, "src", "app.js")), prepared, "a fresh one is ready");
});

test("a checkout prepared before the remote moved is brought up to date: new, changed and deleted files, a continued branch", async (t) => {
  const { root, remote, service, start } = await setUp(t);
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
  await assertWorkspace(moved.workspace, moved.plan.branch, `main ${main}`, main);
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
  await assertWorkspace(continued.workspace, "feature", `main ${main}`, feature);
  assert.equal(await readFile(path.join(continued.workspace, "feature.txt"), "utf8"), "wip\n");
});

test("tasks starting together: one takes the prepared checkout, the others clone; every workspace is whole", async (t) => {
  const { service, spare, start, remote } = await setUp(t);
  await start();
  await service.spares.settled();
  const prepared = await inode(path.join(spare, "README.md"));
  const started = await Promise.all([start(), start(), start()]);
  const main = await gitText(["rev-parse", "main"], { cwd: remote });
  const took = [];
  for (const { workspace, plan } of started) {
    await assertWorkspace(workspace, plan.branch, `main ${main}`, main);
    if ((await inode(path.join(workspace, "README.md"))) === prepared) took.push(workspace);
  }
  assert.equal(took.length, 1, "the prepared checkout went to exactly one task");
});

test("a task's work never reaches the next task's prepared checkout", async (t) => {
  const { service, spare, start } = await setUp(t);
  const first = await start();
  await service.spares.settled();
  // The agent of the first task rewrites what it can reach in its own workspace.
  await writeFile(path.join(first.workspace, "README.md"), "agent was here\n");
  await writeFile(path.join(first.workspace, ".git", "hooks", "post-checkout"), "#!/bin/sh\n");
  await git(["config", "core.fsmonitor", "touch pwned"], { cwd: first.workspace });
  assert.equal(await readFile(path.join(spare, "README.md"), "utf8"), "# project\n");
  assert.deepEqual(
    await readdir(path.join(spare, ".git", "hooks")).then((names) =>
      names.filter((name) => !name.endsWith(".sample")),
    ),
    [],
  );
  const second = await start();
  assert.doesNotMatch(
    await readFile(path.join(second.workspace, ".git", "config"), "utf8"),
    /fsmonitor|pwned/,
  );
  assert.equal(await readFile(path.join(second.workspace, "README.md"), "utf8"), "# project\n");
});

test("closing stops a preparation under way and leaves nothing half-made", async (t) => {
  const { service, spare, start } = await setUp(t);
  await start();
  await service.close();
  const names = await readdir(path.dirname(spare));
  assert.deepEqual(
    names.filter((name) => name.startsWith("spare")),
    [],
    "no checkout, whole or half-made",
  );
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
  await service.spares.settled();
  const names = await readdir(path.join(service.mirror(source).path, "omoi"));
  assert.deepEqual(names, ["index"]);
});

/** Every tracked path with its blob id. */
async function tree(workspace: string): Promise<string> {
  return gitText(["ls-files", "--stage"], { cwd: workspace });
}
