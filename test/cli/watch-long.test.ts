import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { postEvents, postLongSession, stepEvents } from "../helpers/long-session.ts";
import { startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { runInTerminal } from "./terminal-session.ts";

/**
 * `omoi watch` of a 20,000-event session in a real pseudo-terminal: it prints the latest
 * part (a couple of screens, not thousands of lines), says what it left out, follows live;
 * `--from-start` shows everything from the first step.
 */

const EVENTS = 20_000;
/** Two screens of the 50-row terminal, and a few lines of header and notes. */
const MAX_LINES = 120;

describe("omoi watch of a long session", () => {
  let omoi: TestOmoi;
  let sandbox: string;
  let latestText: string;
  before(async () => {
    omoi = await startTestOmoi({ OMOI_RUN_AGENTS: "0" });
    ({ sandbox, latestText } = await postLongSession(omoi.url, EVENTS));
  });
  after(async () => {
    await omoi?.stop();
  });

  it("shows the latest step first, says what it left out, then follows live", async () => {
    const session = runInTerminal(["watch", sandbox, "--server", omoi.url]);
    await session.waitFor(latestText);
    const noteAt = await session.waitFor(
      /… \d+ earlier events and \d+ lines of catch-up not shown/,
    );
    assert.match(session.output(), new RegExp(`omoi watch --from-start ${sandbox}`));
    assert.ok(!session.output().includes("Step 1:"), "the first steps are not printed");
    const printed = session.output().split("\n").length;
    assert.ok(printed <= MAX_LINES, `printed ${printed} lines`);
    // The latest step, whole: its message, its Bash call.
    const stepsShown = [...session.output().matchAll(/Step (\d+):/g)].map((match) =>
      Number(match[1]),
    );
    assert.ok(stepsShown.length > 0);
    assert.deepEqual(
      stepsShown,
      [...stepsShown].sort((a, b) => a - b),
      "in order",
    );
    assert.ok(noteAt < session.output().indexOf(latestText), "the note comes before the steps");

    await postEvents(omoi.url, sandbox, stepEvents(100_001));
    await session.waitFor("Step 100001: checking the build output");
    await session.waitFor("npm test -- --shard 100001");
    assert.equal(session.output().split("Step 100001:").length - 1, 1, "the live step once");
    session.type("\u0003");
    assert.equal(await session.exitCode, 130);
  });

  it("--from-start shows every step from the first", async () => {
    const session = runInTerminal(["watch", sandbox, "--from-start", "--server", omoi.url]);
    await session.waitFor(latestText);
    const output = session.output();
    assert.ok(output.includes("Step 1: checking"), "the first step is there");
    assert.ok(!output.includes("not shown"));
    session.type("\u0003");
    assert.equal(await session.exitCode, 130);
  });
});
