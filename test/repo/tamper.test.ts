import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import { RepoError } from "../../src/repo/errors.ts";
import { gitText } from "../../src/repo/git.ts";
import {
  commitMessage,
  RepoService,
  type RepoServiceOptions,
} from "../../src/repo/repo-service.ts";
import { parseRepoSource } from "../../src/repo/source.ts";
import { readWorkspaceHead } from "../../src/repo/workspace-git-dir.ts";
import { commitFiles, makeRemote, refsOf, serveGitHttp, tempDir } from "./fixtures.ts";

/*
 * The agent controls its workspace's `.git`. Each trap below is written there the way an
 * agent could; Omoi then takes the turn's result and pushes it. A trap that ran code outside
 * the sandbox would create a file in `markers/`; one that redirected the push or the
 * credential would reach the decoy server.
 */

const TASK = "tsk_tamper0000000001";
const PASSWORD = "tamper-test-password-1234";

async function setUp(
  t: Parameters<typeof tempDir>[0],
  options: Omit<RepoServiceOptions, "mirrorsDir"> = {},
) {
  const root = await tempDir(t);
  const markers = path.join(root, "markers");
  await mkdir(markers);
  const remote = await makeRemote(root);
  const decoyRoot = path.join(root, "decoy");
  await mkdir(decoyRoot);
  await makeRemote(decoyRoot, "project");
  const server = await serveGitHttp(root, { username: "alice", password: PASSWORD });
  const decoy = await serveGitHttp(decoyRoot, { username: "alice", password: PASSWORD });
  t.after(() => server.close());
  t.after(() => decoy.close());
  const service = new RepoService({ mirrorsDir: path.join(root, "data", "mirrors"), ...options });
  const source = parseRepoSource(`${server.url}/project.git`, {
    forbiddenRoots: [],
    credential: { kind: "basic", username: "alice", password: PASSWORD },
  });
  const plan = await service.plan(source, { title: "Tamper", taskId: TASK });
  const workspace = path.join(root, "data", "workspaces", "s1");
  await service.prepareWorkspace(plan, workspace);
  const trapScript = path.join(root, "trap.sh");
  await writeFile(trapScript, `#!/bin/sh\ntouch "${markers}/$1"\ncat\n`);
  await chmod(trapScript, 0o755);
  return { root, markers, remote, server, decoy, service, source, plan, workspace, trapScript };
}

const gitConfigAppend = (workspace: string, text: string) =>
  writeFile(path.join(workspace, ".git", "config"), text, { flag: "a" });

type Setup = Awaited<ReturnType<typeof setUp>>;

const TRAPS: Record<string, (setup: Setup) => Promise<void>> = {
  hooks: async ({ workspace, trapScript }) => {
    for (const hook of [
      "pre-commit",
      "commit-msg",
      "post-commit",
      "reference-transaction",
      "post-checkout",
      "pre-push",
      "post-update",
      "pre-receive",
      "update",
      "post-index-change",
      "fsmonitor-watchman",
    ]) {
      const file = path.join(workspace, ".git", "hooks", hook);
      await writeFile(file, `#!/bin/sh\n"${trapScript}" hook-${hook}\n`);
      await chmod(file, 0o755);
    }
  },
  "core.hooksPath": async ({ workspace, trapScript, root }) => {
    const hooks = path.join(root, "agent-hooks");
    await mkdir(hooks, { recursive: true });
    for (const hook of ["pre-commit", "reference-transaction", "post-index-change"]) {
      await writeFile(path.join(hooks, hook), `#!/bin/sh\n"${trapScript}" hooks-path-${hook}\n`);
      await chmod(path.join(hooks, hook), 0o755);
    }
    await gitConfigAppend(workspace, `[core]\n\thooksPath = ${hooks}\n`);
  },
  "core.fsmonitor": async ({ workspace, trapScript }) => {
    await gitConfigAppend(workspace, `[core]\n\tfsmonitor = "${trapScript}" fsmonitor\n`);
  },
  "filter, diff and merge drivers": async ({ workspace, trapScript }) => {
    await writeFile(path.join(workspace, ".gitattributes"), "* filter=evil diff=evil merge=evil\n");
    await gitConfigAppend(
      workspace,
      [
        '[filter "evil"]',
        `\tclean = "${trapScript}" filter-clean`,
        `\tsmudge = "${trapScript}" filter-smudge`,
        `\tprocess = "${trapScript}" filter-process`,
        "\trequired = true",
        '[diff "evil"]',
        `\tcommand = "${trapScript}" diff-command`,
        `\ttextconv = "${trapScript}" diff-textconv`,
        '[merge "evil"]',
        `\tdriver = "${trapScript}" merge-driver`,
        "",
      ].join("\n"),
    );
  },
  "credential.helper": async ({ workspace, trapScript }) => {
    await gitConfigAppend(
      workspace,
      `[credential]\n\thelper = "!${trapScript} credential-helper"\n`,
    );
  },
  "url.*.insteadOf, remote.*.url and pushurl": async ({ workspace, server, decoy }) => {
    await gitConfigAppend(
      workspace,
      [
        `[url "${decoy.url}/"]`,
        `\tinsteadOf = ${server.url}/`,
        `\tpushInsteadOf = ${server.url}/`,
        '[remote "origin"]',
        `\turl = ${decoy.url}/project.git`,
        `\tpushurl = ${decoy.url}/project.git`,
        "\tfetch = +refs/heads/*:refs/remotes/origin/*",
        "",
      ].join("\n"),
    );
  },
  "include and includeIf": async ({ workspace, trapScript, root }) => {
    const included = path.join(root, "included.gitconfig");
    await writeFile(
      included,
      `[core]\n\tfsmonitor = "${trapScript}" include-fsmonitor\n\thooksPath = /nonexistent\n[uploadpack]\n\tpackObjectsHook = "${trapScript}" include-pack-objects\n`,
    );
    await gitConfigAppend(
      workspace,
      `[include]\n\tpath = ${included}\n[includeIf "gitdir:/"]\n\tpath = ${included}\n`,
    );
  },
  "programs git may start": async ({ workspace, trapScript }) => {
    await gitConfigAppend(
      workspace,
      [
        "[core]",
        `\tsshCommand = "${trapScript}" ssh`,
        `\tpager = "${trapScript}" pager`,
        `\teditor = "${trapScript}" editor`,
        `\taskPass = "${trapScript}" askpass`,
        `\talternateRefsCommand = "${trapScript}" alternate-refs`,
        "[commit]",
        "\tgpgSign = true",
        "[gpg]",
        `\tprogram = "${trapScript}" gpg`,
        "[uploadpack]",
        `\tpackObjectsHook = "${trapScript}" pack-objects-hook`,
        "[receive]",
        "\tdenyCurrentBranch = ignore",
        "",
      ].join("\n"),
    );
  },
};

for (const [name, plant] of Object.entries(TRAPS)) {
  test(`tamper: ${name} — Omoi commits, fetches and pushes anyway; the trap never runs`, async (t) => {
    const setup = await setUp(t);
    const { workspace, service, plan, markers, remote, decoy } = setup;
    const before = await refsOf(remote);
    // The agent's own commit (its git runs inside the sandbox, where its traps are its business).
    await commitFiles(workspace, { "agent.txt": "committed by the agent\n" }, "agent");
    await plant(setup);
    await writeFile(path.join(workspace, "left.txt"), "left uncommitted\n");
    const decoyRequests = decoy.requests.length;

    const result = await service.collect(plan, workspace, TASK, commitMessage("Work.", "t", "x"));
    assert.ok(result.committed);
    const changes = await service.changes(plan, TASK);
    assert.ok(changes.files.some((file) => file.path === "left.txt"));
    await service.push(plan, TASK);

    assert.deepEqual(await readdir(markers), [], "no trap ran");
    assert.equal(decoy.requests.length, decoyRequests, "nothing went to the decoy");
    const after = await refsOf(remote);
    assert.equal(after[`refs/heads/${plan.branch}`], result.tip);
    const { [`refs/heads/${plan.branch}`]: _pushed, ...others } = after;
    assert.deepEqual(others, before, "no other ref moved");
    const tree = await gitText(["ls-tree", "-r", "--name-only", result.tip], { cwd: remote });
    assert.match(tree, /left\.txt/);
  });
}

const LINK_TRAPS: Record<string, (workspace: string, root: string) => Promise<void>> = {
  "a gitfile instead of .git": async (workspace, root) => {
    await rm(path.join(workspace, ".git"), { recursive: true });
    await writeFile(path.join(workspace, ".git"), `gitdir: ${path.join(root, "project.git")}\n`);
  },
  "a symbolic link inside .git": async (workspace, root) => {
    await symlink(
      path.join(root, "project.git", "refs"),
      path.join(workspace, ".git", "refs", "elsewhere"),
    );
  },
  "alternates into another repository": async (workspace, root) => {
    await writeFile(
      path.join(workspace, ".git", "objects", "info", "alternates"),
      `${path.join(root, "decoy", "project.git", "objects")}\n`,
    );
  },
  ".git itself a symbolic link": async (workspace, root) => {
    await rm(path.join(workspace, ".git"), { recursive: true });
    await symlink(path.join(root, "project.git"), path.join(workspace, ".git"));
  },
};

for (const [name, plant] of Object.entries(LINK_TRAPS)) {
  test(`tamper: ${name} — Omoi refuses to read it and says so; nothing is pushed`, async (t) => {
    const { workspace, root, service, plan, remote } = await setUp(t);
    const before = await refsOf(remote);
    await plant(workspace, root);
    await assert.rejects(service.collect(plan, workspace, TASK, "x\n"), (error: unknown) => {
      assert.ok(error instanceof RepoError);
      assert.equal(error.code, "workspace_tampered");
      return true;
    });
    assert.deepEqual(await refsOf(remote), before);
  });
}

test("tamper control: the planted traps are live for git run naively in the workspace", async (t) => {
  const setup = await setUp(t);
  await TRAPS["core.fsmonitor"](setup);
  await TRAPS["filter, diff and merge drivers"](setup);
  await writeFile(path.join(setup.workspace, "left.txt"), "x\n");
  const result = spawnSync("git", ["add", "--all"], {
    cwd: setup.workspace,
    env: { PATH: process.env.PATH, HOME: setup.root, GIT_CONFIG_NOSYSTEM: "1" },
  });
  assert.equal(result.error, undefined);
  const fired = await readdir(setup.markers);
  assert.ok(fired.includes("fsmonitor"), `fired: ${fired.join(", ")}`);
  assert.ok(
    fired.some((marker) => marker.startsWith("filter-")),
    `fired: ${fired.join(", ")}`,
  );
});

/*
 * A FIFO (or socket, or device) in `.git` makes a reader wait until something writes to it:
 * git on the trusted side would hold the mirror, and so every task on the repository, until
 * its time limit. Omoi refuses such a `.git` before git opens anything in it, and a fetch
 * made to wait anyway (a FIFO swapped in after the check, one named by a config include) is
 * stopped well before git's usual limit. Each test has a guard: a hang fails it.
 */

const mkfifo = (file: string) => {
  const made = spawnSync("mkfifo", [file]);
  assert.equal(made.status, 0, String(made.stderr));
};

const FIFO_AT: Record<string, (workspace: string, branch: string) => string> = {
  ".git/config": () => "config",
  ".git/HEAD": () => "HEAD",
  ".git/packed-refs": () => "packed-refs",
  "the task branch's ref file": (_workspace, branch) => `refs/heads/${branch}`,
  ".git/objects/info/alternates": () => "objects/info/alternates",
};

/** The repository's other tasks still get through: the mirror is not held. */
async function secondTaskGoesThrough(setup: Setup) {
  const { service, source, root, remote } = setup;
  const other = "tsk_tamper0000000002";
  const plan = await service.plan(source, { title: "Other", taskId: other });
  const workspace = path.join(root, "data", "workspaces", "s2");
  await service.prepareWorkspace(plan, workspace);
  await writeFile(path.join(workspace, "other.txt"), "from the other task\n");
  const result = await service.collect(plan, workspace, other, commitMessage("Other.", "t", "y"));
  await service.push(plan, other);
  assert.equal((await refsOf(remote))[`refs/heads/${plan.branch}`], result.tip);
}

for (const [name, where] of Object.entries(FIFO_AT)) {
  test(`tamper: a FIFO at ${name} — refused as workspace_tampered at once, nothing pushed, the repository's other tasks go on`, {
    timeout: 60_000,
  }, async (t) => {
    const setup = await setUp(t);
    const { workspace, service, plan, remote } = setup;
    const agentCommit = await commitFiles(workspace, { "agent.txt": "by the agent\n" }, "agent");
    const before = await refsOf(remote);
    const relative = where(workspace, plan.branch);
    const file = path.join(workspace, ".git", relative);
    await rm(file, { force: true });
    mkfifo(file);

    await assert.rejects(service.collect(plan, workspace, TASK, "x\n"), (error: unknown) => {
      assert.ok(error instanceof RepoError);
      assert.equal(error.code, "workspace_tampered");
      assert.ok(error.message.includes(relative), error.message);
      return true;
    });
    assert.deepEqual(await refsOf(remote), before, "nothing pushed, no ref moved");
    // The agent's work is left where it was.
    await rm(file);
    assert.equal(await readFile(path.join(workspace, "agent.txt"), "utf8"), "by the agent\n");
    if (relative !== "HEAD" && relative !== `refs/heads/${plan.branch}`) {
      assert.equal(await gitText(["rev-parse", "HEAD"], { cwd: workspace }), agentCommit);
    }
    await secondTaskGoesThrough(setup);
  });
}

test("tamper: a FIFO at .git/HEAD after the check — read without waiting and refused", {
  timeout: 30_000,
}, async (t) => {
  const { workspace } = await setUp(t);
  await rm(path.join(workspace, ".git", "HEAD"));
  mkfifo(path.join(workspace, ".git", "HEAD"));
  await assert.rejects(readWorkspaceHead(workspace), (error: unknown) => {
    assert.ok(error instanceof RepoError);
    assert.equal(error.code, "workspace_tampered");
    assert.match(error.message, /HEAD is not a regular file/);
    return true;
  });
});

test("tamper: a fetch made to wait on a FIFO the check cannot see is stopped; the turn fails clearly, the mirror is free, the work is kept", {
  timeout: 60_000,
}, async (t) => {
  const setup = await setUp(t, { workspaceFetchTimeoutMs: 3_000 });
  const { workspace, service, plan, remote } = setup;
  const agentCommit = await commitFiles(workspace, { "agent.txt": "by the agent\n" }, "agent");
  const before = await refsOf(remote);
  // git reads a config include wherever it points: here a FIFO in the work tree, standing in
  // for a FIFO swapped into `.git` between Omoi's check and the fetch.
  mkfifo(path.join(workspace, "trap"));
  await gitConfigAppend(workspace, "[include]\n\tpath = ../trap\n");

  await assert.rejects(service.collect(plan, workspace, TASK, "x\n"), (error: unknown) => {
    assert.ok(error instanceof RepoError);
    assert.equal(error.code, "git_failed");
    assert.match(error.message, /took longer than 3 s and was stopped/);
    return true;
  });
  assert.deepEqual(await refsOf(remote), before, "nothing pushed, no ref moved");
  await rm(path.join(workspace, "trap"));
  assert.equal(await gitText(["rev-parse", "HEAD"], { cwd: workspace }), agentCommit);
  await secondTaskGoesThrough(setup);
});
