import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { git } from "../../src/repo/git.ts";
import { api, startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";
import { makeGuardedRemote, makeRemote, serveGitHttp, tempDir } from "../repo/fixtures.ts";
import { startGitHubStandIn } from "../repo/github-stand-in.ts";
import { omoiIn } from "./cli-process.ts";

const TOKEN = "ghp_clifailures00000000000000000000007";

/*
 * What a person sees in the terminal when a repository task cannot go as planned: credentials
 * refused, a folder that is not a repository, a protected branch refusing the push, a pull
 * request the forge refuses. Real git over smart HTTP; the GitHub REST stand-in.
 */
describe("omoi says plainly what went wrong with a repository", () => {
  let server: TestOmoi;
  let root: string;
  let viewer: TestViewer;
  let gitServer: Awaited<ReturnType<typeof serveGitHttp>>;
  let github: Awaited<ReturnType<typeof startGitHubStandIn>>;
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    root = await tempDir({ after: (fn) => cleanups.push(fn) });
    await mkdir(path.join(root, "acme"));
    const remote = await makeRemote(path.join(root, "acme"), "project");
    await makeGuardedRemote(path.join(root, "acme"));
    gitServer = await serveGitHttp(root, { username: "x-access-token", password: TOKEN });
    github = await startGitHubStandIn({
      owner: "acme",
      repo: "project",
      gitDir: remote,
      tokens: [TOKEN],
    });
    server = await startTestOmoi({ OMOI_IDLE_WINDOW_MS: "600000" });
    for (const name of ["project", "guarded"]) {
      const registered = await api(server.url, "POST", "/api/v1/repositories", {
        name,
        url: `${gitServer.url}/acme/${name}.git`,
        api_base_url: name === "project" ? github.url : undefined,
        credential: { kind: "token", token: TOKEN },
      });
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
    }
    viewer = new TestViewer(
      `${server.url.replace("http", "ws")}/ws/events?entity_types=sandbox,task&event_types=task.*,repo.*`,
    );
    await viewer.opened;
  });
  after(async () => {
    viewer?.close();
    await server?.stop();
    await github?.close();
    await gitServer?.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const cli = (args: string[]) => omoiIn(root, server.url, args, { NO_COLOR: "1" });
  const finished = async (taskId: string) => {
    await viewer.waitFor(
      () =>
        viewer.events.some(
          (event) => event.task_id === taskId && event.event_type === "task.completed",
        ),
      "task.completed",
      120_000,
    );
  };

  it("credentials refused", async () => {
    const url = `${gitServer.url.replace("127.0.0.1", "localhost")}/acme/project.git`;
    const result = await cli(["run", "--repo", url, "--detach", "x"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /the remote refused the credentials for http:\/\/localhost/);
    assert.ok(!`${result.stdout}${result.stderr}`.includes(TOKEN));
  });

  it("an empty repository", async () => {
    const empty = path.join(root, "empty.git");
    await git(["init", "--quiet", "--bare", empty]);
    const result = await cli(["run", "--repo", empty, "--detach", "x"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /repository .*empty\.git has no branches yet/);
  });

  it("a folder that is not a git repository", async () => {
    const result = await cli(["run", "--repo", root, "--detach", "x"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /is not a git repository/);
  });

  it("a protected branch refusing the push: the reason shows, the work is kept", async () => {
    const created = await cli([
      "run",
      "--repo",
      "guarded",
      "--detach",
      "[scenario:repo-edit] add hello",
    ]);
    assert.equal(created.code, 0, created.stderr);
    const taskId = created.stdout.trim();
    await finished(taskId);
    const watched = await cli(["watch", taskId, "--from-start"]);
    assert.match(
      watched.stdout,
      /✗ not pushed \(push_rejected\): the remote rejected the push to omoi\/[^:]+: .*pre-receive hook declined.* — the remote said: protected branch: pushes need review/,
    );
    assert.match(watched.stdout, /the workspace and its commits are kept/);
    const diff = await cli(["diff", taskId, "--stat"]);
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /2 files, \+3 −0, 2 commits/);
  });

  it("a pull request the forge refuses", async () => {
    const created = await cli([
      "run",
      "--repo",
      "project",
      "--branch",
      "main",
      "--detach",
      "[scenario:repo-edit] straight onto main",
    ]);
    assert.equal(created.code, 0, created.stderr);
    const taskId = created.stdout.trim();
    await finished(taskId);
    const pr = await cli(["pr", taskId]);
    assert.equal(pr.code, 1);
    assert.match(pr.stderr, /GitHub refused the pull request: 422 Validation Failed/);
    assert.equal(github.pulls.length, 0);
  });
});
