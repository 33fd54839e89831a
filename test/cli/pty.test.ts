import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { stripAnsi } from "../../src/cli/style.ts";
import { startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { runInTerminal } from "./terminal-session.ts";

/**
 * `omoi run` in a real pseudo-terminal against a real server, worker and sandbox, with the
 * scripted model answering: a person watches, steers, interrupts and stops. Every step
 * waits for output to appear, never for time to pass.
 */

describe("omoi run in a terminal", () => {
  let omoi: TestOmoi;
  before(async () => {
    omoi = await startTestOmoi();
  });
  after(async () => {
    await omoi?.stop();
  });

  it("streams the run and delivers a message typed while a tool runs", async () => {
    const session = runInTerminal([
      "run",
      "[scenario:slow-tool] run the slow job",
      "--server",
      omoi.url,
    ]);
    await session.waitFor("type a message + Enter to steer");
    await session.waitFor("(scripted demo model)");
    const toolAt = await session.waitFor("⏺ Bash $ sleep 3 && echo slow-step-done");
    session.type("please create a file named steered.txt\r");
    const queuedAt = await session.waitFor(
      "→ queued: please create a file named steered.txt",
      toolAt,
    );
    await session.waitFor("→ delivered: please create a file named steered.txt", queuedAt);
    await session.waitFor("You asked me to create `steered.txt`");
    const editAt = await session.waitFor(/✎ \S*steered\.txt/);
    await session.waitFor("+Created by Omoi's scripted model because you asked", editAt);
    await session.waitFor(/── turn \d+ done · \$\d+\.\d+ · [\d,]+ in \/ [\d,]+ out tokens/);
    await session.waitFor("✓ task completed");
    assert.equal(await session.exitCode, 0);

    const output = session.output();
    // Streamed text is printed once, not again when the full message arrives.
    assert.equal(output.split("Starting a slow job.").length - 1, 1);
    assert.ok(output.indexOf("  ⎿ slow-step-done") > toolAt, "the tool's result is shown");
    const task = /\((task_[a-z0-9]+)\)/.exec(output)?.[1];
    assert.ok(task, "the task id is printed");
    const sandboxes = await (await fetch(`${omoi.url}/api/v1/sandboxes?task_id=${task}`)).json();
    const workspace = (sandboxes as { sandboxes: { workspace: string }[] }).sandboxes[0]?.workspace;
    assert.ok(
      workspace && existsSync(path.join(workspace, "steered.txt")),
      "the agent made the file",
    );
  });

  it("Ctrl-C interrupts the turn; the agent then takes the next message", async () => {
    const session = runInTerminal([
      "run",
      "[scenario:slow-tool] run the slow job",
      "--server",
      omoi.url,
    ]);
    const toolAt = await session.waitFor("⏺ Bash $ sleep 3");
    session.type("\x03");
    await session.waitFor("interrupting the current turn… press Ctrl-C again to stop", toolAt);
    const interruptedAt = await session.waitFor("⏸ turn interrupted", toolAt);
    const waitingAt = await session.waitFor("type a message to continue", interruptedAt);
    session.type("now create a file named later.txt\r");
    await session.waitFor("→ delivered: now create a file named later.txt", waitingAt);
    await session.waitFor("You asked me to create `later.txt`", waitingAt);
    await session.waitFor("✓ task completed", waitingAt);
    assert.equal(await session.exitCode, 0);
    assert.doesNotMatch(session.output(), /⎿ slow-step-done/, "the slow tool never finished");
  });

  it("after an interrupt, Ctrl-D leaves", async () => {
    const session = runInTerminal([
      "run",
      "[scenario:slow-tool] run the slow job",
      "--server",
      omoi.url,
    ]);
    const toolAt = await session.waitFor("⏺ Bash $ sleep 3");
    session.type("\x03");
    await session.waitFor("type a message to continue", toolAt);
    session.type("\x04");
    assert.equal(await session.exitCode, 0);
  });

  it("Ctrl-C twice stops the task and exits 130", async () => {
    const session = runInTerminal(
      ["run", "[scenario:slow-tool] run the slow job", "--server", omoi.url],
      true,
    );
    const toolAt = await session.waitFor("⏺ Bash $ sleep 3");
    session.type("\x03");
    await session.waitFor("press Ctrl-C again to stop", toolAt);
    session.type("\x03");
    const stoppingAt = await session.waitFor("stopping…", toolAt);
    await session.waitFor("■ task cancelled", stoppingAt);
    assert.equal(await session.exitCode, 130);
    const task = /\((task_[a-z0-9]+)\)/.exec(session.output())?.[1];
    const detail = (await (await fetch(`${omoi.url}/api/v1/tasks/${task}`)).json()) as {
      status: string;
    };
    assert.equal(detail.status, "cancelled");
  });

  it("colours output on a terminal, and not with NO_COLOR", async () => {
    const colored = runInTerminal(["tasks", "--server", omoi.url], true);
    assert.equal(await colored.exitCode, 0);
    // The task stopped in the test before is listed, its status in yellow.
    assert.ok(colored.raw().includes("\x1b[33mcancelled\x1b[39m"), colored.raw());
    const plain = runInTerminal(["tasks", "--server", omoi.url], false);
    assert.equal(await plain.exitCode, 0);
    assert.ok(plain.raw().includes("cancelled"));
    assert.equal(plain.raw(), stripAnsi(plain.raw()));
  });
});
