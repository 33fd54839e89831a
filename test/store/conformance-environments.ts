import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_NETWORK } from "../../src/protocol/environment.ts";
import type { EnvironmentRecord, EnvironmentSpec } from "../../src/store/environment-store.ts";
import { type MakeStore, task as newTask, storeOpener } from "./fixtures.ts";

/** An environment spec for store tests. */
export const spec = (overrides: Partial<EnvironmentSpec> = {}): EnvironmentSpec => ({
  description: null,
  setup_script: "npm ci",
  network: DEFAULT_NETWORK,
  variables: { NODE_ENV: "test" },
  secrets: [{ name: "NPM_TOKEN", setup_only: true, hint: "••••" }],
  model: null,
  model_credentials: null,
  mcp_servers: {},
  ...overrides,
});

let counter = 0;
const record = (overrides: Partial<EnvironmentRecord> = {}): EnvironmentRecord => ({
  id: `env_conformance${++counter}`,
  name: `env-${counter}`,
  spec: spec(),
  sealed: "v1.sealed",
  created_at: 1000,
  updated_at: 1000,
  ...overrides,
});

export function environmentConformance(makeStore: MakeStore) {
  describe("environments", () => {
    const stores = storeOpener(makeStore);

    it("stores an environment and reads it back by id and by name", async () => {
      const store = await stores.open(stores.freshDatabase());
      const input = record();
      assert.deepEqual(await store.environments.create(input), input);
      assert.deepEqual(await store.environments.get(input.id), input);
      assert.deepEqual(await store.environments.get(input.name), input);
      assert.equal(await store.environments.get("nope"), undefined);
    });

    it("refuses a second environment with the same name (409) and keeps the first", async () => {
      const store = await stores.open(stores.freshDatabase());
      const first = await store.environments.create(record({ name: "web" }));
      await assert.rejects(store.environments.create(record({ name: "web" })), {
        name: "Conflict",
      });
      assert.deepEqual(await store.environments.list(), [first]);
    });

    it("updates only from the version the caller read, so no edit is silently lost", async () => {
      const store = await stores.open(stores.freshDatabase());
      const created = await store.environments.create(record());
      const change = { name: "renamed", spec: spec({ setup_script: "make" }), sealed: null };
      const updated = await store.environments.update(created.id, change, created.updated_at);
      assert.ok(updated);
      assert.equal(updated.name, "renamed");
      assert.equal(updated.spec.setup_script, "make");
      assert.equal(updated.sealed, null);
      assert.ok(updated.updated_at > created.updated_at);
      // A writer that read the old version loses, and nothing changes.
      const stale = await store.environments.update(
        created.id,
        { ...change, name: "stale" },
        created.updated_at,
      );
      assert.equal(stale, undefined);
      assert.equal((await store.environments.get(created.id))?.name, "renamed");
    });

    it("renaming onto a taken name is a 409", async () => {
      const store = await stores.open(stores.freshDatabase());
      await store.environments.create(record({ name: "taken" }));
      const other = await store.environments.create(record());
      await assert.rejects(
        store.environments.update(
          other.id,
          { name: "taken", spec: other.spec, sealed: other.sealed },
          other.updated_at,
        ),
        { name: "Conflict" },
      );
    });

    it("deletes an environment only while no unended task names it", async () => {
      const store = await stores.open(stores.freshDatabase());
      const environment = await store.environments.create(record());
      const task = await store.createTask(newTask({ environment_id: environment.id }));
      assert.equal(task.environment_id, environment.id);
      await assert.rejects(store.environments.delete(environment.id), {
        name: "Conflict",
        message: new RegExp(task.id),
      });
      assert.ok(await store.environments.get(environment.id));
      await store.updateTask(task.id, { status: "completed" });
      assert.equal(await store.environments.delete(environment.id), true);
      assert.equal(await store.environments.delete(environment.id), false);
      assert.equal(await store.environments.get(environment.id), undefined);
    });
  });
}
