import type {
  AnswerBody,
  Approval,
  ApprovalList,
  SandboxModeAnswer,
  TaskModeAnswer,
} from "../protocol/approval.ts";
import type {
  CreateEnvironmentBody,
  Environment,
  EnvironmentList,
  PatchEnvironmentBody,
} from "../protocol/environment.ts";
import type { EventPage } from "../protocol/event.ts";
import type { Health } from "../protocol/health.ts";
import type { PostMessageInput, PostMessageResponse } from "../protocol/message.ts";
import type {
  BranchList,
  CreateRepositoryBody,
  PatchRepositoryBody,
  PullRequestResult,
  Repository,
  RepositoryList,
  TaskChanges,
  UploadedRepository,
} from "../protocol/repo.ts";
import type { Sandbox, SandboxList, TaskWithSandbox } from "../protocol/sandbox.ts";
import type { CreateTaskInput, Task, TaskList } from "../protocol/task.ts";

/*
 * The one typed HTTP client of Omoi's API, used by the CLI, the web app, the tests' helpers
 * and the benchmark's set-up (what a benchmark part measures keeps its own raw requests). Request and answer types come from protocol/ as types only, so
 * the browser bundle carries no zod; a client that wants answers checked at run time (the
 * CLI, which may meet a server of another version) passes `check`, built from the
 * protocol's schemas of the same names.
 */

/** Every kind of answer, by name; `check` is asked about each before it is returned. */
export interface Answers {
  health: Health;
  task: Task;
  taskWithSandbox: TaskWithSandbox;
  taskList: TaskList;
  sandbox: Sandbox;
  sandboxList: SandboxList;
  taskChanges: TaskChanges;
  pullRequestResult: PullRequestResult;
  environment: Environment;
  environmentList: EnvironmentList;
  repository: Repository;
  repositoryList: RepositoryList;
  branchList: BranchList;
  uploadedRepository: UploadedRepository;
  postMessageResponse: PostMessageResponse;
  approval: Approval;
  approvalList: ApprovalList;
  sandboxModeAnswer: SandboxModeAnswer;
  taskModeAnswer: TaskModeAnswer;
  eventPage: EventPage;
  /** A 204: nothing to read. */
  noContent: null;
}
export type AnswerKind = keyof Answers;

/** Checks one answer; throws (or returns a problem in words) when it is not of its kind. */
export type AnswerCheck = <K extends AnswerKind>(
  kind: K,
  value: unknown,
) => { ok: true; value: Answers[K] } | { ok: false; error: string };

/** An error the server explained (`{error: {name, message}}`), or why no answer came. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** The server's error name; `NetworkError`, `Timeout`, `HttpError` (no explanation) or `BadAnswer` otherwise. */
    readonly errorName: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface ApiClientOptions {
  /** The server, `http(s)://host:port`; empty for the page's own server (the browser). */
  baseUrl?: string;
  /** Names this client in answers it posts (`agent.permission_resolved` says who answered). */
  clientName: string;
  token?: () => string | null | undefined;
  /** Give up on an answer after this long. */
  timeoutMs?: number;
  check?: AnswerCheck;
  /** Turns a failed call's error into the one this client's user is shown. */
  failure?: (error: ApiError) => Error;
}

/** A task (`task_…`) or a sandbox, for the calls that take either. */
export interface SessionTarget {
  kind: "task" | "sandbox";
  id: string;
}

const segment = encodeURIComponent;
const targetPath = (target: SessionTarget) =>
  `/api/v1/${target.kind === "task" ? "tasks" : "sandboxes"}/${segment(target.id)}`;

export class ApiClient {
  constructor(readonly options: ApiClientOptions) {}

  health() {
    return this.get("health", "/api/v1/health");
  }

  listTasks(query: { status?: readonly string[]; limit?: number } = {}) {
    const search = new URLSearchParams();
    if (query.status?.length) search.set("status", query.status.join(","));
    if (query.limit !== undefined) search.set("limit", String(query.limit));
    return this.get("taskList", `/api/v1/tasks?${search}`);
  }

  getTask(id: string) {
    return this.get("taskWithSandbox", `/api/v1/tasks/${segment(id)}`);
  }

  createTask(body: CreateTaskInput) {
    return this.send("task", "POST", "/api/v1/tasks", body);
  }

  cancelTask(id: string) {
    return this.send("task", "POST", `/api/v1/tasks/${segment(id)}/cancel`, {});
  }

  retryTask(id: string) {
    return this.send("task", "POST", `/api/v1/tasks/${segment(id)}/retry`, {});
  }

  getChanges(id: string) {
    return this.get("taskChanges", `/api/v1/tasks/${segment(id)}/changes`);
  }

  createPullRequest(id: string, draft: boolean) {
    const path = `/api/v1/tasks/${segment(id)}/pull-request`;
    return this.send("pullRequestResult", "POST", path, { draft });
  }

  listSandboxes(query: { status?: readonly string[]; taskId?: string; limit?: number } = {}) {
    const search = new URLSearchParams();
    if (query.status?.length) search.set("status", query.status.join(","));
    if (query.taskId) search.set("task_id", query.taskId);
    if (query.limit !== undefined) search.set("limit", String(query.limit));
    return this.get("sandboxList", `/api/v1/sandboxes?${search}`);
  }

  getSandbox(id: string) {
    return this.get("sandbox", `/api/v1/sandboxes/${segment(id)}`);
  }

  terminateSandbox(id: string) {
    return this.send("sandbox", "DELETE", `/api/v1/sandboxes/${segment(id)}`);
  }

  /** One stream's events below `beforeSeq`, newest page first; superseded deltas left out. */
  eventsBefore(stream: string, beforeSeq: number, limit: number) {
    const search = `before_seq=${beforeSeq}&limit=${limit}&compact=true`;
    return this.get("eventPage", `/api/v1/sandboxes/${segment(stream)}/events?${search}`);
  }

  /** Sends a message to a task or a sandbox. */
  sendMessage(target: SessionTarget, body: PostMessageInput) {
    return this.send("postMessageResponse", "POST", `${targetPath(target)}/messages`, body);
  }

  /** A sandbox's requests; with `open`, only those still waiting for a person. */
  listRequests(sandboxId: string, open: boolean) {
    const query = open ? "?status=open" : "";
    return this.get("approvalList", `/api/v1/sandboxes/${segment(sandboxId)}/permissions${query}`);
  }

  /** Answers an approval request (a permission, a plan or a question). */
  answerRequest(sandboxId: string, requestId: string, body: AnswerBody) {
    const path = `/api/v1/sandboxes/${segment(sandboxId)}/permissions/${segment(requestId)}`;
    return this.send("approval", "POST", path, body);
  }

  /** Changes the permission mode of a sandbox, or of a task (its open sandbox, or its next). */
  setMode(target: SessionTarget, mode: string): Promise<SandboxModeAnswer | TaskModeAnswer> {
    const path = `${targetPath(target)}/mode`;
    if (target.kind === "task") return this.send("taskModeAnswer", "POST", path, { mode });
    return this.send("sandboxModeAnswer", "POST", path, { mode });
  }

  listEnvironments() {
    return this.get("environmentList", "/api/v1/environments");
  }

  getEnvironment(key: string) {
    return this.get("environment", `/api/v1/environments/${segment(key)}`);
  }

  createEnvironment(body: CreateEnvironmentBody) {
    return this.send("environment", "POST", "/api/v1/environments", body);
  }

  updateEnvironment(key: string, patch: PatchEnvironmentBody) {
    return this.send("environment", "PATCH", `/api/v1/environments/${segment(key)}`, patch);
  }

  deleteEnvironment(key: string) {
    return this.send("environment", "DELETE", `/api/v1/environments/${segment(key)}`);
  }

  /** The next task in the environment runs its setup script again and keeps a new snapshot. */
  rebuildSnapshots(key: string) {
    return this.send("environment", "DELETE", `/api/v1/environments/${segment(key)}/snapshots`);
  }

  listRepositories() {
    return this.get("repositoryList", "/api/v1/repositories");
  }

  /** Registers a repository; the server tries its credential first (403 when refused). */
  registerRepository(body: CreateRepositoryBody) {
    return this.send("repository", "POST", "/api/v1/repositories", body);
  }

  /** Forgets a registered repository (its sealed credential with it). */
  deleteRepository(key: string) {
    return this.send("noContent", "DELETE", `/api/v1/repositories/${segment(key)}`);
  }

  /** Sets (null: clears) a registered repository's default environment. */
  setRepositoryEnvironment(key: string, environment: string | null) {
    return this.updateRepository(key, { environment });
  }

  /** Edits a registered repository; a new URL or credential is tried first (403/404 when not). */
  updateRepository(key: string, body: PatchRepositoryBody) {
    return this.send("repository", "PATCH", `/api/v1/repositories/${segment(key)}`, body);
  }

  /** A repository's branches, for a picker. */
  listBranches(repo: string) {
    return this.get("branchList", `/api/v1/branches?repo=${segment(repo)}`);
  }

  private get<K extends AnswerKind>(kind: K, path: string): Promise<Answers[K]> {
    return this.send(kind, "GET", path);
  }

  private async send<K extends AnswerKind>(
    kind: K,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<Answers[K]> {
    try {
      return await this.exchange(kind, method, path, body);
    } catch (error) {
      const { failure } = this.options;
      throw failure && error instanceof ApiError ? failure(error) : error;
    }
  }

  private async exchange<K extends AnswerKind>(
    kind: K,
    method: string,
    path: string,
    body: unknown,
  ): Promise<Answers[K]> {
    const { baseUrl = "", clientName, timeoutMs } = this.options;
    const headers: Record<string, string> = {
      accept: "application/json",
      "x-omoi-client": clientName,
    };
    // Even without a body: the server refuses a POST that any web page could send.
    if (body !== undefined || method === "POST") headers["content-type"] = "application/json";
    const token = this.options.token?.();
    if (token) headers.authorization = `Bearer ${token}`;
    let response: Response;
    try {
      response = await fetch(baseUrl ? new URL(path, baseUrl) : path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      if ((error as Error).name === "TimeoutError") {
        throw new ApiError(0, "Timeout", `no answer within ${timeoutMs}ms`);
      }
      throw new ApiError(0, "NetworkError", "Cannot reach the Omoi server. Is it running?");
    }
    const text = await response.text();
    const value = parseJson(text);
    if (!response.ok) throw errorFrom(response.status, value);
    if (!this.options.check) return value as Answers[K];
    const checked = this.options.check(kind, value);
    if (checked.ok) return checked.value;
    const where = `${method} ${path.split("?")[0]}`;
    throw new ApiError(
      response.status,
      "BadAnswer",
      `an unexpected answer to ${where} (${checked.error})`,
    );
  }
}

function parseJson(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The error an answer that is not 2xx stands for, from its status and its text. */
export function apiErrorFrom(status: number, text: string): ApiError {
  return errorFrom(status, parseJson(text));
}

function errorFrom(status: number, body: unknown): ApiError {
  if (isRecord(body) && isRecord(body.error)) {
    const message = typeof body.error.message === "string" ? body.error.message : "";
    const name = typeof body.error.name === "string" ? body.error.name : "Error";
    return new ApiError(status, name, message || `request failed (${status})`);
  }
  return new ApiError(status, "HttpError", `request failed (${status})`);
}
