/*
 * The wire shapes the browser reads, taken from src/protocol/ as types only (`import type`),
 * so the bundle carries no zod. Values come from protocol modules that have no zod.
 */

export { PRIORITIES } from "../../../src/protocol/enums.ts";
export type { ErrorBody } from "../../../src/protocol/error.ts";
export type { EventFrame, EventPage, StoredEvent } from "../../../src/protocol/event.ts";
export type { Health } from "../../../src/protocol/health.ts";
export type {
  MessageDelivery,
  MessageType,
  PostMessageInput as PostMessageBody,
  PostMessageResponse,
} from "../../../src/protocol/message.ts";
export type {
  ChangedFile,
  Repository,
  TaskChanges,
  TaskPullRequest,
  TaskRepo,
} from "../../../src/protocol/repo.ts";
export type { Sandbox, SandboxStatus, TaskWithSandbox } from "../../../src/protocol/sandbox.ts";
export type { CreateTaskInput as CreateTaskBody, Priority, Task, TaskStatus } from "../../../src/protocol/task.ts";
export type { Cursors, ViewerServerFrame as ServerFrame } from "../../../src/protocol/viewer.ts";

/*
 * Environments, as GET /api/v1/environments answers (src/protocol/environment.ts). Written out
 * here because that module's checks need Node's Buffer, which the browser build has no types for.
 */
export type NetworkLevel = "none" | "trusted" | "custom" | "full";
export interface NetworkPolicy {
  level: NetworkLevel;
  hosts?: string[];
}
export interface Environment {
  id: string;
  name: string;
  description: string | null;
  setup_script: string | null;
  network: { setup: NetworkPolicy; agent: NetworkPolicy };
  variables: Record<string, string>;
  secrets: { name: string; setup_only: boolean; hint: string }[];
  model: string | null;
  created_at: number;
  updated_at: number;
}
/** The fields the web app sends; secrets are write-only. */
export interface CreateEnvironmentBody {
  name: string;
  description?: string;
  setup_script?: string;
  network?: { setup?: NetworkPolicy; agent?: NetworkPolicy };
  variables?: Record<string, string>;
  secrets?: Record<string, { value: string; setup_only?: boolean }>;
}
