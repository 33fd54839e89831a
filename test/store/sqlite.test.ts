import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { newSandboxId } from "../../src/protocol/ids.ts";
import { createStore } from "../../src/store/index.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { storeConformance } from "./conformance.ts";
import { event, task } from "./fixtures.ts";

const directory = mkdtempSync(join(tmpdir(), "omoi-sqlite-test-"));
after(() => rmSync(directory, { recursive: true, force: true }));

storeConformance("sqlite", (database) => new SqliteStore(join(directory, `${database}.db`)));

describe("SqliteStore", () => {
  it("creates its folder and keeps data across close and reopen", async () => {
    const path = join(directory, "nested", "folder", "omoi.db");
    const stream = newSandboxId();
    const first = new SqliteStore(path);
    await first.migrate();
    await first.appendEvents([event(stream), event(stream)]);
    const created = await first.createTask(task());
    await first.close();

    const reopened = new SqliteStore(path);
    await reopened.migrate();
    try {
      assert.equal(await reopened.lastSeq(stream), 2);
      const [next] = await reopened.appendEvents([event(stream)]);
      assert.equal(next.event.seq, 3);
      assert.deepEqual(await reopened.getTask(created.id), created);
    } finally {
      await reopened.close();
    }
  });

  it("refuses work before migrate() with a clear error", async () => {
    const store = new SqliteStore(join(directory, "never-opened.db"));
    await assert.rejects(store.lastSeq("x"), /call migrate\(\) first/);
  });
});

describe("createStore", () => {
  it("uses SQLite under dataDir without a database URL", () => {
    const store = createStore({ dataDir: directory });
    assert.equal(store.kind, "sqlite");
    assert.ok(store instanceof SqliteStore);
    assert.equal(store.path, join(directory, "omoi.db"));
  });

  it("uses Postgres for postgres:// and postgresql:// URLs, without connecting", async () => {
    for (const url of ["postgres://nobody@127.0.0.1:1/none", "postgresql://nobody@127.0.0.1:1/x"]) {
      const store = createStore({ databaseUrl: url, dataDir: directory });
      assert.equal(store.kind, "postgres");
      await store.close();
    }
  });

  it("rejects an unknown URL scheme with a clear message", () => {
    assert.throws(
      () => createStore({ databaseUrl: "mysql://localhost/db", dataDir: directory }),
      /unsupported DATABASE_URL scheme 'mysql'/,
    );
  });
});
