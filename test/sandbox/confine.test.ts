import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { type Confinement, confine } from "../../src/sandbox/confine.ts";
import { type StubModel, startStubModel } from "./stub-model.ts";

const REAL_KEY = "sk-ant-REAL-KEY-never-inside";
const SERVER_SECRETS = {
  DATABASE_URL: "postgres://omoi:db-password-never-inside@127.0.0.1:5432/omoi",
  OMOI_API_TOKEN: "omoi-api-token-never-inside",
  ANTHROPIC_API_KEY: REAL_KEY,
};

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("confine(): a command inside the sandbox", () => {
  let root: string;
  let dataDir: string;
  let workspace: string;
  let stateDir: string;
  let otherWorkspace: string;
  let confinement: Confinement;
  let stub: StubModel;
  let loopbackService: net.Server;
  let loopbackPort: number;
  let loopbackConnections = 0;

  /** Runs a bash script through the same spawner the SDK uses for the CLI. */
  function run(script: string): Promise<RunResult> {
    const child = confinement.spawnClaudeCodeProcess({
      command: "/bin/bash",
      args: ["-c", script],
      cwd: workspace,
      // Worst case: the caller hands the whole server environment on.
      env: { ...process.env, ...confinement.env },
      signal: new AbortController().signal,
    });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      stdout += text;
    });
    child.stdin.end();
    return new Promise((resolve) => {
      child.once("exit", (code) => {
        // stdout may still hold a last chunk when exit fires.
        child.stdout.once("close", () => resolve({ code, stdout, stderr: stderrText.take() }));
        if (child.stdout.readableEnded) resolve({ code, stdout, stderr: stderrText.take() });
      });
    });
  }
  const stderrText = {
    buffer: "",
    take(): string {
      const text = this.buffer;
      this.buffer = "";
      return text;
    },
  };

  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), "omoi-confine-"));
    dataDir = path.join(root, "data");
    workspace = path.join(dataDir, "workspaces", "sandbox-a");
    otherWorkspace = path.join(dataDir, "workspaces", "sandbox-b");
    stateDir = path.join(dataDir, "sandbox-state", "sandbox-a");
    mkdirSync(otherWorkspace, { recursive: true });
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(path.join(otherWorkspace, "secret.txt"), "OTHER-SANDBOX-SECRET");
    writeFileSync(path.join(dataDir, "omoi.db"), "SERVER-DATABASE");
    writeFileSync(path.join(stateDir, "worker.log"), "WORKER-LOG");
    Object.assign(process.env, SERVER_SECRETS);

    loopbackService = net.createServer((socket) => {
      loopbackConnections += 1;
      socket.end("OMOI-API\n");
    });
    await new Promise<void>((resolve) => loopbackService.listen(0, "127.0.0.1", () => resolve()));
    loopbackPort = (loopbackService.address() as net.AddressInfo).port;

    stub = await startStubModel("true");
    confinement = await confine({
      sandboxId: "sandbox-a",
      workspace,
      stateDir,
      modelBaseUrl: stub.url,
      modelEnv: { ANTHROPIC_API_KEY: REAL_KEY, ANTHROPIC_MODEL: "stub-model" },
      denyRead: [dataDir],
      onStderr: (text) => {
        stderrText.buffer += text;
      },
    });
  });

  after(async () => {
    await confinement?.dispose();
    await stub?.close();
    loopbackService?.close();
    for (const name of Object.keys(SERVER_SECRETS)) delete process.env[name];
    rmSync(root, { recursive: true, force: true });
  });

  test("can write in its workspace and its private HOME/TMPDIR", async () => {
    const result = await run(
      'echo hello > inside.txt && echo h > "$HOME/h" && echo t > "$TMPDIR/t" && echo ok',
    );
    assert.equal(result.stdout.trim(), "ok", result.stderr);
    assert.equal(readFileSync(path.join(workspace, "inside.txt"), "utf8"), "hello\n");
  });

  test("cannot write outside its workspace", async () => {
    // The system's folders are read-only: the write fails.
    for (const target of ["/usr/omoi-escape", "/etc/omoi-escape"]) {
      const result = await run(`echo x > '${target}' && echo WROTE`);
      assert.notEqual(result.stdout.trim(), "WROTE", `wrote ${target}`);
      assert.equal(existsSync(target), false, target);
    }
    // Everything else outside the workspace is hidden behind an empty private tmpfs:
    // whatever the sandbox writes there never reaches the host.
    const planted = path.join(otherWorkspace, "planted.txt");
    const log = path.join(stateDir, "worker.log");
    const elsewhere = [
      path.join(root, "outside.txt"),
      path.join(os.tmpdir(), `omoi-escape-${process.pid}`),
      path.join(os.homedir(), `omoi-escape-${process.pid}`),
      path.join(process.cwd(), `omoi-escape-${process.pid}`),
    ];
    await run(
      [`mkdir -p '${otherWorkspace}'`, `echo x > '${planted}'`, `echo x > '${log}'`]
        .concat(elsewhere.map((target) => `echo x > '${target}'`))
        .join("; "),
    );
    assert.equal(existsSync(planted), false);
    assert.equal(readFileSync(log, "utf8"), "WORKER-LOG");
    for (const target of elsewhere) assert.equal(existsSync(target), false, target);
  });

  test("cannot read another sandbox's workspace, the server data dir or the worker's files", async () => {
    const result = await run(
      `cat '${otherWorkspace}/secret.txt'; cat '${dataDir}/omoi.db'; cat '${stateDir}/worker.log'; ls -A '${dataDir}/workspaces'; ls -A '${dataDir}'`,
    );
    assert.doesNotMatch(result.stdout, /OTHER-SANDBOX-SECRET|SERVER-DATABASE|WORKER-LOG|omoi\.db/);
    assert.doesNotMatch(result.stdout, /sandbox-b/);
  });

  test("does not see the server's secrets in its environment or any process's", async () => {
    const result = await run(
      "env; for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < \"$f\"; done 2>/dev/null",
    );
    assert.match(result.stdout, /ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:\d+/);
    assert.match(result.stdout, /ANTHROPIC_API_KEY=omoi-sandbox-/);
    assert.match(result.stdout, /ANTHROPIC_MODEL=stub-model/);
    for (const secret of Object.values(SERVER_SECRETS)) {
      assert.equal(result.stdout.includes(secret), false, `leaked ${secret}`);
    }
    assert.doesNotMatch(result.stdout, /^(DATABASE_URL|OMOI_API_TOKEN)=/m);
    // The CLI's own environment: no proxy exemption for loopback (see DESIGN §5).
    const own = await run("env");
    assert.doesNotMatch(own.stdout, /^no_proxy=/im);
  });

  test("does not see the worker or any host process", async () => {
    const result = await run(
      "ls /proc | grep -c '^[0-9]'; cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' '",
    );
    assert.equal(result.stdout.includes(process.argv[1] ?? "node"), false);
    assert.ok(Number(result.stdout.split("\n")[0]) < 15, result.stdout);
  });

  test("cannot reach a loopback service, Postgres, Redis or an arbitrary host", async () => {
    const targets = [
      `127.0.0.1:${loopbackPort}`,
      `localhost:${loopbackPort}`,
      "127.0.0.1:5432",
      "127.0.0.1:6379",
      "example.com:80",
    ];
    for (const target of targets) {
      const [host, port] = target.split(":");
      const result = await run(
        [
          // direct TCP
          `(exec 3<>/dev/tcp/${host}/${port} && echo DIRECT-CONNECTED) 2>/dev/null`,
          // through srt's HTTP proxy, which the environment points at
          `curl -sS -m 5 -o /dev/null -w 'HTTP %{http_code}\\n' http://${target}/ 2>&1`,
          // through its SOCKS proxy
          `curl -sS -m 5 --socks5-hostname localhost:1080 http://${target}/ 2>&1`,
          "true",
        ].join("; "),
      );
      assert.doesNotMatch(result.stdout, /DIRECT-CONNECTED|OMOI-API|HTTP 200/, target);
    }
    assert.equal(loopbackConnections, 0);
  });

  test("reaches the model only through the gateway, which adds the real key", async () => {
    const seenBefore = stub.seenCredentials.length;
    const body = JSON.stringify({
      model: "stub",
      max_tokens: 16,
      stream: true,
      messages: [{ role: "user", content: "hi" }],
    });
    const result = await run(
      `curl -sS -m 10 "$ANTHROPIC_BASE_URL/v1/messages" -H "x-api-key: $ANTHROPIC_API_KEY" -H 'content-type: application/json' -d '${body}'; echo; curl -sS -m 10 -o /dev/null -w 'WRONG-KEY %{http_code}\\n' "$ANTHROPIC_BASE_URL/v1/messages" -H 'x-api-key: guessed' -d '{}'`,
    );
    assert.match(result.stdout, /event: message_stop/, result.stdout + result.stderr);
    assert.match(result.stdout, /WRONG-KEY 401/);
    assert.deepEqual(stub.seenCredentials.slice(seenBefore), [REAL_KEY]);
  });
});
