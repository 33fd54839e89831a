import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { after, before, test } from "node:test";
import type { EventFrame } from "../../src/protocol/event.ts";
import type { Sandbox } from "../../src/protocol/sandbox.ts";
import type { Task } from "../../src/protocol/task.ts";
import { api, PROJECT_ROOT, startTestOmoi, type TestOmoi, tempDir } from "../helpers/omoi.ts";
import { TestViewer } from "../helpers/viewer.ts";

/*
 * Confinement proved from the inside: the scripted model's `shell` scenario makes the agent
 * run a probe with its real Bash tool, in the real sandbox, started through the real server.
 */

const SECRET_DATABASE_URL = "postgres://omoi:super-secret-password@127.0.0.1:5432/omoi";
let omoi: TestOmoi;
let loopbackService: Server;
let loopbackConnections = 0;

before(async () => {
  process.env.DATABASE_URL_FOR_PROBE = SECRET_DATABASE_URL;
  loopbackService = createServer((socket) => {
    loopbackConnections++;
    socket.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi");
  });
  await new Promise<void>((resolve) => loopbackService.listen(0, "127.0.0.1", resolve));
  omoi = await startTestOmoi({ OMOI_API_TOKEN: "server-api-token-123" });
});
after(async () => {
  await omoi.stop();
  loopbackService.close();
});

async function runShell(
  command: string,
): Promise<{ task: Task; output: string; sandbox: Sandbox }> {
  const created = await api<Task>(
    omoi.url,
    "POST",
    "/api/v1/tasks",
    { prompt: `[scenario:shell] ${command}` },
    "server-api-token-123",
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const viewer = new TestViewer(
    `${omoi.url.replace("http", "ws")}/ws/events?entity_types=task&entity_ids=${created.body.id}&since=0&token=server-api-token-123`,
  );
  await viewer.waitForEvent("task.completed", undefined, 90_000);
  const result = viewer.events.find(
    (event: EventFrame) => event.event_type === "agent.tool_result",
  );
  assert.ok(result, "the probe ran");
  viewer.close();
  const task = (
    await api<Task>(
      omoi.url,
      "GET",
      `/api/v1/tasks/${created.body.id}`,
      undefined,
      "server-api-token-123",
    )
  ).body;
  const sandbox = (
    await api<Sandbox>(
      omoi.url,
      "GET",
      `/api/v1/sandboxes/${task.sandbox_id}`,
      undefined,
      "server-api-token-123",
    )
  ).body;
  return { task, output: String(result.payload.output), sandbox };
}

test("the agent cannot get out of its sandbox, whatever its tools try", async () => {
  const neighbour = await runShell("echo neighbour-secret > private.txt && echo wrote");
  assert.ok(neighbour.sandbox.workspace);
  const neighbourFile = path.join(neighbour.sandbox.workspace, "private.txt");
  assert.equal(readFileSync(neighbourFile, "utf8").trim(), "neighbour-secret");
  const outside = path.join(omoi.dataDir, "escaped.txt");
  writeFileSync(path.join(omoi.dataDir, "server-only.txt"), "server data");

  const apiPort = new URL(omoi.url).port;
  const probe = [
    'echo "pwd=$(pwd)"',
    "echo inside > own.txt && echo own-write=ok",
    `(echo x > ${outside}) 2>/dev/null; echo outside-write-attempted`,
    `cat ${neighbourFile} 2>/dev/null || echo neighbour-read=denied`,
    `cat ${path.join(omoi.dataDir, "server-only.txt")} 2>/dev/null || echo data-read=denied`,
    `cat ${path.join(omoi.dataDir, "secret")} 2>/dev/null || echo secret-read=denied`,
    // The agent's key is a placeholder only the worker's gateway accepts; the real one stays outside.
    "env | grep -E 'DATABASE_URL|OMOI_|super-secret|scripted-demo' || echo env=clean",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, run inside the sandbox
    'echo "agent-key=${ANTHROPIC_API_KEY:0:13}"',
    "cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -E 'super-secret|server-api-token' || echo proc-environ=clean",
    `curl -s -m 5 -o /dev/null -w 'omoi-api=%{http_code}\\n' http://127.0.0.1:${apiPort}/api/v1/health || echo omoi-api=unreachable`,
    `curl -s -m 5 -o /dev/null -w 'loopback-service=%{http_code}\\n' http://127.0.0.1:${(loopbackService.address() as { port: number }).port}/ || echo loopback-service=unreachable`,
    "(exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && echo postgres=OPEN || echo postgres=closed",
    "(exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && echo redis=OPEN || echo redis=closed",
    "curl -s -m 5 -o /dev/null -w 'internet=%{http_code}\\n' http://example.com/ || echo internet=unreachable",
    // A route the gateway forwards (it refuses every route the CLI does not need).
    'curl -s -m 5 -o /dev/null -H "x-api-key: $ANTHROPIC_API_KEY" -H "content-type: application/json" -d \'{"model":"m","messages":[{"role":"user","content":"hi"}]}\' -w \'model=%{http_code}\\n\' "$ANTHROPIC_BASE_URL/v1/messages/count_tokens" || echo model=unreachable',
  ].join("; ");
  const { output } = await runShell(probe);

  assert.match(output, /own-write=ok/);
  assert.equal(existsSync(outside), false, "nothing written outside the workspace");
  assert.match(output, /neighbour-read=denied/);
  assert.doesNotMatch(output, /neighbour-secret/);
  assert.match(output, /data-read=denied/);
  assert.match(output, /secret-read=denied/);
  assert.match(output, /env=clean/);
  assert.match(output, /agent-key=omoi-sandbox-/);
  assert.doesNotMatch(output, /scripted-demo/);
  assert.match(output, /proc-environ=clean/);
  assert.doesNotMatch(output, /super-secret|server-api-token-123/);
  assert.doesNotMatch(output, /omoi-api=200/);
  assert.doesNotMatch(output, /loopback-service=200/);
  assert.equal(loopbackConnections, 0, "the loopback service never saw a connection");
  assert.match(output, /postgres=closed/);
  assert.match(output, /redis=closed/);
  assert.doesNotMatch(output, /internet=200/);
  assert.match(output, /model=200/, `the model endpoint is reachable: ${output}`);
});

test("the agent cannot read another Omoi instance's data dir, or anything outside its workspace and the toolchain", async () => {
  const other = tempDir("omoi-other-instance-");
  try {
    writeFileSync(path.join(other.dir, "secret"), "other-instance-secret");
    writeFileSync(path.join(other.dir, "omoi.db"), "other-instance-database");
    const probe = [
      `cat ${path.join(other.dir, "secret")} 2>/dev/null || echo other-secret=denied`,
      `cat ${path.join(other.dir, "omoi.db")} 2>/dev/null || echo other-db=denied`,
      `cat ${path.join(PROJECT_ROOT, "package.json")} 2>/dev/null || echo project=denied`,
      "cat /etc/shadow 2>/dev/null | grep -c : || echo shadow=denied",
      "ls -A /root /home /var /opt /srv 2>/dev/null | grep -v ':$' | grep -c . || echo homes=empty",
      // The toolchain still works.
      "python3 -c 'print(\"python=ok\")'",
      "git --version >/dev/null && echo git=ok",
      "echo written > own.txt && cat own.txt",
    ].join("; ");
    const { output } = await runShell(probe);
    assert.match(output, /other-secret=denied/);
    assert.match(output, /other-db=denied/);
    assert.doesNotMatch(output, /other-instance-(secret|database)/);
    assert.match(output, /project=denied/);
    assert.match(output, /shadow=denied|^0$/m);
    assert.match(output, /homes=empty|^0$/m);
    assert.match(output, /python=ok/);
    assert.match(output, /git=ok/);
    assert.match(output, /written/);
  } finally {
    other.remove();
  }
});
