import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import pg from "pg";
import { PostgresStore } from "../../src/store/postgres.ts";
import { POSTGRES_MIGRATIONS } from "../../src/store/postgres-migrations.ts";
import { storeConformance } from "./conformance.ts";

const url = process.env.OMOI_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
// Every database the suite asks for is a schema under this file's random prefix.
const prefix = `omoi_test_${randomBytes(4).toString("hex")}`;

after(async () => {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const schemas = await admin.query<{ nspname: string }>(
      "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)",
      [`${prefix}_`],
    );
    for (const { nspname } of schemas.rows) {
      await admin.query(`DROP SCHEMA "${nspname}" CASCADE`);
    }
  } finally {
    await admin.end();
  }
});

storeConformance(
  "postgres",
  (database) => new PostgresStore(url, { schema: `${prefix}_${database}`, poolSize: 8 }),
);

describe("PostgresStore", () => {
  it("refuses a schema name that is not a plain identifier", () => {
    assert.throws(() => new PostgresStore(url, { schema: 'x"; drop' }), /invalid Postgres schema/);
  });

  it("fails migrate() with a clear error when Postgres is unreachable", async () => {
    const store = new PostgresStore("postgres://omoi:secret@127.0.0.1:1/none");
    await assert.rejects(store.migrate(), (error: Error) => {
      assert.match(error.message, /could not connect to Postgres at postgres:\/\/omoi:\*\*\*@127/);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
    await store.close();
  });

  it("records applied migrations once, however many replicas migrate", async () => {
    const schema = `${prefix}_migrations`;
    const stores = [1, 2, 3, 4].map(() => new PostgresStore(url, { schema }));
    try {
      await Promise.all(stores.map((store) => store.migrate()));
      await stores[0].migrate();
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        const result = await admin.query(
          `SELECT version FROM "${schema}".schema_migrations ORDER BY version`,
        );
        assert.deepEqual(
          result.rows.map((row) => row.version),
          POSTGRES_MIGRATIONS.map((migration) => migration.version),
        );
      } finally {
        await admin.end();
      }
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });
});
