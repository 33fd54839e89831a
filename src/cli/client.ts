import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { z } from "zod";
import type { AnswerBody } from "../protocol/approval.ts";
import {
  type CreateEnvironmentBody,
  Environment,
  type PatchEnvironmentBody,
} from "../protocol/environment.ts";
import { parseWith, safeJsonParse } from "../protocol/json.ts";
import type { MessageDelivery, MessageType } from "../protocol/message.ts";
import { Repository } from "../protocol/repo.ts";
import { type Sandbox, SandboxStatus } from "../protocol/sandbox.ts";
import { type Priority, type Task, TaskStatus } from "../protocol/task.ts";
import { isTaskId } from "./args.ts";
import { ApiError, CliError, ServerUnreachableError } from "./errors.ts";

/*
 * A typed client for the Omoi HTTP API (event-stream.ts follows the viewer WebSocket).
 * Responses are checked for the fields the CLI relies on; anything else passes through.
 */

const TaskShape = z.looseObject({
  id: z.string(),
  title: z.string(),
  status: TaskStatus,
  priority: z.string(),
  created_at: z.number(),
  cost_usd: z.number(),
});
const SandboxShape = z.looseObject({
  id: z.string(),
  status: SandboxStatus,
  kind: z.string(),
  created_at: z.number(),
});
const TaskDetailShape = TaskShape.extend({ sandbox: SandboxShape.nullable().optional() });
const TaskListShape = z.looseObject({ tasks: z.array(TaskShape), total: z.number() });
const SandboxListShape = z.looseObject({ sandboxes: z.array(SandboxShape), total: z.number() });
const MessageAcceptedShape = z.looseObject({
  status: z.string(),
  message_id: z.string(),
  sandbox_id: z.string().optional(),
});
const ChangesShape = z.looseObject({
  files: z.array(
    z.looseObject({
      path: z.string(),
      status: z.string(),
      added: z.number().nullable(),
      removed: z.number().nullable(),
    }),
  ),
  added: z.number(),
  removed: z.number(),
  commits: z.array(z.looseObject({ sha: z.string(), subject: z.string() })),
  diff: z.string(),
  diff_truncated: z.boolean(),
});
const PullRequestShape = z.looseObject({
  pull_request: z
    .looseObject({ number: z.number(), url: z.string(), state: z.string(), draft: z.boolean() })
    .nullable(),
  compare_url: z.string().nullable(),
});
export type Changes = z.infer<typeof ChangesShape>;
export type PullRequestAnswer = z.infer<typeof PullRequestShape>;
const UploadedShape = z.looseObject({
  repo: z.string(),
  default_branch: z.string(),
  size_bytes: z.number(),
});
export type UploadedBundle = z.infer<typeof UploadedShape>;
const EnvironmentListShape = z.object({ environments: z.array(Environment) });
const HealthShape = z.looseObject({
  status: z.string(),
  version: z.string().optional(),
  machine: z.string().optional(),
});
const ErrorShape = z.object({
  error: z.looseObject({ name: z.string(), message: z.string() }),
});

export type TaskDetail = Task & { sandbox?: Sandbox | null };
export type MessageAccepted = z.infer<typeof MessageAcceptedShape>;
export type Health = z.infer<typeof HealthShape>;

export interface CreateTaskInput {
  prompt: string;
  title?: string;
  model?: string;
  max_turns?: number;
  max_budget_usd?: number;
  priority?: Priority;
  repo?: string;
  base_branch?: string;
  branch?: string;
  auto_pr?: boolean;
  environment?: string;
}

export interface SendMessageInput {
  content: string;
  message_type: MessageType;
  delivery: MessageDelivery;
}

export class OmoiClient {
  constructor(
    readonly serverUrl: string,
    readonly token?: string,
    readonly timeoutMs = 30_000,
  ) {}

  health(): Promise<Health> {
    return this.request("GET", "/api/v1/health", HealthShape);
  }

  async createTask(input: CreateTaskInput): Promise<Task> {
    return (await this.request("POST", "/api/v1/tasks", TaskShape, input)) as unknown as Task;
  }

  async listTasks(query: { status?: string[]; limit?: number }): Promise<{
    tasks: Task[];
    total: number;
  }> {
    const search = new URLSearchParams();
    if (query.status?.length) search.set("status", query.status.join(","));
    if (query.limit !== undefined) search.set("limit", String(query.limit));
    const list = await this.request("GET", `/api/v1/tasks?${search}`, TaskListShape);
    return { tasks: list.tasks as unknown as Task[], total: list.total };
  }

  async getTask(id: string): Promise<TaskDetail> {
    const path = `/api/v1/tasks/${encodeURIComponent(id)}`;
    return (await this.request("GET", path, TaskDetailShape)) as unknown as TaskDetail;
  }

  async getChanges(id: string): Promise<Changes> {
    return this.request("GET", `/api/v1/tasks/${encodeURIComponent(id)}/changes`, ChangesShape);
  }

  async createPullRequest(id: string, draft: boolean): Promise<PullRequestAnswer> {
    const path = `/api/v1/tasks/${encodeURIComponent(id)}/pull-request`;
    return this.request("POST", path, PullRequestShape, { draft });
  }

  /** Sends a git bundle file; answers the `repo` a task names it by. */
  async uploadBundle(file: string, branch: string): Promise<UploadedBundle> {
    const { size } = await stat(file);
    const path = `/api/v1/bundles?branch=${encodeURIComponent(branch)}`;
    const response = await this.raw("POST", path, {
      headers: { "content-type": "application/x-git-bundle", "content-length": String(size) },
      body: Readable.toWeb(createReadStream(file)) as ReadableStream,
      duplex: "half",
    });
    const text = await response.text();
    if (!response.ok) throw this.errorFrom(response.status, text);
    const parsed = parseWith(UploadedShape, text);
    if (!parsed.ok)
      throw new CliError(`unexpected answer to the bundle upload (${parsed.error})`, 1);
    return parsed.value;
  }

  /** Downloads a task's result as a git bundle into `file`; answers its ref and branch. */
  async downloadBundle(id: string, file: string): Promise<{ ref: string; branch: string }> {
    const response = await this.raw("GET", `/api/v1/tasks/${encodeURIComponent(id)}/bundle`, {});
    if (!response.ok || !response.body) {
      throw this.errorFrom(response.status, await response.text());
    }
    await pipeline(Readable.fromWeb(response.body as never), createWriteStream(file));
    return {
      ref: response.headers.get("x-omoi-ref") ?? "",
      branch: response.headers.get("x-omoi-branch") ?? "",
    };
  }

  async cancelTask(id: string): Promise<Task> {
    const path = `/api/v1/tasks/${encodeURIComponent(id)}/cancel`;
    return (await this.request("POST", path, TaskShape, {})) as unknown as Task;
  }

  async listSandboxes(query: { status?: string[]; taskId?: string; limit?: number }): Promise<{
    sandboxes: Sandbox[];
    total: number;
  }> {
    const search = new URLSearchParams();
    if (query.status?.length) search.set("status", query.status.join(","));
    if (query.taskId) search.set("task_id", query.taskId);
    if (query.limit !== undefined) search.set("limit", String(query.limit));
    const list = await this.request("GET", `/api/v1/sandboxes?${search}`, SandboxListShape);
    return { sandboxes: list.sandboxes as unknown as Sandbox[], total: list.total };
  }

  async getSandbox(id: string): Promise<Sandbox> {
    const path = `/api/v1/sandboxes/${encodeURIComponent(id)}`;
    return (await this.request("GET", path, SandboxShape)) as unknown as Sandbox;
  }

  async terminateSandbox(id: string): Promise<Sandbox> {
    const path = `/api/v1/sandboxes/${encodeURIComponent(id)}`;
    return (await this.request("DELETE", path, SandboxShape)) as unknown as Sandbox;
  }

  /** Answers an approval request (a permission, a plan or a question). */
  async answerRequest(sandboxId: string, requestId: string, body: AnswerBody): Promise<void> {
    const path = `/api/v1/sandboxes/${encodeURIComponent(sandboxId)}/permissions/${encodeURIComponent(requestId)}`;
    await this.request("POST", path, z.looseObject({ id: z.string() }), body);
  }

  /** Sends a message to a task (`task_…`) or a sandbox (any other id). */
  sendMessage(id: string, input: SendMessageInput): Promise<MessageAccepted> {
    const kind = isTaskId(id) ? "tasks" : "sandboxes";
    const path = `/api/v1/${kind}/${encodeURIComponent(id)}/messages`;
    return this.request("POST", path, MessageAcceptedShape, input);
  }

  async listEnvironments(): Promise<Environment[]> {
    const list = await this.request("GET", "/api/v1/environments", EnvironmentListShape);
    return list.environments;
  }

  async getEnvironment(key: string): Promise<Environment> {
    return this.request("GET", `/api/v1/environments/${encodeURIComponent(key)}`, Environment);
  }

  async createEnvironment(body: CreateEnvironmentBody): Promise<Environment> {
    return this.request("POST", "/api/v1/environments", Environment, body);
  }

  async updateEnvironment(key: string, patch: PatchEnvironmentBody): Promise<Environment> {
    const path = `/api/v1/environments/${encodeURIComponent(key)}`;
    return this.request("PATCH", path, Environment, patch);
  }

  async deleteEnvironment(key: string): Promise<Environment> {
    const path = `/api/v1/environments/${encodeURIComponent(key)}`;
    return this.request("DELETE", path, Environment);
  }

  async listRepositories(): Promise<Repository[]> {
    const shape = z.object({ repositories: z.array(Repository) });
    return (await this.request("GET", "/api/v1/repositories", shape)).repositories;
  }

  /** Sets (null: clears) a registered repository's default environment. */
  async setRepositoryEnvironment(key: string, environment: string | null): Promise<Repository> {
    const path = `/api/v1/repositories/${encodeURIComponent(key)}`;
    return this.request("PATCH", path, Repository, { environment });
  }

  /** The next task in the environment runs its setup script again and keeps a new snapshot. */
  async rebuildSnapshots(key: string): Promise<Environment> {
    const path = `/api/v1/environments/${encodeURIComponent(key)}/snapshots`;
    return this.request("DELETE", path, Environment);
  }

  /** A request whose body or answer is not JSON (bundles), with no overall timeout. */
  private async raw(
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: ReadableStream; duplex?: "half" },
  ): Promise<Response> {
    const headers: Record<string, string> = { "x-omoi-client": "cli", ...init.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    try {
      return await fetch(new URL(path, this.serverUrl), {
        method,
        headers,
        body: init.body,
        ...(init.duplex ? { duplex: init.duplex } : {}),
      } as RequestInit);
    } catch {
      throw new ServerUnreachableError(this.serverUrl);
    }
  }

  private async request<S extends z.ZodType>(
    method: string,
    path: string,
    shape: S,
    body?: unknown,
  ): Promise<z.output<S>> {
    // Names this client in answers it posts (`agent.permission_resolved` says who answered).
    const headers: Record<string, string> = { accept: "application/json", "x-omoi-client": "cli" };
    // Even without a body: the server refuses a POST that any web page could send.
    if (body !== undefined || method === "POST") headers["content-type"] = "application/json";
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await fetch(new URL(path, this.serverUrl), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      if ((error as Error).name === "TimeoutError") {
        throw new CliError(
          `the server at ${this.serverUrl} did not answer within ${this.timeoutMs / 1000}s`,
          1,
        );
      }
      throw new ServerUnreachableError(this.serverUrl);
    }
    const text = await response.text();
    if (!response.ok) throw this.errorFrom(response.status, text);
    const parsed = parseWith(shape, text);
    if (!parsed.ok) {
      throw new CliError(
        `the server at ${this.serverUrl} gave an unexpected answer to ${method} ${path.split("?")[0]} (${parsed.error}); is it an Omoi server of the same version?`,
        1,
      );
    }
    return parsed.value;
  }

  private errorFrom(status: number, text: string): ApiError {
    const body = safeJsonParse(text);
    const parsed = body.ok ? ErrorShape.safeParse(body.value) : undefined;
    if (!parsed?.success) {
      return new ApiError(
        status,
        "HttpError",
        `the server at ${this.serverUrl} answered HTTP ${status}; is it an Omoi server?`,
      );
    }
    const { name, message } = parsed.data.error;
    if (status === 401) {
      return new ApiError(status, name, `${message} (pass --token or set OMOI_API_TOKEN)`);
    }
    return new ApiError(status, name, message);
  }
}
