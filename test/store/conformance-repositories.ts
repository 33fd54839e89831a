import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type RepositoryRecord,
  TASK_REPO_UNTOUCHED,
  type TaskRepo,
} from "../../src/protocol/repo.ts";
import { spec } from "./conformance-environments.ts";
import { type MakeStore, storeOpener, task } from "./fixtures.ts";

function repository(name: string, id = `repo_${name}`): RepositoryRecord {
  return {
    id,
    name,
    url: `https://git.example.com/${name}.git`,
    credential_kind: "token",
    credential_hint: "ghp_…1234",
    credential_ciphertext: "v1:abc:def:ghi",
    api_base_url: null,
    environment_id: null,
    created_at: 1000,
    updated_at: 1000,
  };
}

export function repositoryConformance(makeStore: MakeStore) {
  describe("repositories", () => {
    const stores = storeOpener(makeStore);

    it("registers, finds by id or name, lists by name and deletes", async () => {
      const store = await stores.open(stores.freshDatabase());
      const web = repository("web");
      assert.deepEqual(await store.createRepository(web), web);
      await store.createRepository({
        ...repository("api"),
        api_base_url: "https://ghe.example.com/api/v3",
      });
      assert.deepEqual(await store.getRepository("repo_web"), web);
      assert.deepEqual(await store.getRepository("web"), web);
      assert.equal(await store.getRepository("nope"), undefined);
      assert.deepEqual(
        (await store.listRepositories()).map((entry) => entry.name),
        ["api", "web"],
      );
      assert.equal(await store.deleteRepository("repo_web"), true);
      assert.equal(await store.deleteRepository("repo_web"), false);
      assert.equal(await store.getRepository("web"), undefined);
    });

    it("a default environment: set only when it exists, cleared with null, and it cannot be deleted meanwhile", async () => {
      const store = await stores.open(stores.freshDatabase());
      await store.createRepository(repository("web"));
      await store.environments.create({
        id: "env_node",
        name: "node",
        spec: spec(),
        sealed: null,
        created_at: 1000,
        updated_at: 1000,
      });
      assert.equal(
        await store.updateRepository("repo_web", { environment_id: "env_missing" }),
        undefined,
      );
      assert.equal((await store.getRepository("web"))?.environment_id, null);
      assert.equal(
        await store.updateRepository("repo_missing", { environment_id: "env_node" }),
        undefined,
      );
      const set = await store.updateRepository("repo_web", { environment_id: "env_node" });
      assert.equal(set?.environment_id, "env_node");
      await assert.rejects(store.environments.delete("env_node"), (error: unknown) => {
        assert.equal((error as { status?: number }).status, 409);
        assert.match(String((error as Error).message), /default environment of repository 'web'/);
        return true;
      });
      assert.ok(await store.environments.get("env_node"));
      assert.equal(
        (await store.updateRepository("repo_web", { environment_id: null }))?.environment_id,
        null,
      );
      assert.equal(await store.environments.delete("env_node"), true);
    });

    it("refuses a second repository with a taken name (409) and keeps the first", async () => {
      const store = await stores.open(stores.freshDatabase());
      await store.createRepository(repository("web"));
      await assert.rejects(
        store.createRepository(repository("web", "repo_other")),
        (error: unknown) => {
          assert.equal((error as { status?: number }).status, 409);
          return true;
        },
      );
      assert.equal((await store.getRepository("web"))?.id, "repo_web");
      assert.equal(await store.getRepository("repo_other"), undefined);
    });

    it("edits a repository's name, URL and credential in one write, stamping updated_at", async () => {
      const store = await stores.open(stores.freshDatabase());
      await store.createRepository(repository("web"));
      const before = Date.now();
      const edited = await store.updateRepository("repo_web", {
        name: "site",
        url: "https://git.example.com/site.git",
        credential_kind: "basic",
        credential_hint: "alice:…9876",
        credential_ciphertext: "v1:new:sealed:value",
        api_base_url: "https://ghe.example.com/api/v3",
      });
      const expected = {
        ...repository("web"),
        name: "site",
        url: "https://git.example.com/site.git",
        credential_kind: "basic" as const,
        credential_hint: "alice:…9876",
        credential_ciphertext: "v1:new:sealed:value",
        api_base_url: "https://ghe.example.com/api/v3",
        updated_at: edited?.updated_at ?? 0,
      };
      assert.deepEqual(edited, expected);
      assert.ok(expected.updated_at >= before, "updated_at is stamped");
      assert.deepEqual(await store.getRepository("site"), expected);
      assert.equal(await store.getRepository("web"), undefined, "the old name is free again");
      // Fields the patch leaves out stay as they are.
      const renamed = await store.updateRepository("repo_web", { api_base_url: null });
      assert.deepEqual(renamed, {
        ...expected,
        api_base_url: null,
        updated_at: renamed?.updated_at,
      });
    });

    it("removes a credential: kind none, no hint and no ciphertext left in the row", async () => {
      const store = await stores.open(stores.freshDatabase());
      await store.createRepository(repository("web"));
      const removed = await store.updateRepository("repo_web", {
        credential_kind: "none",
        credential_hint: null,
        credential_ciphertext: null,
      });
      const expected = {
        ...repository("web"),
        credential_kind: "none" as const,
        credential_hint: null,
        credential_ciphertext: null,
        updated_at: removed?.updated_at ?? 0,
      };
      assert.deepEqual(removed, expected);
      assert.deepEqual(await store.getRepository("web"), expected);
      assert.deepEqual(await store.listRepositories(), [expected]);
    });

    it("an edit to a taken name is a 409 and changes nothing, not even the other fields", async () => {
      const store = await stores.open(stores.freshDatabase());
      const web = await store.createRepository(repository("web"));
      await store.createRepository(repository("api"));
      await assert.rejects(
        store.updateRepository("repo_web", { name: "api", credential_ciphertext: "v1:x:y:z" }),
        (error: unknown) => {
          assert.equal((error as { status?: number }).status, 409);
          assert.match(String((error as Error).message), /'api' is already registered/);
          return true;
        },
      );
      assert.deepEqual(await store.getRepository("repo_web"), web);
      assert.equal(await store.updateRepository("repo_missing", { name: "x" }), undefined);
    });

    it("keeps a task's repository state and patches it", async () => {
      const store = await stores.open(stores.freshDatabase());
      const repo: TaskRepo = {
        url: "https://git.example.com/web.git",
        repository_id: "repo_web",
        base_branch: "main",
        branch: "omoi/fix-1234",
        continued: false,
        auto_pr: true,
        ...TASK_REPO_UNTOUCHED,
      };
      const created = await store.createTask({ ...task(), repo });
      assert.deepEqual(created.repo, repo);
      const next = {
        ...repo,
        pushed_sha: "a".repeat(40),
        changes: { files: 2, added: 3, removed: 1 },
      };
      const updated = await store.updateTask(created.id, { repo: next });
      assert.deepEqual(updated?.repo, next);
      assert.deepEqual((await store.getTask(created.id))?.repo, next);
      assert.equal((await store.createTask(task())).repo, null);
    });
  });
}
