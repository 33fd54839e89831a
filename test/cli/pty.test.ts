import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pty from "@lydell/node-pty";
import { stripAnsi } from "../../src/cli/style.ts";
import { startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";
import { cleanEnv, OMOI_BIN, PROJECT_ROOT } from "./cli-process.ts";

/**
 * `omoi run` in a real pseudo-terminal against a real server, worker and sandbox, with the
 * scripted model answering: a person watches, steers, interrupts and stops. Every step
 * waits for output to appear, never for time to pass.
 */

interface Session {
  /** Everything printed so far, colour codes removed. */
  output(): string;
  /** Everything printed so far, as printed. */
  raw(): string;
  /** Resolves once `text` has been printed (after `from`, an index into the output). */
  waitFor(text: string | RegExp, from?: number): Promise<number>;
  type(text: string): void;
  exitCode: Promise<number>;
}

function runInTerminal(args: string[], color = false): Session {
  const env = { ...cleanEnv(), ...(color ? {} : { NO_COLOR: "1" }) } as Record<string, string>;
  const terminal = pty.spawn(process.execPath, [OMOI_BIN, ...args], {
    cols: 140,
    rows: 50,
    cwd: PROJECT_ROOT,
    env,
  });
  let raw = "";
  const waiters = new Set<() => void>();
  let exited = false;
  terminal.onData((data) => {
    raw += data;
    for (const waiter of waiters) waiter();
  });
  const exitCode = new Promise<number>((resolve) =>
    terminal.onExit(({ exitCode: code }) => {
      exited = true;
      resolve(code);
      for (const waiter of waiters) waiter();
    }),
  );
  const output = () => stripAnsi(raw).replaceAll("\r\n", "\n");
  return {
    output,
    raw: () => raw,
    type: (text) => terminal.write(text),
    exitCode,
    waitFor: (text, from = 0) =>
      new Promise<number>((resolve, reject) => {
        const check = () => {
          const rest = output().slice(from);
          const index = typeof text === "string" ? rest.indexOf(text) : rest.search(text);
          if (index >= 0) {
            waiters.delete(check);
            resolve(from + index);
          } else if (exited) {
            waiters.delete(check);
            reject(new Error(`exited before printing ${String(text)}; output:\n${output()}`));
          }
        };
        waiters.add(check);
        check();
      }),
  };
}

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
