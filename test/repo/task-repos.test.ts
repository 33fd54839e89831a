import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { newTaskId } from "../../src/protocol/ids.ts";
import { CreateTaskBody } from "../../src/protocol/task.ts";
import type { RepoError } from "../../src/repo/errors.ts";
import { gitText } from "../../src/repo/git.ts";
import { RepoService } from "../../src/repo/repo-service.ts";
import { RepositoryRegistry } from "../../src/repo/repositories.ts";
import { type RepoEventSink, TaskRepos } from "../../src/repo/task-repos.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { Vault } from "../../src/vault/vault.ts";
import { task as storeTask } from "../store/fixtures.ts";
import { commitFiles, makeRemote, refsOf, serveGitHttp, tempDir } from "./fixtures.ts";
import { startGitHubStandIn } from "./github-stand-in.ts";

const TOKEN = "ghp_standintoken0000000000000000000001";

async function setUp(t: Parameters<typeof tempDir>[0], app = false, prepareAhead = false) {
  const root = await tempDir(t);
  await mkdir(path.join(root, "acme"));
  const remote = await makeRemote(path.join(root, "acme"), "project");
  let github: Awaited<ReturnType<typeof startGitHubStandIn>> | undefined;
  /** The PATs the git server takes now (a test rotates them as a forge would). */
  const tokens = new Set(app ? [] : [TOKEN]);
  /** Whether the git server serves a request without credentials (a public repository). */
  const access = { anonymous: false };
  // The git server takes the PAT, or any installation token the API stand-in minted (as GitHub does).
  const git = await serveGitHttp(
    root,
    (_user, password) => tokens.has(password) || (github?.mintedTokens.includes(password) ?? false),
    { anonymous: () => access.anonymous },
  );
  t.after(() => git.close());
  const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const appConfig = {
    id: 4242,
    installationId: 77,
    publicKeyPem: keys.publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
  github = await startGitHubStandIn({
    owner: "acme",
    repo: "project",
    gitDir: remote,
    tokens: app ? [] : [TOKEN],
    app: appConfig,
  });
  t.after(() => github.close());
  const dataDir = path.join(root, "data");
  const store = new SqliteStore(path.join(dataDir, "omoi.db"));
  await store.migrate();
  t.after(() => store.close());
  const service = new RepoService({
    mirrorsDir: path.join(dataDir, "mirrors"),
    ...(prepareAhead ? { prepareAhead: () => true, prepareAheadDelayMs: 0 } : {}),
  });
  t.after(() => service.close());
  const registry = new RepositoryRegistry(
    store,
    new Vault("a-test-secret-of-some-length", "repositories"),
    service,
    [dataDir],
  );
  const repos = new TaskRepos({
    store,
    service,
    registry,
    taskLink: (id) => `http://omoi.test/#/tasks/${id}`,
  });
  const registered = await registry.register({
    name: "project",
    url: `${git.url}/acme/project.git`,
    api_base_url: github.url,
    credential: app
      ? {
          kind: "github_app",
          app_id: appConfig.id,
          installation_id: appConfig.installationId,
          private_key: keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        }
      : { kind: "token", token: TOKEN },
  });
  return {
    root,
    remote,
    git,
    github,
    dataDir,
    store,
    service,
    repos,
    registry,
    registered,
    tokens,
    access,
  };
}

/** Creates a task the way the API does and prepares its workspace. */
async function createTask(setup: Awaited<ReturnType<typeof setUp>>, body: Record<string, unknown>) {
  const parsed = CreateTaskBody.parse({ prompt: "Add a greeting", ...body });
  const id = newTaskId();
  const repo = await setup.repos.plan(parsed, id, "Add a greeting");
  const task = await setup.store.createTask(
    storeTask({ id, title: "Add a greeting", prompt: parsed.prompt, repo }),
  );
  const workspace = setup.repos.workspaceFor(setup.dataDir, id);
  const events: { type: string; payload: Record<string, unknown> }[] = [];
  const emit: RepoEventSink = async (definition, payload) => {
    events.push({ type: definition.type, payload: payload as Record<string, unknown> });
  };
  await setup.repos.prepareWorkspace(task, workspace, emit);
  await setup.store.updateTask(id, { workspace });
  return { id, workspace, events, emit };
}

test("a registered repository: clone, turn, changes, push, auto pull request, and a follow-up updates it", async (t) => {
  const setup = await setUp(t);
  assert.equal(setup.registered.credential_hint, "ghp_…0001");
  assert.ok(!JSON.stringify(setup.registered).includes(TOKEN));
  const before = await refsOf(setup.remote);
  const { id, workspace, events, emit } = await createTask(setup, {
    repo: "project",
    auto_pr: true,
  });
  assert.deepEqual(
    events.map((event) => event.type),
    ["repo.cloned"],
  );
  assert.equal(events[0].payload.url, `${setup.git.url}/acme/project.git`);

  await writeFile(path.join(workspace, "hello.txt"), "hello\n");
  await setup.repos.afterTurn(id, "Added a greeting file.", emit);
  assert.deepEqual(
    events.map((event) => event.type),
    ["repo.cloned", "repo.committed", "repo.changes", "repo.pushed", "task.pull_request"],
  );
  const task = (await setup.store.getTask(id))!;
  const branch = task.repo!.branch;
  assert.equal((await refsOf(setup.remote))[`refs/heads/${branch}`], task.repo!.pushed_sha);
  assert.deepEqual(task.repo!.changes, { files: 1, added: 1, removed: 0 });
  assert.equal(setup.github.pulls.length, 1);
  const pull = setup.github.pulls[0];
  assert.equal(pull.head.ref, branch);
  assert.equal(pull.base.ref, "main");
  assert.equal(pull.title, "Add a greeting");
  assert.match(pull.body, new RegExp(`http://omoi.test/#/tasks/${id}`));
  assert.deepEqual(task.repo!.pull_request, {
    number: 1,
    url: pull.html_url,
    state: "open",
    draft: false,
  });

  // A follow-up turn adds a commit; the same pull request follows, no second one.
  await commitFiles(workspace, { "second.txt": "2\n" }, "agent's own commit");
  await setup.repos.afterTurn(id, "More.", emit);
  assert.equal(setup.github.pulls.length, 1);
  const after = await refsOf(setup.remote);
  assert.equal(after[`refs/heads/${branch}`], (await setup.store.getTask(id))!.repo!.pushed_sha);
  const { [`refs/heads/${branch}`]: _branch, ...others } = after;
  assert.deepEqual(others, before);
  // Asking again answers with the open pull request.
  const again = await setup.repos.pullRequest(id, { draft: true }, emit);
  assert.equal(again.pull_request?.number, 1);
  assert.ok(
    setup.github.log.every((entry) => entry.status < 400),
    JSON.stringify(setup.github.log),
  );

  const changes = await setup.repos.changes(id);
  assert.deepEqual(
    changes.files.map((file) => file.path),
    ["hello.txt", "second.txt"],
  );
  assert.equal(changes.commits.length, 2);

  // The credential is nowhere in what was emitted or stored as plain text.
  assert.ok(!JSON.stringify(events).includes(TOKEN));
  const database = await readFile(path.join(setup.dataDir, "omoi.db"));
  const wal = await readFile(path.join(setup.dataDir, "omoi.db-wal")).catch(() => Buffer.alloc(0));
  assert.ok(!database.includes(TOKEN) && !wal.includes(TOKEN), "sealed at rest");
});

test("a task made before its repository's token was rotated pushes with the new token", async (t) => {
  const setup = await setUp(t);
  const { id, workspace, events, emit } = await createTask(setup, { repo: "project" });
  const NEW_TOKEN = "ghp_rotatedtoken000000000000000000002";
  setup.tokens.clear();
  setup.tokens.add(NEW_TOKEN); // the forge revoked the old token
  const edited = await setup.registry.update("project", {
    credential: { kind: "token", token: NEW_TOKEN },
  });
  assert.equal(edited.credential_hint, "ghp_…0002");

  await writeFile(path.join(workspace, "rotated.txt"), "after the rotation\n");
  await setup.repos.afterTurn(id, "Work after the rotation.", emit);
  assert.ok(
    events.some((event) => event.type === "repo.pushed"),
    JSON.stringify(events),
  );
  const task = (await setup.store.getTask(id))!;
  assert.equal(
    (await refsOf(setup.remote))[`refs/heads/${task.repo!.branch}`],
    task.repo!.pushed_sha,
  );
  assert.ok(!JSON.stringify(events).includes(NEW_TOKEN));
});

test("a refused credential removal keeps the token working; once the repository is public, the next task clones without one", async (t) => {
  const setup = await setUp(t);
  const stored = await setup.store.getRepository("project");
  await assert.rejects(setup.registry.update("project", { credential: null }), (error: unknown) => {
    assert.equal((error as RepoError).code, "auth_refused");
    assert.match(String((error as Error).message), /needs a credential/);
    return true;
  });
  assert.deepEqual(await setup.store.getRepository("project"), stored, "nothing changed");
  const branches = await setup.repos.branches("project");
  assert.equal(branches.default_branch, "main", "the token still opens the remote");

  setup.access.anonymous = true; // the repository was made public
  const removed = await setup.registry.update("project", { credential: null });
  assert.equal(removed.credential_kind, "none");
  assert.equal(removed.credential_hint, null);
  assert.equal((await setup.store.getRepository("project"))?.credential_ciphertext, null);

  // The token still opens the server, so a request sent with it would carry it.
  const asked = setup.git.requests.length;
  const { workspace, events } = await createTask(setup, { repo: "project" });
  assert.deepEqual(
    events.map((event) => event.type),
    ["repo.cloned"],
  );
  assert.equal(await readFile(path.join(workspace, "README.md"), "utf8"), "# project\n");
  const since = setup.git.requests.slice(asked);
  assert.ok(
    since.some((request) => request.method === "POST"),
    "the first clone fetched from the remote",
  );
  assert.deepEqual(
    since.filter((request) => request.authorization !== undefined),
    [],
    "no credential was sent",
  );
});

test("a GitHub App credential is removed the same way: no installation token is minted afterwards", async (t) => {
  const setup = await setUp(t, true);
  await assert.rejects(
    setup.registry.update("project", { credential: null }),
    /needs a credential/,
  );
  assert.equal((await setup.store.getRepository("project"))?.credential_kind, "github_app");
  setup.access.anonymous = true;
  const removed = await setup.registry.update("project", { credential: null });
  assert.equal(removed.credential_kind, "none");
  assert.equal(removed.credential_hint, null);
  const minted = setup.github.mintedTokens.length;
  const { events } = await createTask(setup, { repo: "project" });
  assert.deepEqual(
    events.map((event) => event.type),
    ["repo.cloned"],
  );
  assert.equal(setup.github.mintedTokens.length, minted, "no token was minted");
  const stored = await setup.store.getRepository("project");
  assert.equal(stored?.credential_ciphertext, null);
});

test("a GitHub App: installation tokens minted from the App key per operation push and open a draft", async (t) => {
  const setup = await setUp(t, true);
  assert.match(setup.registered.credential_hint ?? "", /GitHub App 4242/);
  const minted = setup.github.mintedTokens.length;
  const { id, workspace, events, emit } = await createTask(setup, { repo: "project" });
  await writeFile(path.join(workspace, "app.txt"), "from an app\n");
  await setup.repos.afterTurn(id, "Work.", emit);
  assert.ok(
    events.some((event) => event.type === "repo.pushed"),
    JSON.stringify(events),
  );
  const result = await setup.repos.pullRequest(id, { draft: true }, emit);
  assert.equal(result.pull_request?.draft, true);
  assert.equal(setup.github.pulls[0].draft, true);
  assert.ok(setup.github.mintedTokens.length >= minted + 3, "each operation mints its own token");
  const tokens = JSON.stringify(events) + JSON.stringify(await setup.store.getTask(id));
  for (const token of setup.github.mintedTokens) assert.ok(!tokens.includes(token));
});

test("a push the remote refuses ends as repo.push_failed with the reason; the workspace keeps its commit", async (t) => {
  const setup = await setUp(t);
  const { id, workspace, events, emit } = await createTask(setup, {
    repo: "project",
    branch: "release",
  });
  await writeFile(path.join(workspace, "x.txt"), "x\n");
  // The remote's release branch moves on meanwhile.
  const other = path.join(setup.root, "other");
  const { git } = await import("../../src/repo/git.ts");
  await git(["clone", "--quiet", "--branch", "release", setup.remote, other]);
  await commitFiles(other, { "theirs.txt": "t\n" }, "theirs");
  await git(["push", "--quiet", "origin", "release"], { cwd: other });

  await setup.repos.afterTurn(id, "Mine.", emit);
  const failed = events.find((event) => event.type === "repo.push_failed");
  assert.ok(failed, JSON.stringify(events));
  assert.equal(failed.payload.code, "push_rejected");
  assert.match(String(failed.payload.reason), /release/);
  const task = (await setup.store.getTask(id))!;
  assert.equal(task.repo!.pushed_sha, null);
  assert.match(task.repo!.last_error ?? "", /rejected/);
  assert.equal(await gitText(["rev-parse", "HEAD"], { cwd: workspace }), task.repo!.head_sha);
});

test("a repository's next checkout is prepared once a task's turn is pushed, never while the task starts; the next task takes it", async (t) => {
  const setup = await setUp(t, false, true);
  const first = await createTask(setup, { repo: "project" });
  await setup.service.spares.settled();
  const mirror = (await readdir(path.join(setup.dataDir, "mirrors"))).find((name) =>
    name.endsWith(".git"),
  )!;
  const spare = path.join(setup.dataDir, "mirrors", mirror, "omoi", "spare");
  await assert.rejects(stat(spare), { code: "ENOENT" }, "nothing is prepared while a task starts");

  await writeFile(path.join(first.workspace, "hello.txt"), "hello\n");
  await setup.repos.afterTurn(first.id, "Added a greeting file.", first.emit);
  assert.ok(first.events.some((event) => event.type === "repo.pushed"));
  await setup.service.spares.settled();
  const prepared = (await stat(path.join(spare, "README.md"))).ino;

  const second = await createTask(setup, { repo: "project" });
  assert.equal((await stat(path.join(second.workspace, "README.md"))).ino, prepared);
  await assert.rejects(stat(path.join(second.workspace, "hello.txt")), { code: "ENOENT" });
  const at = { cwd: second.workspace };
  assert.equal(await gitText(["status", "--porcelain", "--untracked-files=all"], at), "");
  assert.equal(await gitText(["config", "user.name"], at), "Omoi agent");
  assert.equal(await gitText(["config", "user.email"], at), "agent@omoi.invalid");
  const branch = (await setup.store.getTask(second.id))!.repo!.branch;
  assert.equal(await gitText(["symbolic-ref", "HEAD"], at), `refs/heads/${branch}`);
});

test("forgetting a repository frees the disk of its prepared checkout; its mirror stays for the tasks made earlier", async (t) => {
  const setup = await setUp(t, false, true);
  const task = await createTask(setup, { repo: "project" });
  await writeFile(path.join(task.workspace, "hello.txt"), "hello\n");
  await setup.repos.afterTurn(task.id, "Added a greeting file.", task.emit);
  await setup.service.spares.settled();
  const mirrors = path.join(setup.dataDir, "mirrors");
  const mirror = (await readdir(mirrors)).find((name) => name.endsWith(".git"))!;
  const spare = path.join(mirrors, mirror, "omoi", "spare");
  assert.ok((await stat(spare)).isDirectory(), "a checkout was prepared");

  await setup.registry.remove("project");
  await assert.rejects(stat(spare), { code: "ENOENT" });
  assert.ok((await stat(path.join(mirrors, mirror, "HEAD"))).isFile(), "the mirror stays");
});
