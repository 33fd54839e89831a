import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { git, gitText } from "../../src/repo/git.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { commitFiles, makeRemote, serveGitHttp, tempDir } from "../repo/fixtures.ts";

const PASSWORD = "branches-test-password-1234";
const LIMIT = 64 * 1024;

/*
 * A checkout sent as a git bundle (a server on another machine), and the branch list the
 * new-task picker shows. The server's data dir and the person's checkout are separate
 * folders; the checkout's path is never given to the server.
 */
describe("repositories sent as bundles, and branch lists", () => {
  let omoi: TestOmoi;
  let root: string;
  let checkout: string;
  let server: Awaited<ReturnType<typeof serveGitHttp>>;
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    root = await tempDir({ after: (fn) => cleanups.push(fn) });
    checkout = path.join(root, "checkout");
    await git(["init", "--quiet", "-b", "trunk", checkout]);
    await commitFiles(checkout, { "README.md": "# mine\n" }, "start");
    await commitFiles(checkout, { "src/a.js": "1\n" }, "more");
    await makeRemote(root, "project");
    server = await serveGitHttp(root, { username: "alice", password: PASSWORD });
    omoi = await startTestOmoi({ OMOI_RUN_AGENTS: "0", OMOI_UPLOAD_MAX_BYTES: String(LIMIT) });
  });
  after(async () => {
    await omoi?.stop();
    await server?.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const bundleOf = async (args: string[], name: string) => {
    const file = path.join(root, `${name}.bundle`);
    await git(["bundle", "create", "--quiet", file, ...args], { cwd: checkout });
    return readFile(file);
  };
  const upload = async (body: Buffer, query = "", type = "application/x-git-bundle") => {
    const response = await fetch(`${omoi.url}/api/v1/bundles${query}`, {
      method: "POST",
      headers: { "content-type": type },
      body,
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  const uploadsLeft = async () =>
    (await readdir(path.join(omoi.dataDir, "uploads")).catch(() => [] as string[])).filter(
      (name) => !name.endsWith(".git"),
    );

  it("takes a complete bundle; a task on it starts from the person's branch", async () => {
    const sent = await upload(await bundleOf(["trunk"], "trunk"), "?branch=trunk");
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    assert.match(sent.body.repo, /^upload:upl_[0-9a-f]{24}$/);
    assert.deepEqual(sent.body.branches, ["trunk"]);
    assert.equal(sent.body.default_branch, "trunk");

    const branches = await api<{
      default_branch: string;
      branches: { name: string; sha: string }[];
    }>(omoi.url, "GET", `/api/v1/branches?repo=${encodeURIComponent(sent.body.repo)}`);
    assert.equal(branches.status, 200);
    assert.equal(branches.body.default_branch, "trunk");
    assert.deepEqual(branches.body.branches, [
      { name: "trunk", sha: await gitText(["rev-parse", "trunk"], { cwd: checkout }) },
    ]);

    const task = await api<{ repo: { url: string; base_branch: string } }>(
      omoi.url,
      "POST",
      "/api/v1/tasks",
      { prompt: "work", repo: sent.body.repo },
    );
    assert.equal(task.status, 201, JSON.stringify(task.body));
    assert.equal(task.body.repo.url, sent.body.repo);
    assert.equal(task.body.repo.base_branch, "trunk");
    assert.ok(
      !JSON.stringify(task.body).includes(checkout),
      "the checkout's path stays on the client",
    );
    assert.deepEqual(await uploadsLeft(), [], "the bundle file is not kept");
  });

  it("refuses a bundle over the limit with a clear 413, keeping nothing", async () => {
    const big = Buffer.concat([await bundleOf(["trunk"], "big"), Buffer.alloc(LIMIT)]);
    const refused = await upload(big);
    assert.equal(refused.status, 413);
    assert.equal(refused.body.error.name, "PayloadTooLarge");
    assert.match(refused.body.error.message, /larger than this server's limit of 65536 bytes/);
    assert.deepEqual(await uploadsLeft(), []);
    // Sent in chunks with no Content-Length: counted while it streams in.
    const chunks = [big.subarray(0, 40_000), big.subarray(40_000)];
    const streamed = await fetch(`${omoi.url}/api/v1/bundles`, {
      method: "POST",
      headers: { "content-type": "application/x-git-bundle" },
      body: new ReadableStream({
        pull(controller) {
          const next = chunks.shift();
          if (next) controller.enqueue(next);
          else controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    assert.equal(streamed.status, 413);
    assert.deepEqual(await uploadsLeft(), []);
  });

  it("refuses what is not a complete bundle of branches (hostile input), keeping nothing", async () => {
    const before = (await readdir(path.join(omoi.dataDir, "uploads"))).length;
    const garbage = await upload(Buffer.from("# v2 git bundle\nnot really\n"));
    assert.equal(garbage.status, 400);
    assert.equal(garbage.body.error.data.code, "invalid_bundle");
    assert.match(garbage.body.error.message, /not a valid git bundle/);

    const thin = await upload(await bundleOf(["HEAD~1..trunk"], "thin"));
    assert.equal(thin.status, 400);
    assert.match(thin.body.error.message, /not complete/);

    await git(["tag", "v1"], { cwd: checkout });
    const tagsOnly = await upload(await bundleOf(["v1"], "tag"));
    assert.equal(tagsOnly.status, 400);
    assert.match(tagsOnly.body.error.message, /no branch/);

    // A bundle whose pack is damaged after its header.
    const good = await bundleOf(["trunk"], "damaged");
    const damaged = Buffer.from(good);
    for (let index = damaged.length - 40; index < damaged.length - 20; index += 1)
      damaged[index] ^= 0xff;
    const broken = await upload(damaged);
    assert.equal(broken.status, 400, JSON.stringify(broken.body));
    assert.equal(broken.body.error.data.code, "invalid_bundle");

    const wrongType = await upload(good, "", "text/plain");
    assert.equal(wrongType.status, 415);
    assert.equal((await readdir(path.join(omoi.dataDir, "uploads"))).length, before);
    assert.deepEqual(await uploadsLeft(), []);
  });

  it("an unknown upload and a task without a result are clear errors", async () => {
    const unknown = await api<{ error: { data: { code: string } } }>(
      omoi.url,
      "POST",
      "/api/v1/tasks",
      {
        prompt: "p",
        repo: "upload:upl_000000000000000000000000",
      },
    );
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.data.code, "not_found");
    const traversal = await api<{ error: { data: { code: string } } }>(
      omoi.url,
      "POST",
      "/api/v1/tasks",
      {
        prompt: "p",
        repo: "upload:../../mirrors/x",
      },
    );
    assert.equal(traversal.status, 404);

    const sent = await upload(await bundleOf(["trunk"], "again"));
    const task = await api<{ id: string }>(omoi.url, "POST", "/api/v1/tasks", {
      prompt: "p",
      repo: sent.body.repo,
    });
    const bundle = await fetch(`${omoi.url}/api/v1/tasks/${task.body.id}/bundle`);
    assert.equal(bundle.status, 409);
    const answer = (await bundle.json()) as { error: { message: string } };
    assert.match(answer.error.message, /no result yet/);
  });

  it("lists a registered repository's branches with its credential on the server side only", async () => {
    const registered = await api(omoi.url, "POST", "/api/v1/repositories", {
      name: "project",
      url: `${server.url}/project.git`,
      credential: { kind: "basic", username: "alice", password: PASSWORD },
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const listed = await fetch(`${omoi.url}/api/v1/branches?repo=project`);
    const text = await listed.text();
    assert.equal(listed.status, 200);
    assert.ok(!text.includes(PASSWORD));
    const body = JSON.parse(text);
    assert.equal(body.repo, "project");
    assert.equal(body.default_branch, "main");
    assert.deepEqual(
      body.branches.map((branch: { name: string }) => branch.name),
      ["main", "release"],
    );

    const refused = await api<{ error: { data: { code: string } } }>(
      omoi.url,
      "GET",
      `/api/v1/branches?repo=${encodeURIComponent(`${server.url}/project.git`.replace("127.0.0.1", "localhost"))}`,
    );
    assert.equal(refused.status, 403, "an unregistered URL gets no credential");
    assert.equal(refused.body.error.data.code, "auth_refused");
    const notRepo = await api<{ error: { data: { code: string } } }>(
      omoi.url,
      "GET",
      `/api/v1/branches?repo=${encodeURIComponent(checkout.replace("checkout", ""))}`,
    );
    assert.equal(notRepo.status, 400);
    assert.equal(notRepo.body.error.data.code, "not_a_repository");
    const missing = await api(omoi.url, "GET", "/api/v1/branches");
    assert.equal(missing.status, 400);
  });
});

describe("bundle uploads are rate-limited per caller", () => {
  let omoi: TestOmoi;
  let bundle: Buffer;
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    const root = await tempDir({ after: (fn) => cleanups.push(fn) });
    const checkout = path.join(root, "checkout");
    await git(["init", "--quiet", "-b", "main", checkout]);
    await commitFiles(checkout, { "README.md": "# mine\n" }, "start");
    await git(["bundle", "create", "--quiet", path.join(root, "main.bundle"), "main"], {
      cwd: checkout,
    });
    bundle = await readFile(path.join(root, "main.bundle"));
    omoi = await startTestOmoi({ OMOI_RUN_AGENTS: "0", OMOI_TASK_RATE_LIMIT: "2" });
  });
  after(async () => {
    await omoi?.stop();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("beyond OMOI_TASK_RATE_LIMIT a minute, a 429 with Retry-After, and nothing kept", async () => {
    const send = () =>
      fetch(`${omoi.url}/api/v1/bundles`, {
        method: "POST",
        headers: { "content-type": "application/x-git-bundle" },
        body: bundle,
      });
    assert.equal((await send()).status, 201);
    assert.equal((await send()).status, 201);
    const refused = await send();
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    assert.match(
      ((await refused.json()) as { error: { message: string } }).error.message,
      /bundle uploads a minute/,
    );
    const stored = (await readdir(path.join(omoi.dataDir, "uploads"))).filter((name) =>
      name.endsWith(".git"),
    );
    assert.equal(stored.length, 2);
  });
});
