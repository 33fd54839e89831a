import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { RepoError } from "../../src/repo/errors.ts";
import { gitText } from "../../src/repo/git.ts";
import { RepoService } from "../../src/repo/repo-service.ts";
import { parseRepoSource } from "../../src/repo/source.ts";
import { EXCLUDE_LIMIT, readWorkspaceExclude } from "../../src/repo/workspace-git-dir.ts";
import { makeRemote, refsOf, tempDir } from "./fixtures.ts";

/*
 * The workspace's `.git/info/exclude` is honoured when Omoi commits what the agent left, as
 * the agent's own `git add --all` would — and read as hostile data: never through a link,
 * never blocking, never more than a bounded amount, never by git opening it in place.
 */

const TASK = "tsk_infoexclude00001";

async function setUp(t: Parameters<typeof tempDir>[0]) {
  const root = await tempDir(t);
  const remote = await makeRemote(root);
  const service = new RepoService({ mirrorsDir: path.join(root, "data", "mirrors") });
  const source = parseRepoSource(remote, { forbiddenRoots: [path.join(root, "data")] });
  const plan = await service.plan(source, { title: "Exclude", taskId: TASK });
  const workspace = path.join(root, "data", "workspaces", "s1");
  await service.prepareWorkspace(plan, workspace);
  const exclude = path.join(workspace, ".git", "info", "exclude");
  /** Writes the workspace's files (folders made as needed). */
  const leave = async (files: Record<string, string>) => {
    for (const [name, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(workspace, name)), { recursive: true });
      await writeFile(path.join(workspace, name), content);
    }
  };
  const collect = () => service.collect(plan, workspace, TASK, "turn\n");
  const treeOf = async (sha: string, repository = workspace) =>
    (await gitText(["ls-tree", "-r", "--name-only", sha], { cwd: repository })).split("\n");
  return { root, remote, service, plan, workspace, exclude, leave, collect, treeOf };
}

test("info/exclude: untracked files the agent excluded are neither committed nor pushed; its other leftovers are, .gitignore honoured too", async (t) => {
  const { remote, service, plan, workspace, exclude, leave, collect, treeOf } = await setUp(t);
  await writeFile(exclude, "# the agent's own\nbuild/\n*.secret\n!keep.secret\n");
  await leave({
    "build/out.js": "built\n",
    "token.secret": "s3cr3t\n",
    "keep.secret": "not secret after all\n",
    ".gitignore": "cache/\n",
    "cache/blob": "cached\n",
    "notes.txt": "left uncommitted\n",
    "README.md": "# project\n\nchanged\n",
  });

  const result = await collect();
  assert.ok(result.committed);
  assert.deepEqual(result.warnings, []);
  const tree = await treeOf(result.tip);
  for (const name of ["notes.txt", "keep.secret", ".gitignore", "README.md", "src/app.js"])
    assert.ok(tree.includes(name), `${name} is committed`);
  for (const name of ["build/out.js", "token.secret", "cache/blob"])
    assert.ok(!tree.includes(name), `${name} is not committed`);

  await service.push(plan, TASK);
  const pushed = (await refsOf(remote))[`refs/heads/${plan.branch}`];
  assert.equal(pushed, result.tip);
  assert.deepEqual(await treeOf(pushed, remote), tree);
  // Nothing is lost: the excluded files stay in the workspace, and its git sees a clean tree.
  assert.equal(await readFile(path.join(workspace, "token.secret"), "utf8"), "s3cr3t\n");
  assert.equal(await gitText(["status", "--porcelain"], { cwd: workspace }), "");
});

test("info/exclude: a tracked file matching a pattern keeps its changes committed; a pattern never drops a tracked file", async (t) => {
  const { exclude, leave, collect, treeOf, workspace } = await setUp(t);
  await writeFile(exclude, "src/\nREADME.md\n*.js\n");
  await leave({ "src/app.js": "console.log(2);\n", "src/new.js": "untracked\n" });
  await rm(path.join(workspace, "src", "util.js"));

  const result = await collect();
  assert.ok(result.committed);
  const tree = await treeOf(result.tip);
  assert.deepEqual(tree, ["README.md", "src/app.js"], "util.js deleted, new.js left out");
  assert.equal(
    await gitText(["show", `${result.tip}:src/app.js`], { cwd: workspace }),
    "console.log(2);",
  );
});

test("info/exclude: a symbolic link there is refused, and read through never, even if it appears after Omoi's check", async (t) => {
  const { root, remote, exclude, leave, collect, workspace } = await setUp(t);
  const serverFile = path.join(root, "server-file");
  await writeFile(serverFile, "notes.txt\n");
  await rm(exclude);
  await symlink(serverFile, exclude);
  await leave({ "notes.txt": "left\n" });
  const before = await refsOf(remote);
  await assert.rejects(collect(), (error: unknown) => {
    assert.ok(error instanceof RepoError);
    assert.equal(error.code, "workspace_tampered");
    return true;
  });
  assert.deepEqual(await refsOf(remote), before, "nothing pushed");

  // A link planted between Omoi's check of `.git` and its read: not followed.
  const linked = await readWorkspaceExclude(workspace);
  assert.equal(linked.patterns, null);
  assert.match(linked.warning ?? "", /symbolic link/);
  // Nor a folder on the way: `.git/info` a link to a folder holding an `exclude`.
  const elsewhere = path.join(root, "elsewhere");
  await mkdir(elsewhere);
  await writeFile(path.join(elsewhere, "exclude"), "notes.txt\n");
  await rm(path.dirname(exclude), { recursive: true });
  await symlink(elsewhere, path.dirname(exclude));
  const outside = await readWorkspaceExclude(workspace);
  assert.equal(outside.patterns, null);
  assert.match(outside.warning ?? "", /leads out of the workspace/);
});

test("info/exclude: a FIFO there does not hold up the turn; it is ignored and said so", {
  timeout: 120_000,
}, async (t) => {
  const { exclude, leave, collect, treeOf } = await setUp(t);
  await rm(exclude);
  const made = spawnSync("mkfifo", [exclude]);
  assert.equal(made.status, 0, String(made.stderr));
  await leave({ "notes.txt": "left\n" });

  const result = await collect();
  assert.ok(result.committed);
  assert.ok((await treeOf(result.tip)).includes("notes.txt"));
  assert.equal(result.warnings.length, 1);
  assert.match(result.warnings[0], /not a regular file/);
});

test("info/exclude: beyond 64 KiB only its whole lines within the first 64 KiB are honoured, and said so", async (t) => {
  const { exclude, leave, collect, treeOf } = await setUp(t);
  const head = "early.txt\n";
  // Filler comments up to a line that the limit cuts after "cut": were the cut kept, it
  // would exclude a file named `cut`.
  const fillerLine = `#${"x".repeat(98)}\n`;
  let text = head;
  while (text.length + fillerLine.length < EXCLUDE_LIMIT - 3) text += fillerLine;
  text += `${"#".repeat(EXCLUDE_LIMIT - 3 - text.length - 1)}\n`;
  text += "cut-off.txt\nlate.txt\n";
  assert.ok(text.length > EXCLUDE_LIMIT);
  assert.equal(text.slice(EXCLUDE_LIMIT - 3, EXCLUDE_LIMIT), "cut");
  await writeFile(exclude, text);
  await leave({ "early.txt": "1\n", cut: "2\n", "cut-off.txt": "3\n", "late.txt": "4\n" });

  const result = await collect();
  const tree = await treeOf(result.tip);
  assert.ok(!tree.includes("early.txt"), "a pattern within the limit is honoured");
  for (const name of ["cut", "cut-off.txt", "late.txt"])
    assert.ok(tree.includes(name), `${name} is committed`);
  assert.equal(result.warnings.length, 1);
  assert.match(result.warnings[0], /larger than 65536 bytes/);
});

test("info/exclude: a core.excludesFile in the workspace's config is never honoured, wherever it points", async (t) => {
  const { root, exclude, leave, collect, treeOf, workspace } = await setUp(t);
  const agentExcludes = path.join(root, "agent-excludes");
  await writeFile(agentExcludes, "*.txt\n");
  await writeFile(
    path.join(workspace, ".git", "config"),
    `[core]\n\texcludesFile = ${agentExcludes}\n`,
    { flag: "a" },
  );
  await writeFile(exclude, "*.log\n");
  await leave({ "notes.txt": "left\n", "run.log": "log\n" });
  // The control: the agent's git would honour it.
  const naive = await gitText(["check-ignore", "notes.txt"], { cwd: workspace });
  assert.equal(naive, "notes.txt");

  const result = await collect();
  const tree = await treeOf(result.tip);
  assert.ok(tree.includes("notes.txt"), "the agent's core.excludesFile was not read");
  assert.ok(!tree.includes("run.log"), "its info/exclude was");
});
