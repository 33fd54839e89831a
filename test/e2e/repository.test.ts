import assert from "node:assert/strict";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { gitText } from "../../src/repo/git.ts";
import { api, collectOutput, type OmoiProcess, pidAlive, spawnOmoi } from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";
import { makeRemote, refsOf, serveGitHttp, tempDir } from "../repo/fixtures.ts";

/*
 * The whole loop with the real SDK and CLI (against the scripted model) in the real
 * sandbox, on a repository served over smart HTTP with basic authentication.
 */

const PASSWORD = "e2e-repository-password-5f1d2c";
const BASIC = Buffer.from(`alice:${PASSWORD}`).toString("base64");

describe("a task on a repository, end to end", () => {
  let root: string;
  let remote: string;
  let git: Awaited<ReturnType<typeof serveGitHttp>>;
  let omoi: OmoiProcess;
  let viewer: TestViewer;
  let logs = () => "";
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    root = await tempDir({ after: (fn) => cleanups.push(fn) });
    await mkdir(path.join(root, "acme"));
    await mkdir(path.join(root, "data"));
    remote = await makeRemote(path.join(root, "acme"), "project");
    git = await serveGitHttp(root, { username: "alice", password: PASSWORD });
    omoi = await spawnOmoi({
      OMOI_PORT: "0",
      OMOI_DATA_DIR: path.join(root, "data"),
      OMOI_IDLE_WINDOW_MS: "600000",
      OMOI_LOG_LEVEL: "debug",
    });
    logs = collectOutput(omoi);
    viewer = new TestViewer(
      `${omoi.url.replace("http", "ws")}/ws/events?entity_types=sandbox,task&event_types=task.*,repo.*,agent.tool_result`,
    );
    await viewer.opened;
    const registered = await api<{ id: string }>(omoi.url, "POST", "/api/v1/repositories", {
      name: "project",
      url: `${git.url}/acme/project.git`,
      credential: { kind: "basic", username: "alice", password: PASSWORD },
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
  });
  after(async () => {
    viewer?.close();
    await omoi?.stop();
    await git?.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const of = (taskId: string, type: string) =>
    viewer.events.filter((event) => event.task_id === taskId && event.event_type === type);
  const waitCount = (taskId: string, type: string, count: number) =>
    viewer.waitFor(() => of(taskId, type).length >= count, `${count} × ${type}`, 120_000);

  test("clone → edits → changes → commit → push to the task branch → a follow-up adds a commit", async () => {
    const before = await refsOf(remote);
    const created = await api<{ id: string; repo: { branch: string } }>(
      omoi.url,
      "POST",
      "/api/v1/tasks",
      { prompt: "[scenario:repo-edit] add a hello module", repo: "project" },
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const taskId = created.body.id;
    const branch = created.body.repo.branch;

    await waitCount(taskId, "task.completed", 1);
    // The worker started beside the clone, and its agent only once the clone was complete.
    const sandboxId = of(taskId, "repo.cloned")[0].sandbox_id!;
    const workerLog = await readFile(
      path.join(root, "data", "sandbox-state", sandboxId, "worker.log"),
      "utf8",
    );
    const prepared = workerLog.indexOf('"workspace_ready"');
    assert.ok(prepared > 0, "the worker waited for its workspace");
    assert.ok(prepared < workerLog.indexOf('"cli_spawned"'), "before it started the agent");
    const order = viewer.events
      .filter((event) => event.task_id === taskId)
      .map((event) => event.event_type)
      .filter((type) => type.startsWith("repo.") || type === "task.completed");
    assert.deepEqual(order, [
      "repo.cloned",
      "repo.committed",
      "repo.changes",
      "repo.pushed",
      "task.completed",
    ]);
    const firstPush = of(taskId, "repo.pushed")[0].payload.sha as string;
    const after = await refsOf(remote);
    assert.equal(after[`refs/heads/${branch}`], firstPush);
    const log = await gitText(["log", "--format=%s", `main..${firstPush}`], { cwd: remote });
    assert.deepEqual(log.split("\n"), ["Added hello.py (committed) and NOTES.md.", "Add hello"]);
    const { [`refs/heads/${branch}`]: _task, ...others } = after;
    assert.deepEqual(others, before, "the base branch and every other ref are unchanged");

    const changes = await api<{ files: { path: string; status: string }[]; diff: string }>(
      omoi.url,
      "GET",
      `/api/v1/tasks/${taskId}/changes`,
    );
    assert.deepEqual(
      changes.body.files.map((file) => [file.path, file.status]),
      [
        ["NOTES.md", "added"],
        ["hello.py", "added"],
      ],
    );

    const sent = await api(omoi.url, "POST", `/api/v1/tasks/${taskId}/messages`, {
      content: "mention the tests",
    });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    await waitCount(taskId, "task.completed", 2);
    await waitCount(taskId, "repo.pushed", 2);
    const secondPush = of(taskId, "repo.pushed")[1].payload.sha as string;
    assert.equal((await refsOf(remote))[`refs/heads/${branch}`], secondPush);
    assert.equal(await gitText(["rev-parse", `${secondPush}^`], { cwd: remote }), firstPush);
    const notes = await gitText(["show", `${secondPush}:NOTES.md`], { cwd: remote });
    assert.match(notes, /More: mention the tests/);
  });

  test("the credential is nowhere the agent can look, nor in events, API answers or logs", async () => {
    // The agent's own Bash searches for the password and its Basic form without ever
    // writing either on a command line (the pattern is assembled from escapes into a file).
    const hexEscape = (text: string) =>
      [...text].map((character) => `\\x${character.charCodeAt(0).toString(16)}`).join("");
    const search = [
      `printf '${hexEscape(PASSWORD)}\\n${hexEscape(BASIC)}\\n' > "$TMPDIR/needles"`,
      `found=$( (env; cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null; git -C . config --list --show-origin 2>/dev/null) | grep -acF -f "$TMPDIR/needles")`,
      `files=$(grep -rlaF -f "$TMPDIR/needles" . .git 2>/dev/null | wc -l)`,
      // Controls: the same searches do find what is there.
      `control_proc=$(cat /proc/[0-9]*/environ 2>/dev/null | grep -acF TMPDIR)`,
      `control_files=$(grep -rlaF '# project' . .git 2>/dev/null | wc -l)`,
      `echo "matches=$found files=$files control_proc=$control_proc control_files=$control_files"`,
    ].join("; ");
    const created = await api<{ id: string }>(omoi.url, "POST", "/api/v1/tasks", {
      prompt: `[scenario:shell] ${search}`,
      repo: "project",
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const taskId = created.body.id;
    await waitCount(taskId, "task.completed", 1);
    const output = JSON.stringify(of(taskId, "agent.tool_result").map((event) => event.payload));
    const counts = /matches=(\d+) files=(\d+) control_proc=(\d+) control_files=(\d+)/.exec(output);
    assert.ok(counts, output);
    assert.deepEqual([counts[1], counts[2]], ["0", "0"]);
    assert.ok(Number(counts[3]) > 0 && Number(counts[4]) > 0, `the searches work: ${output}`);

    const everything = JSON.stringify(viewer.events);
    const stored = await api(omoi.url, "GET", `/api/v1/tasks/${taskId}`);
    const repositories = await api(omoi.url, "GET", "/api/v1/repositories");
    for (const needle of [PASSWORD, BASIC]) {
      assert.ok(!everything.includes(needle), "not in any event");
      assert.ok(!JSON.stringify(stored.body).includes(needle), "not in the task");
      assert.ok(!JSON.stringify(repositories.body).includes(needle), "not in the repositories");
      assert.ok(!logs().includes(needle), "not in the server's logs");
    }
    assert.ok(logs().length > 0, "the logs were read");
  });
  test("a clone that fails once the task started ends its run with the reason; no worker is left", async () => {
    // The remote's refs list fine (the task is accepted) but an object is missing, so the
    // mirror's fetch fails while the worker is already starting beside it.
    const broken = await makeRemote(path.join(root, "acme"), "broken");
    const objects = path.join(broken, "objects");
    const loose = (await readdir(objects)).filter((name) => /^[0-9a-f]{2}$/.test(name));
    assert.ok(loose.length > 0, "the remote keeps loose objects");
    for (const folder of loose) await rm(path.join(objects, folder), { recursive: true });
    const created = await api<{ id: string }>(omoi.url, "POST", "/api/v1/tasks", {
      prompt: "[scenario:quick] hi",
      repo: broken,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const taskId = created.body.id;
    await waitCount(taskId, "task.failed", 1);
    const task = await api<{
      error: string;
      workspace: string | null;
      sandbox: { status: string; worker_pid: number | null };
    }>(omoi.url, "GET", `/api/v1/tasks/${taskId}`);
    assert.match(task.body.error, /could not start the sandbox/);
    assert.equal(task.body.sandbox.status, "failed");
    assert.equal(task.body.workspace, null, "a half-made workspace is not the task's");
    assert.ok(task.body.sandbox.worker_pid, "the worker had started beside the clone");
    assert.equal(pidAlive(task.body.sandbox.worker_pid), false, "and was stopped");
    assert.equal(of(taskId, "repo.cloned").length, 0);
  });
});
