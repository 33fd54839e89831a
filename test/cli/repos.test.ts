import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Environment } from "../../src/protocol/environment.ts";
import type { Task } from "../../src/protocol/task.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { makeRemote, tempDir } from "../repo/fixtures.ts";
import { omoi } from "./cli-process.ts";

describe("omoi repos", () => {
  let server: TestOmoi;
  let remote: string;
  const cleanups: (() => Promise<void> | void)[] = [];
  before(async () => {
    const root = await tempDir({ after: (fn) => cleanups.push(fn) });
    remote = await makeRemote(root, "shop");
    server = await startTestOmoi({ OMOI_RUN_AGENTS: "0" });
  });
  after(async () => {
    await server?.stop();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const cli = (args: string[]) => omoi([...args, "--server", server.url]);

  it("sets a repository's default environment, lists it, and omoi run --repo uses it", async () => {
    assert.equal(
      (await api(server.url, "POST", "/api/v1/environments", { name: "node" })).status,
      201,
    );
    const registered = await api(server.url, "POST", "/api/v1/repositories", { url: remote });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));

    const set = await cli(["repos", "env", "shop", "node"]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /tasks on shop run in node unless they name another/);
    const listed = await cli(["repos"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^NAME +URL +CREDENTIAL +ENVIRONMENT/m);
    assert.match(listed.stdout, /^shop +\S+shop\.git +none +node /m);

    assert.match((await cli(["env", "show", "node"])).stdout, /default of: {5}shop/);

    const run = await cli(["run", "build it", "--repo", "shop", "--detach"]);
    assert.equal(run.code, 0, run.stderr);
    const task = await api<Task>(server.url, "GET", `/api/v1/tasks/${run.stdout.trim()}`);
    const node = await api<Environment>(server.url, "GET", "/api/v1/environments/node");
    assert.equal(task.body.environment_id, node.body.id);

    const unknown = await cli(["repos", "env", "shop", "nowhere"]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /environment: 'nowhere' does not exist/);
    const cleared = await cli(["repos", "env", "shop", "none"]);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.match((await cli(["repos"])).stdout, /^shop +\S+ +none +- /m);
    const usage = await cli(["repos", "env", "shop"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /missing arguments/);
  });
});
