import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { git, gitText } from "../../src/repo/git.ts";
import { startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";
import { commitFiles, tempDir } from "../repo/fixtures.ts";
import { omoiIn } from "./cli-process.ts";

/** `omoi run --repo .`, `omoi diff`, `omoi pr`, `omoi checkout` in a person's checkout. */
describe("omoi on a repository", () => {
  let server: TestOmoi;
  let checkout: string;
  let viewer: TestViewer;
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    const root = await tempDir({ after: (fn) => cleanups.push(fn) });
    checkout = path.join(root, "checkout");
    await git(["init", "--quiet", "-b", "main", checkout]);
    await commitFiles(checkout, { "README.md": "# mine\n" }, "start");
    server = await startTestOmoi({ OMOI_IDLE_WINDOW_MS: "600000" });
    viewer = new TestViewer(
      `${server.url.replace("http", "ws")}/ws/events?entity_types=sandbox,task&event_types=task.*,repo.*`,
    );
    await viewer.opened;
  });
  after(async () => {
    viewer?.close();
    await server?.stop();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const cli = (args: string[]) => omoiIn(checkout, server.url, args);

  it("run --repo . works on the checkout; diff, pr and checkout follow the task's branch", async () => {
    const created = await cli(["run", "--repo", ".", "--detach", "[scenario:repo-edit] add hello"]);
    assert.equal(created.code, 0, created.stderr);
    const taskId = created.stdout.trim();
    await viewer.waitFor(
      () =>
        viewer.events.some(
          (event) => event.task_id === taskId && event.event_type === "task.completed",
        ),
      "task.completed",
      120_000,
    );
    const pushed = viewer.events.find(
      (event) => event.task_id === taskId && event.event_type === "repo.pushed",
    );
    assert.ok(pushed, JSON.stringify(viewer.events.map((event) => event.event_type)));
    const branch = pushed.payload.branch as string;
    assert.equal(await gitText(["branch", "--show-current"], { cwd: checkout }), "main");

    const diff = await cli(["diff", taskId]);
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /added\s+\+1 −0\s+NOTES\.md/);
    assert.match(diff.stdout, /2 files, \+3 −0, 2 commits/);
    assert.match(diff.stdout, /\+def hello\(\):/);

    const pr = await cli(["pr", taskId]);
    assert.equal(pr.code, 0, pr.stderr);
    assert.match(pr.stdout, /the branch is pushed; this remote has no pull requests/);

    const checkedOut = await cli(["checkout", taskId]);
    assert.equal(checkedOut.code, 0, checkedOut.stderr);
    assert.equal(await gitText(["branch", "--show-current"], { cwd: checkout }), branch);
    assert.equal(await gitText(["rev-parse", "HEAD"], { cwd: checkout }), pushed.payload.sha);

    // A clone where the person went on working on the task's branch: checking the task out
    // again must not throw that work away.
    const clone = path.join(path.dirname(checkout), "clone");
    await git(["clone", "--quiet", checkout, clone]);
    await git(["checkout", "--quiet", "-B", branch, `origin/${branch}`], { cwd: clone });
    await commitFiles(clone, { "MINE.md": "my own work\n" }, "my own work");
    const mine = await gitText(["rev-parse", "HEAD"], { cwd: clone });
    await git(["checkout", "--quiet", "-b", "elsewhere"], { cwd: clone });
    const kept = await omoiIn(clone, server.url, ["checkout", taskId]);
    assert.equal(kept.code, 1, kept.stderr);
    assert.match(
      kept.stderr,
      new RegExp(`your branch ${branch} has commits that the task's branch does not`),
    );
    assert.match(kept.stderr, /git branch -m /);
    assert.equal(
      await gitText(["rev-parse", branch], { cwd: clone }),
      mine,
      "the person's commit stays",
    );
    // Checked out there, the same: nothing moves.
    await git(["checkout", "--quiet", branch], { cwd: clone });
    const keptCheckedOut = await omoiIn(clone, server.url, ["checkout", taskId]);
    assert.equal(keptCheckedOut.code, 1, keptCheckedOut.stderr);
    assert.equal(await gitText(["rev-parse", "HEAD"], { cwd: clone }), mine);

    // Outside any checkout: say where to run it, not git's own words.
    const outside = await tempDir({ after: (fn) => cleanups.push(fn) });
    const lost = await omoiIn(outside, server.url, ["checkout", taskId]);
    assert.equal(lost.code, 1);
    assert.match(lost.stderr, /is not in a git checkout: run omoi checkout inside the repository/);
    assert.doesNotMatch(lost.stderr, /rev-parse|fatal:/);
  });

  it("a failure the server can check is a clear error", async () => {
    const result = await cli(["run", "--repo", ".", "--base", "nope", "--detach", "x"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /base branch 'nope' does not exist/);
  });
});
