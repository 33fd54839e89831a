import type { Approval } from "../../../src/protocol/approval.ts";
import type {
  BranchList,
  CreateEnvironmentBody,
  CreateTaskBody,
  Environment,
  EventPage,
  Health,
  PatchEnvironmentBody,
  PostMessageBody,
  PostMessageResponse,
  Repository,
  Sandbox,
  Task,
  TaskChanges,
  TaskPullRequest,
  TaskWithSandbox,
} from "./types.ts";

/** An error the server explained (`{error: {name, message}}`) or a network failure. */
export class ApiError extends Error {
  readonly status: number;
  readonly errorName: string;

  constructor(status: number, errorName: string, message: string) {
    super(message);
    this.status = status;
    this.errorName = errorName;
  }
}

const TOKEN_KEY = "omoi.token";

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage unavailable (private mode): the token lives for this page only
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errorFromBody(status: number, body: unknown): ApiError {
  if (isRecord(body) && isRecord(body.error)) {
    const message = typeof body.error.message === "string" ? body.error.message : "";
    const name = typeof body.error.name === "string" ? body.error.name : "Error";
    return new ApiError(status, name, message || `request failed (${status})`);
  }
  return new ApiError(status, "HttpError", `request failed (${status})`);
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  // Names this client in answers it posts, so `agent.permission_resolved` says who answered.
  const headers: Record<string, string> = { accept: "application/json", "x-omoi-client": "web" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "NetworkError", "Cannot reach the Omoi server. Is it running?");
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!response.ok) throw errorFromBody(response.status, parsed);
  return parsed as T;
}

export const api = {
  health: () => request<Health>("GET", "/api/v1/health"),
  listTasks: (status?: string) => {
    const query = new URLSearchParams({ limit: "100" });
    if (status) query.set("status", status);
    return request<{ tasks: Task[]; total: number }>("GET", `/api/v1/tasks?${query}`);
  },
  getTask: (id: string) => request<TaskWithSandbox>("GET", `/api/v1/tasks/${encodeURIComponent(id)}`),
  createTask: (body: CreateTaskBody) => request<Task>("POST", "/api/v1/tasks", body),
  cancelTask: (id: string) => request<Task>("POST", `/api/v1/tasks/${encodeURIComponent(id)}/cancel`, {}),
  retryTask: (id: string) => request<Task>("POST", `/api/v1/tasks/${encodeURIComponent(id)}/retry`, {}),
  listEnvironments: () => request<{ environments: Environment[] }>("GET", "/api/v1/environments"),
  createEnvironment: (body: CreateEnvironmentBody) => request<Environment>("POST", "/api/v1/environments", body),
  deleteEnvironment: (id: string) => request<unknown>("DELETE", `/api/v1/environments/${encodeURIComponent(id)}`),
  updateEnvironment: (id: string, patch: PatchEnvironmentBody) =>
    request<Environment>("PATCH", `/api/v1/environments/${encodeURIComponent(id)}`, patch),
  rebuildSnapshots: (id: string) =>
    request<Environment>("DELETE", `/api/v1/environments/${encodeURIComponent(id)}/snapshots`),
  listRepositories: () => request<{ repositories: Repository[] }>("GET", "/api/v1/repositories"),
  listBranches: (repo: string) => request<BranchList>("GET", `/api/v1/branches?repo=${encodeURIComponent(repo)}`),
  getChanges: (id: string) => request<TaskChanges>("GET", `/api/v1/tasks/${encodeURIComponent(id)}/changes`),
  createPullRequest: (id: string, draft: boolean) =>
    request<{ pull_request: TaskPullRequest | null; compare_url: string | null }>(
      "POST",
      `/api/v1/tasks/${encodeURIComponent(id)}/pull-request`,
      { draft },
    ),
  getSandbox: (id: string) => request<Sandbox>("GET", `/api/v1/sandboxes/${encodeURIComponent(id)}`),
  stopSandbox: (id: string) => request<Sandbox>("DELETE", `/api/v1/sandboxes/${encodeURIComponent(id)}`),
  /** One stream's events below `beforeSeq`, newest page first; superseded deltas left out. */
  eventsBefore: (stream: string, beforeSeq: number, limit: number) =>
    request<EventPage>(
      "GET",
      `/api/v1/sandboxes/${encodeURIComponent(stream)}/events?before_seq=${beforeSeq}&limit=${limit}&compact=true`,
    ),
  /** Requests of a sandbox still waiting for a person. */
  openRequests: (sandboxId: string) =>
    request<{ approvals: Approval[] }>(
      "GET",
      `/api/v1/sandboxes/${encodeURIComponent(sandboxId)}/permissions?status=open`,
    ).then((body) => body.approvals),
  answerRequest: (sandboxId: string, requestId: string, body: AnswerBody) =>
    request<unknown>(
      "POST",
      `/api/v1/sandboxes/${encodeURIComponent(sandboxId)}/permissions/${encodeURIComponent(requestId)}`,
      body,
    ),
  setMode: (target: SessionTarget, mode: string) =>
    request<{ mode: string }>(
      "POST",
      `/api/v1/${target.kind === "task" ? "tasks" : "sandboxes"}/${encodeURIComponent(target.id)}/mode`,
      { mode },
    ),
  postMessage: (target: SessionTarget, body: PostMessageBody) =>
    request<PostMessageResponse>(
      "POST",
      `/api/v1/${target.kind === "task" ? "tasks" : "sandboxes"}/${encodeURIComponent(target.id)}/messages`,
      body,
    ),
};

export type AnswerBody = {
  decision: "allow" | "deny" | "approve" | "keep_planning" | "answer";
  reason?: string;
  remember?: boolean;
  mode?: string;
  answers?: string[];
};

export interface SessionTarget {
  kind: "task" | "sandbox";
  id: string;
}
