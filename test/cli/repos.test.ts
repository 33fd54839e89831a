import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Environment } from "../../src/protocol/environment.ts";
import type { Task } from "../../src/protocol/task.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { makeRemote, serveGitHttp, tempDir } from "../repo/fixtures.ts";
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
  const cli = (args: string[], input?: string) =>
    omoi([...args, "--server", server.url], {}, input);

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

  it("omoi repos edit: a new password from stdin or a variable, tried first; a refused one changes nothing", async () => {
    const root = await tempDir({ after: (fn) => cleanups.push(fn) });
    await mkdir(path.join(root, "acme"));
    await makeRemote(path.join(root, "acme"), "site");
    await makeRemote(path.join(root, "acme"), "site2");
    const OLD = "cli-edit-old-password-111111";
    const NEW = "cli-edit-new-password-222222";
    let accepted = OLD;
    const git = await serveGitHttp(
      root,
      (user, password) => user === "bob" && password === accepted,
    );
    cleanups.push(() => git.close());
    const registered = await api(server.url, "POST", "/api/v1/repositories", {
      url: `${git.url}/acme/site.git`,
      credential: { kind: "basic", username: "bob", password: OLD },
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));

    accepted = NEW;
    const refused = await cli(
      ["repos", "edit", "site", "--username", "bob", "--password-stdin"],
      "wrong-password-here\n",
    );
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /refused the credentials/);
    assert.doesNotMatch(refused.stderr + refused.stdout, /wrong-password-here/);
    const unchanged = await api<{ credential_hint: string }>(
      server.url,
      "GET",
      "/api/v1/repositories/site",
    );
    assert.equal(unchanged.body.credential_hint, "bob:…1111");

    const edited = await cli(
      ["repos", "edit", "site", "--username", "bob", "--password-stdin"],
      `${NEW}\n`,
    );
    assert.equal(edited.code, 0, edited.stderr);
    assert.equal(edited.stdout, "site: credential bob:…2222\n");
    assert.doesNotMatch(edited.stdout + edited.stderr, new RegExp(NEW));

    const moved = await omoi(
      [
        "repos",
        "edit",
        "site",
        "--url",
        `${git.url}/acme/site2.git`,
        "--name",
        "site2",
        "--username",
        "bob",
        "--password-env",
        "SITE_PASSWORD",
        "--json",
        "--server",
        server.url,
      ],
      { SITE_PASSWORD: NEW },
    );
    assert.equal(moved.code, 0, moved.stderr);
    const repository = JSON.parse(moved.stdout);
    assert.equal(repository.name, "site2");
    assert.equal(repository.url, `${git.url}/acme/site2.git`);
    assert.equal(repository.credential_ciphertext, undefined);
    assert.doesNotMatch(moved.stdout, new RegExp(NEW));

    const usage: [string[], RegExp][] = [
      [["repos", "edit"], /missing argument/],
      [["repos", "edit", "site2"], /nothing to change/],
      [["repos", "edit", "site2", "--password-stdin"], /needs --username/],
      [["repos", "edit", "site2", "--token-env", "NOPE_NOT_SET"], /NOPE_NOT_SET is not set/],
      [["repos", "edit", "site2", "--username", "bob"], /--username goes with/],
    ];
    for (const [args, message] of usage) {
      const result = await cli(args);
      assert.equal(result.code, 2, args.join(" "));
      assert.match(result.stderr, message, args.join(" "));
    }
    const taken = await cli(["repos", "edit", "site2", "--name", "shop"]);
    assert.notEqual(taken.code, 0);
    assert.match(taken.stderr, /'shop' is already registered/);
  });

  it("omoi repos edit --no-credential: refused while the remote needs one, then removed; never with a new secret", async () => {
    const root = await tempDir({ after: (fn) => cleanups.push(fn) });
    await mkdir(path.join(root, "acme"));
    await makeRemote(path.join(root, "acme"), "docs");
    const PASSWORD = "cli-remove-password-333333";
    let publicRead = false;
    const git = await serveGitHttp(
      root,
      (user, password) => user === "carol" && password === PASSWORD,
      { anonymous: () => publicRead },
    );
    cleanups.push(() => git.close());
    const registered = await api(server.url, "POST", "/api/v1/repositories", {
      url: `${git.url}/acme/docs.git`,
      credential: { kind: "basic", username: "carol", password: PASSWORD },
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));

    const combos: string[][] = [
      ["--token-stdin"],
      ["--token-env", "SOME_TOKEN"],
      ["--username", "carol", "--password-stdin"],
      ["--password-env", "SOME_PASSWORD"],
      ["--username", "carol"],
    ];
    for (const flags of combos) {
      const result = await omoi(
        ["repos", "edit", "docs", "--no-credential", ...flags, "--server", server.url],
        { SOME_TOKEN: "t", SOME_PASSWORD: "p" },
        "a-secret-on-stdin\n",
      );
      assert.equal(result.code, 2, flags.join(" "));
      assert.match(result.stderr, /--no-credential removes the credential: it cannot go with --/);
      assert.match(result.stderr, new RegExp(flags[0]), flags.join(" "));
    }

    const refused = await cli(["repos", "edit", "docs", "--no-credential"]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /docs\.git needs a credential/);
    const kept = await api<{ credential_hint: string }>(
      server.url,
      "GET",
      "/api/v1/repositories/docs",
    );
    assert.equal(kept.body.credential_hint, "carol:…3333");

    publicRead = true;
    const removed = await cli(["repos", "edit", "docs", "--no-credential"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, "docs: credential removed\n");
    assert.match((await cli(["repos"])).stdout, /^docs +\S+docs\.git +none /m);
    const help = await cli(["repos", "--help"]);
    assert.match(help.stdout + help.stderr, /--no-credential +remove the stored credential/);
  });
});
