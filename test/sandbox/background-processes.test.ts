import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { backgroundProcesses } from "../../src/sandbox/background-processes.ts";
import { killProcessTree } from "../../src/sandbox/process-tree.ts";

/*
 * What a turn's end kills: everything that started after the CLI, except the session's stdio
 * MCP servers — the CLI's own children started exactly as configured — and their children. A
 * tool that starts a process with the same command line is not the CLI's child: it goes.
 */

const SLEEP = "setInterval(() => {}, 1000)";
const SPAWN_CHILD = `require("node:child_process").spawn(process.execPath, ["-e", ${JSON.stringify(SLEEP)}], { stdio: "ignore" }); ${SLEEP}`;
/** A stand-in CLI: starts an MCP server (with a child of its own) and a tool's shell. */
const CLI = `
const { spawn } = require("node:child_process");
const server = spawn(process.execPath, ["-e", ${JSON.stringify(SPAWN_CHILD)}, "mcp-server"], { stdio: "ignore" });
const tool = spawn("/bin/sh", ["-c", 'exec "$0" -e "$1" mcp-server & wait', process.execPath, ${JSON.stringify(SPAWN_CHILD)}], { stdio: "ignore" });
console.log(JSON.stringify({ server: server.pid, tool: tool.pid }));
${SLEEP}`;

test("a turn's end spares the session's MCP servers and their children, not a tool's look-alike", async () => {
  const cliArgv = [process.execPath, "-e", CLI];
  const cli = spawn(cliArgv[0], cliArgv.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const line = await new Promise<string>((resolve) =>
      createInterface({ input: cli.stdout }).once("line", resolve),
    );
    const { server, tool } = JSON.parse(line) as { server: number; tool: number };
    const serverArgv = [process.execPath, "-e", SPAWN_CHILD, "mcp-server"];
    // Waits for the whole tree: the server and its child, the shell, the look-alike and its child.
    let everything = backgroundProcesses(cli.pid!, cliArgv);
    while (everything.length < 5) {
      await new Promise((resolve) => setImmediate(resolve));
      everything = backgroundProcesses(cli.pid!, cliArgv);
    }
    assert.ok(everything.includes(server) && everything.includes(tool));
    const ended = backgroundProcesses(cli.pid!, cliArgv, [serverArgv]);
    assert.ok(!ended.includes(server), "the MCP server is kept");
    assert.equal(
      everything.length - ended.length,
      2,
      "the server and its child are kept, nothing else",
    );
    assert.ok(ended.includes(tool), "the tool's shell goes");
    assert.equal(
      ended.length,
      3,
      "with the look-alike it started (the same command line) and its child",
    );
  } finally {
    await killProcessTree(cli.pid!, { graceMs: 0 });
  }
});
