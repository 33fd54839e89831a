import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { RepoError } from "../../src/repo/errors.ts";
import { git, gitText } from "../../src/repo/git.ts";
import { commitMessage, type RepoPlan, RepoService } from "../../src/repo/repo-service.ts";
import { parseRepoSource, type RepoSource } from "../../src/repo/source.ts";
import { commitFiles, makeRemote, refsOf, serveGitHttp, tempDir } from "./fixtures.ts";

const TASK = "tsk_0123456789abcdef";

async function setUp(t: Parameters<typeof tempDir>[0]) {
  const root = await tempDir(t);
  const remote = await makeRemote(root);
  const service = new RepoService({ mirrorsDir: path.join(root, "data", "mirrors") });
  const parse = (input: string) =>
    parseRepoSource(input, { forbiddenRoots: [path.join(root, "data")] });
  return { root, remote, service, parse, workspace: path.join(root, "data", "workspaces", "s1") };
}

/** One agent turn: a commit of its own and a file it leaves uncommitted. */
async function agentTurn(workspace: string, turn: number) {
  await commitFiles(
    workspace,
    { [`src/feature${turn}.js`]: `export const f = ${turn};\n` },
    `agent commit ${turn}`,
  );
  await writeFile(path.join(workspace, "README.md"), `# project\n\nturn ${turn}\n`);
}

async function runLoop(
  service: RepoService,
  source: RepoSource,
  workspace: string,
  remote: string,
) {
  const before = await refsOf(remote);
  const plan = await service.plan(source, { title: "Add a feature", taskId: TASK });
  assert.equal(plan.baseBranch, "main");
  assert.equal(plan.branch, "omoi/add-a-feature-01234567");
  assert.equal(plan.continued, false);

  const clone = await service.prepareWorkspace(plan, workspace);
  assert.equal(clone.baseSha, before["refs/heads/main"]);
  assert.equal(
    await gitText(["symbolic-ref", "HEAD"], { cwd: workspace }),
    `refs/heads/${plan.branch}`,
  );
  assert.equal(
    await gitText(["remote"], { cwd: workspace }),
    "",
    "the sandbox's copy names no remote",
  );
  const config = await readFile(path.join(workspace, ".git", "config"), "utf8");
  assert.doesNotMatch(config, /url\s*=/);

  await agentTurn(workspace, 1);
  const message = commitMessage(
    "Added feature one.\n\nDetails follow.",
    "Add a feature",
    `task ${TASK}`,
  );
  const first = await service.collect(plan, workspace, TASK, message);
  assert.ok(first.committed, "Omoi committed what the agent left");
  assert.match(first.committed.message, /^Added feature one\./);
  assert.match(first.committed.message, new RegExp(`Omoi-Task: task ${TASK}`));
  // The workspace now holds Omoi's commit as its own history, with a clean tree.
  assert.equal(await gitText(["rev-parse", "HEAD"], { cwd: workspace }), first.tip);
  assert.equal(await gitText(["status", "--porcelain"], { cwd: workspace }), "");

  const changes = await service.changes(plan, TASK);
  assert.deepEqual(
    changes.files.map((file) => [file.path, file.status, file.added, file.removed]),
    [
      ["README.md", "modified", 2, 0],
      ["src/feature1.js", "added", 1, 0],
    ],
  );
  assert.equal(changes.commits.length, 2);
  assert.match(changes.diff, /\+turn 1/);

  const pushed = await service.push(plan, TASK);
  assert.equal(pushed.sha, first.tip);
  const after = await refsOf(remote);
  assert.equal(after[`refs/heads/${plan.branch}`], first.tip);

  // A follow-up turn adds a commit on the same branch.
  await agentTurn(workspace, 2);
  const second = await service.collect(plan, workspace, TASK, commitMessage("Turn two.", "t", "x"));
  await service.push(plan, TASK);
  const final = await refsOf(remote);
  assert.equal(final[`refs/heads/${plan.branch}`], second.tip);
  assert.equal(await gitText(["rev-parse", `${second.tip}~2`], { cwd: remote }), first.tip);
  // Only the task's branch moved.
  const { [`refs/heads/${plan.branch}`]: _branch, ...others } = final;
  assert.deepEqual(others, before);
}

test("file:// URL: clone, commit what was left, changes, push only the task branch, follow-up", async (t) => {
  const { service, parse, workspace, remote } = await setUp(t);
  await runLoop(service, parse(pathToFileURL(remote).href), workspace, remote);
});

test("server path: the same loop", async (t) => {
  const { service, parse, workspace, remote } = await setUp(t);
  await runLoop(service, parse(remote), workspace, remote);
});

test("smart HTTP with basic auth: the same loop; the credential travels only in the header", async (t) => {
  const { root, service, workspace, remote } = await setUp(t);
  const server = await serveGitHttp(root, { username: "alice", password: "s3cret-token-value" });
  t.after(() => server.close());
  const source = parseRepoSource(`${server.url}/project.git`, {
    forbiddenRoots: [],
    credential: { kind: "basic", username: "alice", password: "s3cret-token-value" },
  });
  await runLoop(service, source, workspace, remote);
  assert.ok(server.requests.some((request) => request.method === "POST"));
  const workspaceFiles = await gitText(["grep", "-I", "-l", "s3cret", "HEAD"], {
    cwd: workspace,
  }).catch(() => "");
  assert.equal(workspaceFiles, "");
});

test("a task's start asks the remote nothing more when its plan just found the branches the mirror holds; a branch that moved is fetched", async (t) => {
  const { root, service, remote } = await setUp(t);
  const server = await serveGitHttp(root, { username: "alice", password: "s3cret-token-value" });
  t.after(() => server.close());
  const source = parseRepoSource(`${server.url}/project.git`, {
    forbiddenRoots: [],
    credential: { kind: "basic", username: "alice", password: "s3cret-token-value" },
  });
  let count = 0;
  const start = async () => {
    const taskId = `tsk_${String(++count).padStart(8, "0")}00000000`;
    const plan = await service.plan(source, { title: "Add a feature", taskId });
    const planned = server.requests.length;
    const workspace = path.join(root, "data", "workspaces", taskId);
    const clone = await service.prepareWorkspace(plan, workspace, taskId);
    return { clone, workspace, asked: server.requests.length - planned };
  };
  const first = await start();
  assert.ok(first.asked > 0, "the first task fetches the new mirror");
  const second = await start();
  assert.equal(second.asked, 0, "the mirror held what the plan read: no second round trip");
  assert.equal(second.clone.baseSha, (await refsOf(remote))["refs/heads/main"]);

  // Someone pushes to main: the next task's plan sees it, and its start fetches it.
  const other = path.join(root, "other");
  await git(["clone", "--quiet", remote, other]);
  const moved = await commitFiles(other, { "src/moved.js": "export const m = 1;\n" }, "moved");
  await git(["push", "--quiet", "origin", "main"], { cwd: other });
  const third = await start();
  assert.ok(third.asked > 0, "a branch that moved is fetched");
  assert.equal(third.clone.baseSha, moved);
  assert.equal(await gitText(["rev-parse", "HEAD"], { cwd: third.workspace }), moved);
  assert.equal(
    await readFile(path.join(third.workspace, "src", "moved.js"), "utf8"),
    "export const m = 1;\n",
  );
});

test("checkable failures are clear errors before any work", async (t) => {
  const { root, service, parse, remote } = await setUp(t);
  const server = await serveGitHttp(root, { username: "alice", password: "right" });
  t.after(() => server.close());
  const expectCode = async (promise: Promise<unknown>, code: string) => {
    await assert.rejects(promise, (error: unknown) => {
      assert.ok(error instanceof RepoError, String(error));
      assert.equal(error.code, code, error.message);
      return true;
    });
  };
  const wrong = parseRepoSource(`${server.url}/project.git`, {
    forbiddenRoots: [],
    credential: { kind: "basic", username: "alice", password: "wrong-password" },
  });
  await expectCode(service.plan(wrong, { title: "t", taskId: TASK }), "auth_refused");
  const none = parseRepoSource(`${server.url}/project.git`, { forbiddenRoots: [] });
  await expectCode(service.plan(none, { title: "t", taskId: TASK }), "auth_refused");
  const right = { kind: "basic" as const, username: "alice", password: "right" };
  const missing = parseRepoSource(`${server.url}/missing.git`, {
    forbiddenRoots: [],
    credential: right,
  });
  await expectCode(service.plan(missing, { title: "t", taskId: TASK }), "not_found");

  await git(["init", "--quiet", "--bare", path.join(root, "empty.git")]);
  await expectCode(
    service.plan(parse(path.join(root, "empty.git")), { title: "t", taskId: TASK }),
    "empty_repository",
  );
  await expectCode(
    service.plan(parse(remote), { title: "t", taskId: TASK, baseBranch: "nope" }),
    "base_branch_missing",
  );
  await expectCode(
    service.plan(parse(remote), { title: "t", taskId: TASK, branch: "bad..name" }),
    "invalid_branch",
  );
  await expectCode(
    Promise.resolve().then(() => parse(path.join(root, "no-such-dir"))),
    "not_found",
  );
  await expectCode(service.plan(parse(root), { title: "t", taskId: TASK }), "not_a_repository");
  await mkdir(path.join(root, "data", "workspaces", "other"), { recursive: true });
  await expectCode(
    Promise.resolve().then(() => parse(path.join(root, "data", "workspaces", "other"))),
    "invalid_repository",
  );
  await expectCode(
    Promise.resolve().then(() => parse("https://user:pw@example.com/x.git")),
    "invalid_repository",
  );
  await expectCode(
    Promise.resolve().then(() => parse("git@github.com:o/r.git")),
    "unsupported",
  );
});

test("an existing branch is continued; a push the remote refuses is push_rejected, nothing forced", async (t) => {
  const { root, service, parse, workspace, remote } = await setUp(t);
  const source = parse(remote);
  const plan: RepoPlan = await service.plan(source, {
    title: "t",
    taskId: TASK,
    branch: "release",
  });
  assert.equal(plan.continued, true);
  const clone = await service.prepareWorkspace(plan, workspace);
  assert.equal(clone.continued, true);
  await agentTurn(workspace, 1);
  await service.collect(plan, workspace, TASK, "turn\n");

  // Someone else pushes to release meanwhile.
  const other = path.join(root, "other");
  await git(["clone", "--quiet", "--branch", "release", remote, other]);
  const theirs = await commitFiles(other, { "theirs.txt": "x\n" }, "theirs");
  await git(["push", "--quiet", "origin", "release"], { cwd: other });

  await assert.rejects(service.push(plan, TASK), (error: unknown) => {
    assert.ok(error instanceof RepoError);
    assert.equal(error.code, "push_rejected");
    assert.match(error.message, /release/);
    return true;
  });
  assert.equal((await refsOf(remote))["refs/heads/release"], theirs);
});

test("a local repository gets the result as a new branch; its checkout, index and tree are untouched", async (t) => {
  const { root, service, parse, workspace } = await setUp(t);
  const local = path.join(root, "checkout");
  await git(["init", "--quiet", "-b", "main", local]);
  await commitFiles(local, { "a.txt": "a\n" }, "one");
  await writeFile(path.join(local, "a.txt"), "dirty\n");
  await writeFile(path.join(local, "staged.txt"), "staged\n");
  await git(["add", "staged.txt"], { cwd: local });
  const status = await gitText(["status", "--porcelain"], { cwd: local });
  const index = await readFile(path.join(local, ".git", "index"));

  const plan = await service.plan(parse(local), { title: "Local work", taskId: TASK });
  await service.prepareWorkspace(plan, workspace);
  await writeFile(path.join(workspace, "b.txt"), "b\n");
  const result = await service.collect(plan, workspace, TASK, "add b\n");
  await service.push(plan, TASK);

  assert.equal(
    await gitText(["rev-parse", `refs/heads/${plan.branch}`], { cwd: local }),
    result.tip,
  );
  assert.equal(await gitText(["symbolic-ref", "HEAD"], { cwd: local }), "refs/heads/main");
  assert.equal(await gitText(["status", "--porcelain"], { cwd: local }), status);
  assert.deepEqual(await readFile(path.join(local, ".git", "index")), index);
  assert.equal(await readFile(path.join(local, "a.txt"), "utf8"), "dirty\n");
});

test("a repository with a submodule and Git LFS pointers: cloned as git clones it, and the task goes through", async (t) => {
  const { root, service, parse, workspace } = await setUp(t);
  const library = await makeRemote(root, "library");
  const librarySha = await gitText(["rev-parse", "main"], { cwd: library });
  const seed = path.join(root, "with-extras");
  await git(["init", "--quiet", "-b", "main", seed]);
  const pointer = [
    "version https://git-lfs.github.com/spec/v1",
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393",
    "size 104857600",
    "",
  ].join("\n");
  await writeFile(
    path.join(seed, ".gitmodules"),
    `[submodule "vendor/library"]\n\tpath = vendor/library\n\turl = ${library}\n`,
  );
  await mkdir(path.join(seed, "vendor", "library"), { recursive: true });
  await git(["update-index", "--add", "--cacheinfo", `160000,${librarySha},vendor/library`], {
    cwd: seed,
  });
  await commitFiles(
    seed,
    {
      ".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n",
      "assets/model.bin": pointer,
      "README.md": "x\n",
    },
    "with a submodule and an LFS pointer",
  );
  const remote = path.join(root, "with-extras.git");
  await git(["clone", "--quiet", "--bare", seed, remote]);

  const plan = await service.plan(parse(remote), { title: "Extras", taskId: TASK });
  await service.prepareWorkspace(plan, workspace);
  // The submodule's content is not fetched (its folder holds nothing) and the pointer file
  // stays a pointer (no LFS filter runs).
  const submodule = await readdir(path.join(workspace, "vendor", "library")).catch(() => []);
  assert.deepEqual(submodule, []);
  assert.equal(
    await gitText(["ls-files", "--stage", "vendor/library"], { cwd: workspace }),
    `160000 ${librarySha} 0\tvendor/library`,
  );
  assert.equal(await readFile(path.join(workspace, "assets", "model.bin"), "utf8"), pointer);

  await agentTurn(workspace, 1);
  const result = await service.collect(plan, workspace, TASK, "turn\n");
  const changes = await service.changes(plan, TASK);
  assert.deepEqual(
    changes.files.map((file) => file.path),
    ["README.md", "src/feature1.js"],
  );
  await service.push(plan, TASK);
  const tree = await gitText(["ls-tree", "-r", result.tip], { cwd: remote });
  assert.match(tree, new RegExp(`^160000 commit ${librarySha}\tvendor/library$`, "m"));
  assert.equal(
    await gitText(["show", `${result.tip}:assets/model.bin`], { cwd: remote }),
    pointer.trim(),
  );
});

test("commit message: the summary's first line, or the task's title when that line is only a markdown heading", () => {
  assert.equal(
    commitMessage("Added feature one.\n\nDetails.", "Add a feature", "x").split("\n")[0],
    "Added feature one.",
  );
  const headed = commitMessage("## Done\n\nI set up the workspace.", "Add a greeting file", "x");
  assert.equal(headed.split("\n")[0], "Add a greeting file");
  assert.match(
    headed,
    /\n\n## Done\n\nI set up the workspace\.\n\nOmoi-Task: x\n$/,
    "the summary stays in the body",
  );
  assert.equal(commitMessage("# Summary", "", "x").split("\n")[0], "Summary");
  assert.equal(commitMessage("#hashtag is text", "t", "x").split("\n")[0], "#hashtag is text");
});
