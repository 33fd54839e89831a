import type { MessageFrame, PostMessageBody } from "../protocol/message.ts";
import type { TaskRepo } from "../protocol/repo.ts";
import type { CreateSandboxBody, Sandbox } from "../protocol/sandbox.ts";
import type { CreateTaskBody, Task } from "../protocol/task.ts";

/** What the HTTP layer settled before asking for a task. */
export interface PreparedTask {
  id: string;
  repo: TaskRepo | null;
}

/** What the HTTP layer asks of the orchestrator. */
export interface Control {
  /** `prepared`: an id minted and a repository checked before the task is stored. */
  createTask(body: CreateTaskBody, prepared?: PreparedTask): Promise<Task>;
  cancelTask(id: string): Promise<Task>;
  retryTask(id: string): Promise<Task>;
  createSandbox(body: CreateSandboxBody): Promise<Sandbox>;
  terminateSandbox(id: string, reason: string): Promise<Sandbox>;
  /** Stores a message for a sandbox and sends it on its way (pushed, or polled by the prototype's worker). */
  postMessage(sandboxId: string, body: PostMessageBody): Promise<MessageFrame>;
  /** A message to a task: to its open sandbox, or resuming its session in a new one. */
  postTaskMessage(taskId: string, body: PostMessageBody): Promise<MessageFrame>;
  /**
   * An environment was changed or deleted: warm-pool sandboxes prepared from the old version
   * end at once, and the pool refills from the new one.
   */
  environmentChanged?(): Promise<void>;
}
