/*
 * The wire shapes the browser reads, taken from src/protocol/ as types only (`import type`),
 * so the bundle carries no zod. Values come from protocol modules that have no zod.
 */

export { PRIORITIES } from "../../../src/protocol/enums.ts";
export type {
  CreateEnvironmentBody,
  Environment,
  NetworkLevel,
  NetworkPolicy,
  PatchEnvironmentBody,
} from "../../../src/protocol/environment.ts";
export { MAX_WARM_POOL } from "../../../src/protocol/environment-limits.ts";
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
  BranchList,
  ChangedFile,
  CreateRepositoryBody,
  CredentialKind,
  PatchRepositoryBody,
  Repository,
  TaskChanges,
  TaskPullRequest,
  TaskRepo,
} from "../../../src/protocol/repo.ts";
export type { Sandbox, SandboxStatus, TaskWithSandbox } from "../../../src/protocol/sandbox.ts";
export type { CreateTaskInput as CreateTaskBody, Priority, Task, TaskStatus } from "../../../src/protocol/task.ts";
export type { Cursors, ViewerServerFrame as ServerFrame } from "../../../src/protocol/viewer.ts";
