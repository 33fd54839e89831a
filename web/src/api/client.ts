import { ApiClient, ApiError, type SessionTarget } from "../../../src/client/api.ts";
import type { AnswerBody } from "../../../src/protocol/approval.ts";
import type {
  CreateEnvironmentBody,
  CreateRepositoryBody,
  CreateTaskBody,
  PatchEnvironmentBody,
  PatchRepositoryBody,
  PostMessageBody,
} from "./types.ts";

/*
 * The browser's use of the one typed client (src/client/api.ts): same-origin requests, the
 * token from local storage, answers typed by the protocol without zod in the bundle.
 */

export type { AnswerBody, SessionTarget };
export { ApiError };

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

const client = new ApiClient({ clientName: "web", token: getToken });

export const api = {
  health: () => client.health(),
  listTasks: (status?: string) => client.listTasks({ status: status ? [status] : undefined, limit: 100 }),
  getTask: (id: string) => client.getTask(id),
  createTask: (body: CreateTaskBody) => client.createTask(body),
  cancelTask: (id: string) => client.cancelTask(id),
  retryTask: (id: string) => client.retryTask(id),
  listEnvironments: () => client.listEnvironments(),
  createEnvironment: (body: CreateEnvironmentBody) => client.createEnvironment(body),
  deleteEnvironment: (id: string) => client.deleteEnvironment(id),
  updateEnvironment: (id: string, patch: PatchEnvironmentBody) => client.updateEnvironment(id, patch),
  rebuildSnapshots: (id: string) => client.rebuildSnapshots(id),
  listRepositories: () => client.listRepositories(),
  registerRepository: (body: CreateRepositoryBody) => client.registerRepository(body),
  deleteRepository: (id: string) => client.deleteRepository(id),
  updateRepository: (id: string, body: PatchRepositoryBody) => client.updateRepository(id, body),
  setRepositoryEnvironment: (id: string, environment: string | null) =>
    client.setRepositoryEnvironment(id, environment),
  listBranches: (repo: string) => client.listBranches(repo),
  getChanges: (id: string) => client.getChanges(id),
  createPullRequest: (id: string, draft: boolean) => client.createPullRequest(id, draft),
  getSandbox: (id: string) => client.getSandbox(id),
  stopSandbox: (id: string) => client.terminateSandbox(id),
  /** One stream's events below `beforeSeq`, newest page first; superseded deltas left out. */
  eventsBefore: (stream: string, beforeSeq: number, limit: number) => client.eventsBefore(stream, beforeSeq, limit),
  /** Requests of a sandbox still waiting for a person. */
  openRequests: (sandboxId: string) => client.listRequests(sandboxId, true).then((body) => body.approvals),
  answerRequest: (sandboxId: string, requestId: string, body: AnswerBody) =>
    client.answerRequest(sandboxId, requestId, body),
  setMode: (target: SessionTarget, mode: string) => client.setMode(target, mode),
  postMessage: (target: SessionTarget, body: PostMessageBody) => client.sendMessage(target, body),
};
