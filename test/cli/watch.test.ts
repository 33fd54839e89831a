import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { after, describe, it } from "node:test";
import { loadConfig } from "../../src/server/config.ts";
import { type RunningOmoi, startOmoi } from "../../src/server/main.ts";
import { api, tempDir } from "../helpers/omoi.ts";
import { cleanEnv, OMOI_BIN, PROJECT_ROOT } from "./cli-process.ts";

/**
 * `omoi watch` against a real server that goes away and comes back on the same port and
 * data dir: the watcher says it is reconnecting, then resumes from its cursor with no
 * event missing and none repeated.
 */

interface Watcher {
  child: ChildProcessWithoutNullStreams;
  events: { seq: number; event_type: string; payload: Record<string, unknown> }[];
  stderr(): string;
  /** Resolves once `predicate` holds, checked whenever the watcher prints. */
  until(predicate: () => boolean): Promise<void>;
  exited: Promise<number | null>;
}

function watch(args: string[]): Watcher {
  const child = spawn(process.execPath, [OMOI_BIN, "watch", ...args], {
    cwd: PROJECT_ROOT,
    env: cleanEnv(),
  });
  const events: Watcher["events"] = [];
  let stdoutBuffer = "";
  let stderrText = "";
  const waiters = new Set<() => void>();
  const poke = () => {
    for (const waiter of waiters) waiter();
  };
  child.stdout.on("data", (chunk: Buffer) => {
    stdoutBuffer += chunk.toString();
    const lines = stdoutBuffer.split("\n");
    stdoutBuffer = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) events.push(JSON.parse(line));
    poke();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderrText += chunk.toString();
    poke();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      resolve(code);
      poke();
    }),
  );
  return {
    child,
    events,
    stderr: () => stderrText,
    exited,
    until: (predicate) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (predicate()) {
            waiters.delete(check);
            resolve();
          } else if (child.exitCode !== null) {
            waiters.delete(check);
            reject(new Error(`watch exited ${child.exitCode}; stderr:\n${stderrText}`));
          }
        };
        waiters.add(check);
        check();
      }),
  };
}

describe("omoi watch", () => {
  const data = tempDir("omoi-cli-watch-");
  let server: RunningOmoi | undefined;
  const start = async (port: number) => {
    server = await startOmoi(
      loadConfig({
        OMOI_PORT: String(port),
        OMOI_DATA_DIR: data.dir,
        OMOI_LOG_LEVEL: "silent",
        OMOI_RUN_AGENTS: "0",
      }),
    );
    return server;
  };
  after(async () => {
    await server?.close();
    data.remove();
  });

  it("resumes from its cursors after the server restarts: no gap, no duplicate", async () => {
    const first = await start(0);
    const url = first.url;
    const port = Number(new URL(url).port);
    const created = await api<{ id: string }>(url, "POST", "/api/v1/sandboxes", {});
    assert.equal(created.status, 201);
    const sandbox = created.body.id;
    const post = async (base: string, text: string) => {
      const response = await api(base, "POST", `/api/v1/sandboxes/${sandbox}/events`, {
        event_type: "agent.message",
        payload: { content: text },
      });
      assert.equal(response.status, 201);
    };
    for (const text of ["one", "two", "three"]) await post(url, text);

    const watcher = watch([sandbox, "--json", "--server", url]);
    const contents = () =>
      watcher.events
        .filter((event) => event.event_type === "agent.message")
        .map((event) => event.payload.content);
    await watcher.until(() => contents().length === 3);

    await first.close();
    await watcher.until(() => watcher.stderr().includes("reconnecting…"));
    const second = await start(port);
    for (const text of ["four", "five"]) await post(second.url, text);
    await watcher.until(() => contents().length >= 5);
    assert.match(watcher.stderr(), /reconnected/);

    const terminated = await api(second.url, "DELETE", `/api/v1/sandboxes/${sandbox}`);
    assert.equal(terminated.status, 200);
    assert.equal(await watcher.exited, 130);

    assert.deepEqual(contents(), ["one", "two", "three", "four", "five"]);
    const seqs = watcher.events.map((event) => event.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, index) => index + 1),
      "every seq once, in order",
    );
    assert.equal(watcher.events.at(-1)?.event_type, "sandbox.terminated");
  });

  it("reports an unknown id with the server's message", async () => {
    const url = server!.url;
    const watcher = watch(["sbx_doesnotexist", "--server", url]);
    assert.equal(await watcher.exited, 1);
    assert.match(watcher.stderr(), /sandbox 'sbx_doesnotexist' not found/);
  });
});
