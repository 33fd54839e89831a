import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cleanEnv, closedPort, OMOI_BIN, omoi, PROJECT_ROOT } from "./cli-process.ts";

const COMMANDS = ["serve", "run", "tasks", "task", "watch", "send", "mode", "stop", "sandboxes"];
const packageVersion = (
  JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string }
).version;

/** No expected error may show a stack trace. */
function assertNoStack(text: string) {
  assert.doesNotMatch(text, /\n\s+at /, `stack trace in:\n${text}`);
}

describe("omoi --help and --version", () => {
  it("lists every command", async () => {
    const result = await omoi(["--help"]);
    assert.equal(result.code, 0);
    for (const name of COMMANDS) assert.match(result.stdout, new RegExp(`^  ${name} `, "m"));
    assert.match(result.stdout, /--server URL/);
  });

  it("has help for every command, with the global flags", async () => {
    // One at a time: nine CLIs started at once on a busy two-core machine can each outlast
    // the per-process safety timeout, though every one of them answers.
    for (const name of COMMANDS) {
      const result = await omoi([name, "--help"]);
      assert.equal(result.code, 0, `${name}: ${result.stderr}`);
      assert.match(result.stdout, new RegExp(`^Usage: omoi ${name}`));
      assert.match(result.stdout, /--json/);
    }
    const help = await omoi(["help", "watch"]);
    assert.match(help.stdout, /^Usage: omoi watch/);
  });

  it("documents run's exit codes", async () => {
    const result = await omoi(["run", "--help"]);
    assert.match(result.stdout, /0\s+the task completed/);
    assert.match(result.stdout, /1\s+the task failed/);
    assert.match(result.stdout, /130\s+the task was cancelled or stopped/);
  });

  it("prints the version", async () => {
    for (const args of [["--version"], ["-v"], ["tasks", "--version"]]) {
      const result = await omoi(args);
      assert.equal(result.code, 0);
      assert.equal(result.stdout, `${packageVersion}\n`);
    }
  });
});

describe("usage errors exit 2 with a hint, no stack", () => {
  const cases: [string[], RegExp][] = [
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["tasks", "--bogus"], /omoi tasks: unknown flag --bogus/],
    [["tasks", "--limit"], /--limit needs a value/],
    [["tasks", "--limit", "ten"], /--limit must be a whole number from 1 to 500, got 'ten'/],
    [["tasks", "--status", "done"], /'done' is not one of pending/],
    [["run"], /omoi run: missing prompt/],
    [["run", "hi", "--max-turns", "0"], /--max-turns must be a whole number/],
    [["run", "hi", "--max-budget", "free"], /--max-budget must be a number above 0/],
    [
      ["run", "hi", "--priority", "urgent"],
      /--priority must be one of critical, high, medium, low; got 'urgent'/,
    ],
    [["watch"], /omoi watch: missing task or sandbox id/],
    [["send", "task_1"], /omoi send: missing message/],
    [["send", "task_1", "hi", "--type", "shout"], /--type must be one of user_message, interrupt/],
    [["mode", "task_1"], /omoi mode: missing mode: use one of default, acceptEdits/],
    [["mode", "task_1", "yolo"], /unknown mode 'yolo'/],
    [["stop", "a/b"], /not a valid id/],
    [
      ["run", "hi", "--title", "-draft"],
      /--title needs a value; to give one that starts with '-', write --title=-…/,
    ],
    [["serve", "--port", "99999"], /--port must be a whole number from 0 to 65535/],
    [["tasks", "--server", "localhost:1"], /--server: .* must start with http/],
  ];
  for (const [args, message] of cases) {
    it(`omoi ${args.join(" ")}`, async () => {
      const result = await omoi(args);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /see: omoi( \w+)? --help/);
      assertNoStack(result.stderr);
      assert.equal(result.stdout, "");
    });
  }
});

describe("no server running", () => {
  let server: string;
  before(async () => {
    server = `http://127.0.0.1:${await closedPort()}`;
  });

  const commands = [
    ["tasks"],
    ["task", "task_abc"],
    ["sandboxes"],
    ["run", "do something"],
    ["watch", "task_abc"],
    ["send", "sbx_abc", "hello"],
    ["stop", "task_abc"],
  ];
  for (const args of commands) {
    it(`omoi ${args[0]} says how to start one and exits 2`, async () => {
      const result = await omoi([...args, "--server", server]);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(
        result.stderr,
        `omoi: no Omoi server at ${server} — start one with \`npm start\` or \`omoi serve\`\n`,
      );
      assertNoStack(result.stderr);
    });
  }

  it("reads the server from OMOI_URL", async () => {
    const result = await omoi(["tasks"], { OMOI_URL: server });
    assert.equal(result.code, 2);
    assert.match(result.stderr, new RegExp(`no Omoi server at ${server}`));
  });
});

describe("omoi serve", () => {
  let dataDir: string;
  let blocker: Server;
  before(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), "omoi-cli-serve-"));
  });
  after(() => {
    blocker?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("prints a banner, answers, and shuts down cleanly on SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      [OMOI_BIN, "serve", "--port", "0", "--data-dir", dataDir],
      {
        cwd: PROJECT_ROOT,
        env: {
          ...cleanEnv(),
          OMOI_LOG_LEVEL: "warn",
          ANTHROPIC_API_KEY: "",
          ANTHROPIC_AUTH_TOKEN: "",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => resolve(code)),
    );
    let stdout = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /UI\s+(http:\/\/\S+)/.exec(stdout);
        if (match && /Ctrl-C to stop/.test(stdout)) resolve(match[1]!);
      });
      child.stderr.resume();
      void exited.then((code) => reject(new Error(`serve exited ${code}:\n${stdout}`)));
    });
    assert.match(stdout, /store\s+sqlite · .*omoi\.db/);
    assert.match(stdout, /bus\s+in-process/);
    assert.match(stdout, /sandbox\s+local/);
    assert.match(stdout, /scripted demo model is answering.*set ANTHROPIC_API_KEY to use Claude/);
    const health = await fetch(`${url}/api/v1/health`);
    assert.equal(health.status, 200);
    const tasks = await omoi(["tasks", "--server", url]);
    assert.equal(tasks.code, 0, tasks.stderr);
    assert.match(tasks.stdout, /no tasks yet/);
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
  });

  it("says when the port is taken", async () => {
    blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, "127.0.0.1", () => {
        const address = blocker.address();
        resolve(typeof address === "object" && address ? address.port : 0);
      }),
    );
    const result = await omoi(["serve", "--port", String(port), "--data-dir", dataDir], {
      OMOI_LOG_LEVEL: "silent",
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`port ${port} is already in use`));
    assertNoStack(result.stderr);
  });
});
