import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type ScriptedModel, startScriptedModel } from "../../src/model/server.ts";
import { checkSandboxRuntime } from "../../src/sandbox/preflight.ts";
import { buildWorker } from "../../src/sandbox/worker-build.ts";
import { WORKER_CONFIG_ENV } from "../../src/sandbox/worker-config.ts";
import { TestChannelServer } from "./channel-server.ts";
import { ofType, workerOptions } from "./worker-fixture.ts";

const MAIN = fileURLToPath(new URL("../../src/worker/main.ts", import.meta.url));
const THROUGH_TSX = [process.execPath, "--import", "tsx", MAIN];

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/**
 * main.ts as the local provider starts it: its own process, config in OMOI_WORKER_CONFIG,
 * confined by sandbox-runtime where this machine has it.
 */
describe("worker process (main.ts)", () => {
  let model: ScriptedModel;
  let confined = true;

  before(async () => {
    model = await startScriptedModel({ defaultScenario: "quick" });
    confined = await checkSandboxRuntime().then(
      () => true,
      () => false,
    );
  });
  after(async () => {
    await model.close();
  });

  async function run(signal: "stop-frame" | "SIGTERM", command = THROUGH_TSX) {
    const server = await TestChannelServer.start();
    const { root, options } = await workerOptions(server, model.url, {
      prompt: "say hello",
      unconfined: !confined,
    });
    const [program, ...args] = command;
    const child = spawn(program, args, {
      env: { ...process.env, [WORKER_CONFIG_ENV]: JSON.stringify(options) },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const exited = exitOf(child);
    try {
      await server.until(() => server.stored.some(ofType("agent.waiting")), "first turn done");
      if (signal === "stop-frame") server.sendFrame({ type: "stop", reason: "done here" });
      else child.kill("SIGTERM");
      assert.equal(await exited, 0);
      const types = server.stored.map((event) => event.event_type);
      assert.equal(types[0], "agent.started");
      assert.ok(types.includes("agent.message"));
      assert.ok(types.includes("agent.turn_completed"));
      assert.equal(types.at(-1), "agent.completed");
      return server.stored;
    } finally {
      child.kill("SIGKILL");
      await server.close();
      await rm(root, { recursive: true, force: true });
    }
  }

  it("runs a turn and exits 0 with agent.completed on a stop frame", async () => {
    const events = await run("stop-frame");
    assert.equal(events.at(-1)?.payload.reason, "done here");
  });

  it("exits 0 with agent.completed on SIGTERM", async () => {
    const events = await run("SIGTERM");
    assert.match(String(events.at(-1)?.payload.reason), /SIGTERM/);
  });

  it("runs the same turn compiled, as the local provider starts it (plain node, no tsx)", async () => {
    const events = await run("stop-frame", (await buildWorker()).command);
    assert.equal(events.at(-1)?.payload.reason, "done here");
  });

  it("exits 2 with a readable log line when the config is invalid", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
      env: { ...process.env, [WORKER_CONFIG_ENV]: JSON.stringify({ sandboxId: "x" }) },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (text: string) => {
      stderr += text;
    });
    assert.equal(await exitOf(child), 2);
    assert.match(stderr, /OMOI_WORKER_CONFIG is invalid/);
  });
});
