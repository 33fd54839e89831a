import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { collectOutput, type OmoiProcess, spawnOmoi } from "../helpers/omoi.ts";
import { makeRemote, serveGitHttp, tempDir } from "../repo/fixtures.ts";

/*
 * PATCH /api/v1/repositories/{id}: a new credential or URL is tried against the real git
 * http-backend (which checks basic auth) before it is kept; a refused one changes nothing,
 * and no secret, old or new, ever appears in a response or in the server's debug log.
 */

const OLD_PASSWORD = "edit-old-password-1111111111";
const NEW_PASSWORD = "edit-new-password-2222222222";
const WRONG_PASSWORD = "edit-wrong-password-3333333333";
const SECRETS = [OLD_PASSWORD, NEW_PASSWORD, WRONG_PASSWORD];

describe("editing a registered repository over the API", () => {
  let omoi: OmoiProcess;
  let root: string;
  let server: Awaited<ReturnType<typeof serveGitHttp>>;
  let logs = () => "";
  /** What the git server accepts right now: rotating it is what a forge does to a token. */
  let accepted = new Set([OLD_PASSWORD]);
  /** Whether the git server serves a request without credentials (the repository went public). */
  let publicRead = false;
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    root = await tempDir({ after: (fn) => cleanups.push(fn) });
    await mkdir(path.join(root, "acme"));
    await mkdir(path.join(root, "data"));
    await makeRemote(path.join(root, "acme"), "project");
    await makeRemote(path.join(root, "acme"), "moved");
    server = await serveGitHttp(
      root,
      (username, password) => username === "alice" && accepted.has(password),
      { anonymous: () => publicRead },
    );
    omoi = await spawnOmoi({
      OMOI_PORT: "0",
      OMOI_DATA_DIR: path.join(root, "data"),
      OMOI_RUN_AGENTS: "0",
      OMOI_LOG_LEVEL: "debug",
    });
    logs = collectOutput(omoi);
  });
  after(async () => {
    await omoi?.stop();
    await server?.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const api = async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${omoi.url}${route}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await response.text();
    for (const secret of SECRETS) {
      assert.ok(!text.includes(secret), `${method} ${route} answered with a credential`);
    }
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  const basic = (password: string) => ({ kind: "basic", username: "alice", password });
  const projectUrl = () => `${server.url}/acme/project.git`;

  it("a refused new credential is a 403 that changes nothing: the old one goes on working", async () => {
    const created = await api("POST", "/api/v1/repositories", {
      url: projectUrl(),
      credential: basic(OLD_PASSWORD),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));

    const refused = await api("PATCH", "/api/v1/repositories/project", {
      name: "renamed",
      credential: basic(WRONG_PASSWORD),
    });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal(refused.body.error.data.code, "auth_refused");
    assert.match(refused.body.error.message, /refused the credentials/);

    const after = await api("GET", "/api/v1/repositories/project");
    assert.deepEqual(after.body, created.body, "no field changed, not even the name");
    assert.equal((await api("GET", "/api/v1/repositories/renamed")).status, 404);
    const task = await api("POST", "/api/v1/tasks", { prompt: "p", repo: "project" });
    assert.equal(task.status, 201, `the old credential still works: ${JSON.stringify(task.body)}`);
    await api("POST", `/api/v1/tasks/${task.body.id}/cancel`, {});
  });

  it("an unreachable new URL is a 404 that changes nothing", async () => {
    const before = await api("GET", "/api/v1/repositories/project");
    const unreachable = await api("PATCH", "/api/v1/repositories/project", {
      url: "http://127.0.0.1:1/acme/project.git",
    });
    assert.equal(unreachable.status, 404, JSON.stringify(unreachable.body));
    assert.equal(unreachable.body.error.data.code, "not_found");
    const missing = await api("PATCH", "/api/v1/repositories/project", {
      url: path.join(root, "nowhere.git"),
    });
    assert.equal(missing.status, 404);
    assert.deepEqual((await api("GET", "/api/v1/repositories/project")).body, before.body);
  });

  it("rotating the credential: the new one is tried, kept, shown only as a hint, and used", async () => {
    const old = await api("GET", "/api/v1/repositories/project");
    const earlier = await api("POST", "/api/v1/tasks", { prompt: "before", repo: "project" });
    assert.equal(earlier.status, 201);

    accepted = new Set([NEW_PASSWORD]); // the forge revoked the old password
    const stale = await api("POST", "/api/v1/tasks", { prompt: "p", repo: "project" });
    assert.equal(stale.status, 403, "the old credential no longer works");

    const rotated = await api("PATCH", "/api/v1/repositories/project", {
      credential: basic(NEW_PASSWORD),
    });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal(rotated.body.id, old.body.id);
    assert.equal(rotated.body.credential_kind, "basic");
    assert.equal(rotated.body.credential_hint, "alice:…2222");
    assert.equal(rotated.body.credential_ciphertext, undefined);
    assert.ok(rotated.body.updated_at >= old.body.updated_at);
    assert.deepEqual((await api("GET", "/api/v1/repositories")).body.repositories, [rotated.body]);

    const fresh = await api("POST", "/api/v1/tasks", { prompt: "after", repo: "project" });
    assert.equal(fresh.status, 201, JSON.stringify(fresh.body));
    // The task made before the edit still names the same repository, which now opens with
    // the new credential.
    const kept = await api("GET", `/api/v1/tasks/${earlier.body.id}`);
    assert.equal(kept.body.repo.repository_id, old.body.id);
    for (const task of [earlier, fresh]) {
      await api("POST", `/api/v1/tasks/${task.body.id}/cancel`, {});
    }

    // A token credential, the other shape, is tried and hinted the same way.
    const token = await api("PATCH", "/api/v1/repositories/project", {
      credential: { kind: "token", token: WRONG_PASSWORD, username: "alice" },
    });
    assert.equal(token.status, 403);
    assert.equal(
      (await api("GET", "/api/v1/repositories/project")).body.credential_hint,
      "alice:…2222",
    );
  });

  it("changes the URL (a new mirror) and the name; new tasks use them", async () => {
    const moved = await api("PATCH", "/api/v1/repositories/project", {
      url: `${server.url}/acme/moved.git`,
      name: "moved",
    });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal(moved.body.url, `${server.url}/acme/moved.git`);
    assert.equal(moved.body.name, "moved");
    assert.equal((await api("GET", "/api/v1/repositories/project")).status, 404);
    const task = await api("POST", "/api/v1/tasks", { prompt: "p", repo: "moved" });
    assert.equal(task.status, 201, JSON.stringify(task.body));
    assert.equal(task.body.repo.url, `${server.url}/acme/moved.git`);
    await api("POST", `/api/v1/tasks/${task.body.id}/cancel`, {});
  });

  it("answers bad edits with a clear 4xx and changes nothing", async () => {
    assert.equal(
      (await api("POST", "/api/v1/repositories", { name: "other", url: projectUrl() })).status,
      403,
      "registration without a credential is refused by this remote",
    );
    const other = await api("POST", "/api/v1/repositories", {
      name: "other",
      url: projectUrl(),
      credential: basic(NEW_PASSWORD),
    });
    assert.equal(other.status, 201);
    const before = await api("GET", "/api/v1/repositories/moved");
    const cases: [unknown, number, RegExp][] = [
      [{}, 400, /at least one field/],
      [{ colour: "blue" }, 400, /colour/],
      [{ name: "other" }, 409, /'other' is already registered/],
      [{ name: "bad name!" }, 400, /name/],
      [{ url: "" }, 400, /url/],
      [{ url: "ssh://git@example.com/x.git" }, 400, /./],
      [{ credential: { kind: "token" } }, 400, /credential/],
      [
        { credential: { kind: "basic", username: "alice", password: NEW_PASSWORD, x: 1 } },
        400,
        /./,
      ],
      [{ environment: "nowhere" }, 400, /environment: 'nowhere' does not exist/],
      [{ api_base_url: "not a url" }, 400, /api_base_url/],
      // Only api_base_url, environment and credential take null.
      [{ name: null }, 400, /name/],
      [{ url: null }, 400, /url/],
      [{ credential: { kind: "none" } }, 400, /credential/],
      ["[1,2]", 400, /./],
    ];
    for (const case_ of cases) {
      const [body, status, message] = case_;
      const response = await api("PATCH", "/api/v1/repositories/moved", body);
      assert.equal(
        response.status,
        status,
        `case ${cases.indexOf(case_)}: ${response.body?.error?.message}`,
      );
      assert.match(response.body.error.message, message, `case ${cases.indexOf(case_)}`);
    }
    assert.equal((await api("PATCH", "/api/v1/repositories/nope", { name: "x" })).status, 404);
    assert.deepEqual((await api("GET", "/api/v1/repositories/moved")).body, before.body);
    // Renaming to its own name is no conflict.
    assert.equal((await api("PATCH", "/api/v1/repositories/moved", { name: "moved" })).status, 200);
  });

  it("removing the credential from a remote that needs one is a 403 saying so; nothing changes and the credential goes on working", async () => {
    const before = await api("GET", "/api/v1/repositories/moved");
    assert.equal(before.body.credential_kind, "basic");
    for (const body of [{ credential: null }, { credential: null, name: "public" }]) {
      const refused = await api("PATCH", "/api/v1/repositories/moved", body);
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.equal(refused.body.error.data.code, "auth_refused");
      assert.match(
        refused.body.error.message,
        /\/acme\/moved\.git needs a credential: the remote refused to be read without one/,
      );
    }
    assert.deepEqual((await api("GET", "/api/v1/repositories/moved")).body, before.body);
    assert.equal((await api("GET", "/api/v1/repositories/public")).status, 404);
    const task = await api("POST", "/api/v1/tasks", { prompt: "p", repo: "moved" });
    assert.equal(task.status, 201, `the credential still works: ${JSON.stringify(task.body)}`);
    await api("POST", `/api/v1/tasks/${task.body.id}/cancel`, {});
  });

  it("removing the credential from a public remote: tried without one, gone from the answer and the database, and not sent again", async () => {
    publicRead = true; // the repository was made public
    const before = await api("GET", "/api/v1/repositories/moved");
    const removed = await api("PATCH", "/api/v1/repositories/moved", { credential: null });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal(removed.body.id, before.body.id);
    assert.equal(removed.body.credential_kind, "none");
    assert.equal(removed.body.credential_hint, null);
    assert.equal(removed.body.credential_ciphertext, undefined);
    assert.deepEqual((await api("GET", "/api/v1/repositories/moved")).body, removed.body);

    const database = new Database(path.join(root, "data", "omoi.db"), { readonly: true });
    try {
      const row = database
        .prepare(
          "SELECT credential_kind, credential_hint, credential_ciphertext FROM repositories WHERE id = ?",
        )
        .get(before.body.id);
      assert.deepEqual(
        { ...(row as object) },
        { credential_kind: "none", credential_hint: null, credential_ciphertext: null },
      );
    } finally {
      database.close();
    }

    // The server still takes the old password, so any git request Omoi sent with it would say so.
    const asked = server.requests.length;
    const task = await api("POST", "/api/v1/tasks", { prompt: "p", repo: "moved" });
    assert.equal(task.status, 201, JSON.stringify(task.body));
    const since = server.requests.slice(asked);
    assert.ok(since.length > 0, "the task's check reached the remote");
    assert.deepEqual(
      since.filter((request) => request.authorization !== undefined),
      [],
      "no credential was sent",
    );
    await api("POST", `/api/v1/tasks/${task.body.id}/cancel`, {});

    // Removing it again, where there is none, is no error.
    const again = await api("PATCH", "/api/v1/repositories/moved", { credential: null });
    assert.equal(again.status, 200);
    assert.equal(again.body.credential_kind, "none");
  });

  it("no credential, old, new or refused, is in the log or in the database in the clear", async () => {
    for (const secret of SECRETS) assert.ok(!logs().includes(secret), "a credential was logged");
    assert.match(logs(), /Omoi is running/, "the server's output was captured");
    const data = path.join(root, "data");
    const database = await readFile(path.join(data, "omoi.db"));
    const wal = await readFile(path.join(data, "omoi.db-wal")).catch(() => Buffer.alloc(0));
    for (const secret of SECRETS) {
      assert.ok(!database.includes(secret) && !wal.includes(secret), "sealed at rest");
    }
  });
});
