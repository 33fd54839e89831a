import type { Bus } from "../bus/bus.ts";
import type { MessageFrame, PostMessageBody } from "../protocol/message.ts";
import type { CreateSandboxBody, Sandbox } from "../protocol/sandbox.ts";
import type { CreateTaskBody, Task } from "../protocol/task.ts";
import type { Store } from "../store/store.ts";
import type { Config } from "./config.ts";
import type { Ingest } from "./ingest.ts";
import type { ViewerHub } from "./viewer-hub.ts";
import type { WorkerHub } from "./worker-hub.ts";

/** What the HTTP layer asks of the orchestrator. */
export interface Control {
  createTask(body: CreateTaskBody): Promise<Task>;
  cancelTask(id: string): Promise<Task>;
  retryTask(id: string): Promise<Task>;
  createSandbox(body: CreateSandboxBody): Promise<Sandbox>;
  terminateSandbox(id: string, reason: string): Promise<Sandbox>;
  /** Stores a message for a sandbox and sends it on its way (pushed, or polled by the seed worker). */
  postMessage(sandboxId: string, body: PostMessageBody): Promise<MessageFrame>;
  /** A message to a task: to its open sandbox, or resuming its session in a new one. */
  postTaskMessage(taskId: string, body: PostMessageBody): Promise<MessageFrame>;
}

export interface ModelInfo {
  scripted: boolean;
  base_url: string;
  name: string | null;
}

export interface ServerContext {
  config: Config;
  /** Signs worker tokens (see worker-token.ts). */
  secret: string;
  version: string;
  store: Store;
  bus: Bus;
  ingest: Ingest;
  viewers: ViewerHub;
  workers: WorkerHub;
  control: Control;
  providerName: string;
  model: ModelInfo;
}
