import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { lutimes, readdir, readFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { git, gitText } from "../../src/repo/git.ts";
import { OUTGOING_MAX_AGE_MS } from "../../src/repo/outgoing.ts";
import { loadConfig } from "../../src/server/config.ts";
import { startOmoi } from "../../src/server/main.ts";
import { api, startTestOmoi, type TestOmoi, tempDir as tempDirOf } from "../helpers/omoi.ts";
import { commitFiles, makeRemote, serveGitHttp, tempDir } from "../repo/fixtures.ts";

const PASSWORD = "hostile-probe-password-5678";

/*
 * The bundle upload and the branch list as an attacker uses them: bundles whose refs are
 * named to escape or to pass as options, too many refs, and `repo` values built to inject
 * options or transports into the server's git, or to carry a credential elsewhere.
 */
describe("hostile bundles and branch-list probes", () => {
  let omoi: TestOmoi;
  let root: string;
  let checkout: string;
  let marker: string;
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    root = await tempDir({ after: (fn) => cleanups.push(fn) });
    checkout = path.join(root, "checkout");
    marker = path.join(root, "PWNED");
    await git(["init", "--quiet", "-b", "main", checkout]);
    await commitFiles(checkout, { "README.md": "# mine\n" }, "start");
    omoi = await startTestOmoi({ OMOI_RUN_AGENTS: "0" });
  });
  after(async () => {
    await omoi?.stop();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  /** A real bundle of `main` whose header names `refs` instead (a hand-made hostile bundle). */
  const bundleNaming = async (refs: string[]) => {
    const file = path.join(root, "base.bundle");
    await git(["bundle", "create", "--quiet", file, "main"], { cwd: checkout });
    const data = await readFile(file);
    const split = data.indexOf("\n\n");
    const sha = await gitText(["rev-parse", "main"], { cwd: checkout });
    const header = `# v2 git bundle\n${refs.map((ref) => `${sha} ${ref}\n`).join("")}`;
    return Buffer.concat([Buffer.from(header), data.subarray(split + 1)]);
  };
  const upload = async (body: Buffer) => {
    const response = await fetch(`${omoi.url}/api/v1/bundles`, {
      method: "POST",
      headers: { "content-type": "application/x-git-bundle" },
      body,
    });
    const answer = (await response.json()) as {
      repo: string;
      branches: string[];
      default_branch: string;
      error: { message: string; data: { code: string } };
    };
    return { status: response.status, body: answer };
  };
  const stored = async () =>
    (await readdir(path.join(omoi.dataDir, "uploads")).catch(() => [] as string[])).sort();

  it("a bundle whose only refs escape refs/heads is refused, nothing kept", async () => {
    const before = await stored();
    for (const refs of [
      ["refs/heads/../../evil"],
      ["refs/heads/a..b", "refs/heads/x.lock"],
      ["HEAD"],
      [`refs/heads/--upload-pack=touch ${marker}`],
    ]) {
      const sent = await upload(await bundleNaming(refs));
      assert.equal(sent.status, 400, `${refs}: ${JSON.stringify(sent.body)}`);
      assert.equal(sent.body.error.data.code, "invalid_bundle");
      assert.match(sent.body.error.message, /no branch/);
    }
    assert.deepEqual(await stored(), before, "nothing half-stored");
    assert.ok(!existsSync(marker));
  });

  it("keeps only branches a task can use: names git refuses or that read as options are left out", async () => {
    const sent = await upload(
      await bundleNaming([
        "refs/heads/--upload-pack=x",
        "refs/heads/-x",
        "refs/heads/a..b",
        "refs/heads/work",
      ]),
    );
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    assert.deepEqual(sent.body.branches, ["work"]);
    assert.equal(sent.body.default_branch, "work");
    const listed = await api<{ branches: { name: string }[] }>(
      omoi.url,
      "GET",
      `/api/v1/branches?repo=${encodeURIComponent(sent.body.repo)}`,
    );
    assert.deepEqual(
      listed.body.branches.map((branch) => branch.name),
      ["work"],
    );
    const optionOnly = await upload(await bundleNaming(["refs/heads/--upload-pack=x"]));
    assert.equal(optionOnly.status, 400);
    assert.match(optionOnly.body.error.message, /no branch/);
  });

  it("a bundle with more refs than the server takes is refused before anything is fetched", async () => {
    const before = await stored();
    const many = Array.from({ length: 1001 }, (_, index) => `refs/heads/b${index}`);
    const sent = await upload(await bundleNaming(many));
    assert.equal(sent.status, 400, JSON.stringify(sent.body));
    assert.equal(sent.body.error.data.code, "invalid_bundle");
    assert.match(sent.body.error.message, /more than 1000 refs/);
    assert.deepEqual(await stored(), before);
  });

  it("a task without a repository has no bundle: a clear 409, nothing left behind", async () => {
    const task = await api<{ id: string }>(omoi.url, "POST", "/api/v1/tasks", { prompt: "p" });
    assert.equal(task.status, 201);
    const bundle = await fetch(`${omoi.url}/api/v1/tasks/${task.body.id}/bundle`);
    assert.equal(bundle.status, 409);
    assert.match(
      ((await bundle.json()) as { error: { message: string } }).error.message,
      /does not work on a repository/,
    );
    const unknown = await fetch(`${omoi.url}/api/v1/tasks/task_missing/bundle`);
    assert.ok(unknown.status === 404 || unknown.status === 400, String(unknown.status));
    const outgoing = await readdir(path.join(omoi.dataDir, "outgoing")).catch(() => []);
    assert.deepEqual(outgoing, [], "no bundle file is left behind");
  });

  it("the branch list runs no option, command or transport a caller slips into repo", async () => {
    for (const repo of [
      `--upload-pack=touch ${marker}`,
      `-cprotocol.allow=always`,
      `ext::sh -c touch% ${marker}`,
      "fd::3",
      `ssh://-oProxyCommand=touch%20${marker}/x`,
      `git@-oProxyCommand=touch ${marker}:x`,
      "relative/path",
      `file://${omoi.dataDir}/uploads`,
      omoi.dataDir,
    ]) {
      const answer = await api<{ error: { data: { code: string } } }>(
        omoi.url,
        "GET",
        `/api/v1/branches?repo=${encodeURIComponent(repo)}`,
      );
      assert.ok(
        answer.status >= 400 && answer.status < 500,
        `${repo}: ${answer.status} ${JSON.stringify(answer.body)}`,
      );
    }
    assert.ok(!existsSync(marker), "no command ran");
  });

  it("a registered repository's credential never follows a redirect to another host, nor shows in an error", async () => {
    await makeRemote(root, "project");
    const elsewhere = await serveGitHttp(root, () => false);
    cleanups.push(() => elsewhere.close());
    // The registered host answers every request with a redirect to another host.
    const redirecting = http.createServer((request, response) => {
      response.writeHead(302, {
        location: `${elsewhere.url.replace("127.0.0.1", "localhost")}${request.url}`,
      });
      response.end();
    });
    await new Promise<void>((resolve) => redirecting.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => redirecting.close(() => resolve())));
    const port = (redirecting.address() as AddressInfo).port;
    // Registering checks the credential by listing the branches: through the redirect.
    const registered = await fetch(`${omoi.url}/api/v1/repositories`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        name: "redirected",
        url: `http://127.0.0.1:${port}/project.git`,
        credential: { kind: "basic", username: "alice", password: PASSWORD },
      }),
    });
    const text = await registered.text();
    assert.ok(registered.status >= 400 && registered.status < 500, `${registered.status} ${text}`);
    assert.ok(!text.includes(PASSWORD));
    assert.ok(!text.includes(Buffer.from(`alice:${PASSWORD}`).toString("base64")));
    assert.ok(elsewhere.requests.length > 0, "git followed the redirect (the probe is live)");
    for (const request of elsewhere.requests) {
      assert.equal(request.authorization, undefined, "no credential sent to another host");
    }
  });
});

describe("result bundles a stop left behind", () => {
  it("are swept when the server starts: old ones and links go (their targets untouched), recent ones and other names stay", async () => {
    const data = tempDirOf("omoi-outgoing-start-");
    try {
      const outgoing = path.join(data.dir, "outgoing");
      mkdirSync(outgoing, { recursive: true });
      const outside = path.join(data.dir, "..", `${path.basename(data.dir)}-precious.txt`);
      writeFileSync(outside, "keep me");
      const old = new Date(Date.now() - 2 * OUTGOING_MAX_AGE_MS);
      const leftover = path.join(outgoing, `${"a".repeat(24)}.bundle`);
      writeFileSync(leftover, "a result nobody downloaded");
      await lutimes(leftover, old, old);
      const link = path.join(outgoing, `${"b".repeat(24)}.bundle`);
      symlinkSync(outside, link);
      await lutimes(link, old, old);
      const recent = path.join(outgoing, `${"c".repeat(24)}.bundle`);
      writeFileSync(recent, "written a moment ago");
      const foreign = path.join(outgoing, "notes.txt");
      writeFileSync(foreign, "not Omoi's");
      await lutimes(foreign, old, old);
      try {
        const omoi = await startOmoi(
          loadConfig({
            OMOI_PORT: "0",
            OMOI_DATA_DIR: data.dir,
            OMOI_LOG_LEVEL: "warn",
            OMOI_RUN_AGENTS: "0",
          }),
        );
        // Closing waits for the sweep the start began.
        await omoi.close();
        assert.deepEqual(readdirSync(outgoing).sort(), [path.basename(recent), "notes.txt"]);
        assert.equal(readFileSync(outside, "utf8"), "keep me", "the link's target is untouched");
      } finally {
        rmSync(outside, { force: true });
      }
    } finally {
      data.remove();
    }
  });
});
