import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ScriptedModel } from "../../src/model/server.ts";
import { log } from "../../src/worker/log.ts";
import { type RunningWorker, runWorker } from "../../src/worker/run-worker.ts";
import { WorkerOptions } from "../../src/worker/worker-options.ts";
import type { StoredTestEvent, TestChannelServer } from "./channel-server.ts";

export interface WorkerFixture {
  root: string;
  workspace: string;
  worker: RunningWorker;
  cleanup(): Promise<void>;
}

/** Worker options for a temp workspace: unconfined, so the tests run where srt cannot. */
export async function workerOptions(
  server: TestChannelServer,
  modelBaseUrl: string,
  overrides: Partial<WorkerOptions> = {},
) {
  const root = await mkdtemp(join(tmpdir(), "omoi-worker-"));
  const workspace = join(root, "workspace");
  const stateDir = join(root, "state");
  await Promise.all([mkdir(workspace), mkdir(stateDir)]);
  const options = WorkerOptions.parse({
    sandboxId: "sbx_test",
    taskId: null,
    serverUrl: server.url,
    workerToken: "worker-token",
    prompt: null,
    model: null,
    maxTurns: null,
    maxBudgetUsd: null,
    limits: { processes: 2048, memory_mb: 4096, disk_mb: 10_240, keep_background_processes: false },
    resumeSessionId: null,
    workspace,
    modelBaseUrl,
    // One retry keeps the failure tests short; the CLI's default is ten.
    modelEnv: { ANTHROPIC_API_KEY: "sk-test", CLAUDE_CODE_MAX_RETRIES: "1" },
    stateDir,
    denyRead: [],
    unconfined: true,
    ...overrides,
  });
  return { root, workspace, options };
}

export async function startWorker(
  server: TestChannelServer,
  model: Pick<ScriptedModel, "url">,
  overrides: Partial<WorkerOptions> = {},
): Promise<WorkerFixture> {
  const { root, workspace, options } = await workerOptions(server, model.url, overrides);
  const worker = await runWorker(options, log);
  return {
    root,
    workspace,
    worker,
    cleanup: async () => {
      await worker.stop("test over");
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Index of the first stored event after `from` matching the test. */
export function findIndex(
  events: StoredTestEvent[],
  test: (event: StoredTestEvent) => boolean,
  from = 0,
): number {
  for (let index = from; index < events.length; index += 1) if (test(events[index])) return index;
  return -1;
}

export const ofType = (type: string) => (event: StoredTestEvent) => event.event_type === type;
