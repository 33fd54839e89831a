import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { git } from "../../src/repo/git.ts";
import { startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { makeRemote, serveGitHttp, tempDir } from "../repo/fixtures.ts";

const PASSWORD = "api-test-password-0987654321";

describe("repositories and tasks on them over the API", () => {
  let omoi: TestOmoi;
  let root: string;
  let remote: string;
  let server: Awaited<ReturnType<typeof serveGitHttp>>;
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    root = await tempDir({ after: (fn) => cleanups.push(fn) });
    await mkdir(path.join(root, "acme"));
    remote = await makeRemote(path.join(root, "acme"), "project");
    server = await serveGitHttp(root, { username: "alice", password: PASSWORD });
    omoi = await startTestOmoi({ OMOI_RUN_AGENTS: "0" });
  });
  after(async () => {
    await omoi.stop();
    await server.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const api = async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${omoi.url}${route}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    assert.ok(!text.includes(PASSWORD), `${method} ${route} answered with the credential`);
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };

  it("registers a repository with a credential it never shows again; refuses a wrong one", async () => {
    const wrong = await api("POST", "/api/v1/repositories", {
      url: `${server.url}/acme/project.git`,
      credential: { kind: "basic", username: "alice", password: "not-the-password" },
    });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body.error.data.code, "auth_refused");
    assert.equal((await api("GET", "/api/v1/repositories")).body.repositories.length, 0);

    const created = await api("POST", "/api/v1/repositories", {
      url: `${server.url}/acme/project.git`,
      credential: { kind: "basic", username: "alice", password: PASSWORD },
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.name, "project");
    assert.equal(created.body.credential_kind, "basic");
    assert.equal(created.body.credential_hint, "alice:…4321");
    assert.equal(created.body.credential_ciphertext, undefined);
    const listed = await api("GET", "/api/v1/repositories");
    assert.deepEqual(listed.body.repositories, [created.body]);
    assert.equal((await api("GET", "/api/v1/repositories/project")).body.id, created.body.id);
    const again = await api("POST", "/api/v1/repositories", {
      url: `${server.url}/acme/project.git`,
    });
    assert.equal(again.status, 409);
    const database = await readFile(path.join(omoi.dataDir, "omoi.db"));
    const wal = await readFile(path.join(omoi.dataDir, "omoi.db-wal")).catch(() => Buffer.alloc(0));
    assert.ok(!database.includes(PASSWORD) && !wal.includes(PASSWORD), "sealed at rest");
  });

  it("creates a task on a registered repository with the default branch names", async () => {
    const created = await api("POST", "/api/v1/tasks", { prompt: "Fix the bug", repo: "project" });
    assert.equal(created.status, 201);
    const suffix = created.body.id.split("_").pop().slice(0, 8);
    assert.equal(created.body.repo.branch, `omoi/fix-the-bug-${suffix}`);
    assert.equal(created.body.repo.base_branch, "main");
    assert.equal(created.body.repo.url, `${server.url}/acme/project.git`);
    assert.ok(created.body.repo.repository_id);
    const changes = await api("GET", `/api/v1/tasks/${created.body.id}/changes`);
    assert.equal(changes.status, 409);
    const pull = await api("POST", `/api/v1/tasks/${created.body.id}/pull-request`, {});
    assert.equal(pull.status, 409);
    assert.equal(pull.body.error.data.code, "nothing_changed");
  });

  it("answers each checkable failure with a clear 4xx and stores nothing", async () => {
    await git(["init", "--quiet", "--bare", path.join(root, "empty.git")]);
    const { body: before } = await api("GET", "/api/v1/tasks");
    const cases: [Record<string, unknown>, number, string][] = [
      [{ repo: `${server.url}/acme/missing.git` }, 403, "auth_refused"],
      [{ repo: path.join(root, "missing.git") }, 404, "not_found"],
      [{ repo: root }, 400, "not_a_repository"],
      [{ repo: path.join(root, "empty.git") }, 409, "empty_repository"],
      [{ repo: remote, base_branch: "nope" }, 404, "base_branch_missing"],
      [{ repo: remote, branch: "bad..branch" }, 400, "invalid_branch"],
      [{ repo: "relative/path" }, 400, "invalid_repository"],
      [{ repo: omoi.dataDir }, 400, "invalid_repository"],
      [{ repo: "ssh://git@example.com/x.git" }, 400, "unsupported"],
      [{ branch: "x" }, 400, "invalid_repository"],
    ];
    for (const [fields, status, code] of cases) {
      const response = await api("POST", "/api/v1/tasks", { prompt: "p", ...fields });
      assert.equal(
        response.status,
        status,
        `${JSON.stringify(fields)}: ${JSON.stringify(response.body)}`,
      );
      assert.equal(response.body.error.data.code, code, JSON.stringify(fields));
    }
    const { body: after } = await api("GET", "/api/v1/tasks");
    assert.equal(after.total, before.total);
  });

  it("a repository's default environment: set at registration or by PATCH, used by tasks that name none, and kept from deletion", async () => {
    assert.equal((await api("POST", "/api/v1/environments", { name: "node" })).status, 201);
    assert.equal((await api("POST", "/api/v1/environments", { name: "python" })).status, 201);
    const node = (await api("GET", "/api/v1/environments/node")).body;
    const python = (await api("GET", "/api/v1/environments/python")).body;

    // Unknown environments are a 400 and change nothing.
    const unknownAtRegistration = await api("POST", "/api/v1/repositories", {
      name: "with-env",
      url: remote,
      environment: "nowhere",
    });
    assert.equal(unknownAtRegistration.status, 400);
    assert.match(unknownAtRegistration.body.error.message, /environment: 'nowhere' does not exist/);
    assert.equal((await api("GET", "/api/v1/repositories/with-env")).status, 404);

    const registered = await api("POST", "/api/v1/repositories", {
      name: "with-env",
      url: remote,
      environment: "node",
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    assert.equal(registered.body.environment_id, node.id);

    const inDefault = await api("POST", "/api/v1/tasks", { prompt: "p", repo: "with-env" });
    assert.equal(inDefault.status, 201, JSON.stringify(inDefault.body));
    assert.equal(inDefault.body.environment_id, node.id, "no environment named: the repository's");
    const named = await api("POST", "/api/v1/tasks", {
      prompt: "p",
      repo: "with-env",
      environment: "python",
    });
    assert.equal(named.body.environment_id, python.id, "a named environment wins");
    const byUrl = await api("POST", "/api/v1/tasks", { prompt: "p", repo: remote });
    assert.equal(byUrl.body.environment_id, node.id, "the registered repository, named by its URL");

    // The default cannot be deleted while a repository names it.
    for (const task of [inDefault, named, byUrl]) {
      assert.equal((await api("POST", `/api/v1/tasks/${task.body.id}/cancel`, {})).status, 200);
    }
    const refused = await api("DELETE", "/api/v1/environments/node");
    assert.equal(refused.status, 409);
    assert.match(refused.body.error.message, /default environment of repository 'with-env'/);
    assert.equal((await api("GET", "/api/v1/environments/node")).status, 200);

    // PATCH: another one, an unknown one (400, nothing changed), a bad body, then none.
    const switched = await api("PATCH", "/api/v1/repositories/with-env", { environment: "python" });
    assert.equal(switched.status, 200, JSON.stringify(switched.body));
    assert.equal(switched.body.environment_id, python.id);
    const unknown = await api("PATCH", "/api/v1/repositories/with-env", { environment: "nowhere" });
    assert.equal(unknown.status, 400);
    assert.equal(
      (await api("GET", "/api/v1/repositories/with-env")).body.environment_id,
      python.id,
    );
    assert.equal(
      (await api("PATCH", "/api/v1/repositories/with-env", { colour: "x" })).status,
      400,
    );
    assert.equal(
      (await api("PATCH", "/api/v1/repositories/nope", { environment: null })).status,
      404,
    );
    assert.equal((await api("DELETE", "/api/v1/environments/node")).status, 200);
    const cleared = await api("PATCH", "/api/v1/repositories/with-env", { environment: null });
    assert.equal(cleared.body.environment_id, null);
    const none = await api("POST", "/api/v1/tasks", { prompt: "p", repo: "with-env" });
    assert.equal(none.body.environment_id, null);
    await api("POST", `/api/v1/tasks/${none.body.id}/cancel`, {});
    assert.equal((await api("DELETE", "/api/v1/repositories/with-env")).status, 204);
  });

  it("deletes a registered repository", async () => {
    assert.equal((await api("DELETE", "/api/v1/repositories/project")).status, 204);
    assert.equal((await api("DELETE", "/api/v1/repositories/project")).status, 404);
    assert.equal((await api("GET", "/api/v1/repositories")).body.repositories.length, 0);
  });
});
