import { randomUUID } from "node:crypto";
import { after, before, describe } from "node:test";
import { startTestOmoi, TEST_REDIS_URL, type TestOmoi } from "./omoi.ts";
import { createTestDatabase } from "./postgres.ts";

/** What a backend adds to a test server's environment, and how to clean it up after. */
interface PreparedBackend {
  env: Record<string, string>;
  drop(): Promise<void>;
}

/**
 * The two ways Omoi stores and fans out events: the embedded default (SQLite, in-process
 * bus) and Postgres + Redis (a throwaway database and a Redis channel of its own).
 */
const BACKENDS: [name: string, prepare: () => Promise<PreparedBackend>][] = [
  ["the embedded backend", async () => ({ env: {}, drop: async () => {} })],
  [
    "Postgres + Redis",
    async () => {
      const database = await createTestDatabase();
      const env = {
        DATABASE_URL: database.url,
        REDIS_URL: TEST_REDIS_URL,
        OMOI_REDIS_CHANNEL: `omoi:test:${randomUUID()}`,
      };
      return { env, drop: database.drop };
    },
  ],
];

/**
 * Runs `suite` once per backend, each time against a fresh in-process server started with
 * `env` plus the backend's settings; `started` receives that server before the suite runs.
 */
export function forEachBackend(
  title: string,
  env: Record<string, string>,
  started: (omoi: TestOmoi) => Promise<void> | void,
  suite: () => void,
) {
  for (const [backend, prepare] of BACKENDS) {
    describe(`${title} on ${backend}`, () => {
      let omoi: TestOmoi | undefined;
      let drop = async () => {};
      before(async () => {
        const prepared = await prepare();
        drop = prepared.drop;
        omoi = await startTestOmoi({ ...env, ...prepared.env });
        await started(omoi);
      });
      after(async () => {
        await omoi?.stop();
        await drop();
      });
      suite();
    });
  }
}
