import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import { api, spawnOmoi, startTestOmoi, type TestOmoi, tempDir } from "../helpers/omoi.ts";

/*
 * Smaller leaks, server side (docs/security.md §8): tokens in logged URLs, the data dir's
 * permissions, what health tells a caller without the token, and the bearer scheme's case.
 */

const TOKEN = "a-long-enough-api-token";
const modeOf = (file: string) => statSync(file).mode & 0o777;

test("tokens are redacted from every logged URL, the unknown socket path included", async () => {
  const data = tempDir();
  const omoi = await spawnOmoi({ OMOI_PORT: "0", OMOI_DATA_DIR: data.dir, OMOI_RUN_AGENTS: "0" });
  let log = "";
  const logged = new Promise<void>((resolve) => {
    omoi.child.stderr?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes("no websocket handler")) resolve();
    });
  });
  try {
    const socket = new WebSocket(
      `${omoi.url.replace("http", "ws")}/no/such/socket?token=SECRET-VALUE-1&x=1`,
    );
    socket.on("error", () => undefined);
    socket.on("unexpected-response", (request, response) => {
      response.resume();
      request.destroy();
    });
    await logged;
    assert.doesNotMatch(log, /SECRET-VALUE/);
    assert.match(log, /token=\*\*\*/);
  } finally {
    await omoi.stop();
    data.remove();
  }
});

test("the data dir, omoi.db and its WAL and SHM are this user's alone, existing ones tightened", async () => {
  const data = tempDir();
  const dir = path.join(data.dir, "data");
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  mkdirSync(path.join(dir, "old-folder"), { mode: 0o755 });
  writeFileSync(path.join(dir, "omoi.db"), "", { mode: 0o644 });
  chmodSync(path.join(dir, "omoi.db"), 0o644);
  const omoi = await startTestOmoi({ OMOI_RUN_AGENTS: "0", OMOI_DATA_DIR: dir });
  try {
    await api(omoi.url, "POST", "/api/v1/sandboxes", { id: "leaks-modes" });
    assert.equal(modeOf(dir), 0o700, "data dir");
    assert.equal(modeOf(path.join(dir, "old-folder")), 0o700, "a folder in it");
    for (const file of ["omoi.db", "omoi.db-wal", "omoi.db-shm", "secret"]) {
      const full = path.join(dir, file);
      assert.ok(existsSync(full), `${file} exists`);
      assert.equal(modeOf(full), 0o600, file);
    }
  } finally {
    await omoi.stop();
    data.remove();
  }

  const fresh = tempDir();
  const created = path.join(fresh.dir, "new", "data");
  const second = await startTestOmoi({ OMOI_RUN_AGENTS: "0", OMOI_DATA_DIR: created });
  try {
    assert.equal(modeOf(created), 0o700, "a new data dir");
    assert.equal(modeOf(path.join(created, "omoi.db")), 0o600, "a new database");
  } finally {
    await second.stop();
    fresh.remove();
  }
});

describe("with OMOI_API_TOKEN set", () => {
  let omoi: TestOmoi;
  before(async () => {
    omoi = await startTestOmoi({ OMOI_RUN_AGENTS: "0", OMOI_API_TOKEN: TOKEN });
  });
  after(async () => omoi.stop());

  test("health answers only liveness without the token, the details with it", async () => {
    const open = await api<Record<string, unknown>>(omoi.url, "GET", "/api/v1/health");
    assert.equal(open.status, 200, "load balancers still get their answer");
    assert.deepEqual(open.body, { status: "ok" });
    const wrong = await api(omoi.url, "GET", "/api/v1/health", undefined, "not-the-token");
    assert.deepEqual(wrong.body, { status: "ok" });
    const full = await api<{ replica: string; model: { base_url: string } }>(
      omoi.url,
      "GET",
      "/api/v1/health",
      undefined,
      TOKEN,
    );
    assert.equal(typeof full.body.replica, "string");
    assert.equal(typeof full.body.model.base_url, "string");
  });

  test("the bearer scheme is accepted in any case", async () => {
    for (const scheme of ["Bearer", "bearer", "BEARER", "bEaReR"]) {
      const response = await fetch(`${omoi.url}/api/v1/tasks`, {
        headers: { authorization: `${scheme} ${TOKEN}` },
      });
      assert.equal(response.status, 200, scheme);
    }
    const other = await fetch(`${omoi.url}/api/v1/tasks`, {
      headers: { authorization: `Basic ${TOKEN}` },
    });
    assert.equal(other.status, 401, "another scheme is not a bearer token");
  });
});

test("without OMOI_API_TOKEN health shows its details (the whole API is open to the caller anyway)", async () => {
  const omoi = await startTestOmoi({ OMOI_RUN_AGENTS: "0" });
  try {
    const health = await api<{ model: { scripted: boolean } }>(omoi.url, "GET", "/api/v1/health");
    assert.equal(typeof health.body.model.scripted, "boolean");
  } finally {
    await omoi.stop();
  }
});
