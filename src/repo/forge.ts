import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/rest";
import type { TaskPullRequest } from "../protocol/repo.ts";
import { RepoError } from "./errors.ts";

/*
 * Pull requests through the forge's API. GitHub (and GitHub Enterprise through its API base
 * URL) is spoken with the real @octokit/rest client; other forges get the branch pushed and
 * a compare URL to open the request by hand.
 */

export interface GitHubTarget {
  apiBaseUrl: string;
  owner: string;
  repo: string;
}

/** The GitHub repository behind `url`, when Omoi can reach its API. */
export function githubTarget(url: string, apiBaseUrl: string | null): GitHubTarget | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const match = /^\/([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(parsed.pathname);
  if (!match) return null;
  const base = apiBaseUrl ?? (parsed.hostname === "github.com" ? "https://api.github.com" : null);
  if (!base) return null;
  return { apiBaseUrl: base.replace(/\/+$/, ""), owner: match[1], repo: match[2] };
}

/** Where a person opens a pull/merge request by hand on a forge Omoi has no API for. */
export function compareUrl(url: string, base: string, branch: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return null;
  const web = `${parsed.origin}${parsed.pathname.replace(/\.git\/?$/, "").replace(/\/+$/, "")}`;
  if (parsed.hostname.includes("gitlab")) {
    return `${web}/-/merge_requests/new?merge_request%5Bsource_branch%5D=${encodeURIComponent(branch)}&merge_request%5Btarget_branch%5D=${encodeURIComponent(base)}`;
  }
  return `${web}/compare/${encodeURIComponent(base)}...${encodeURIComponent(branch)}`;
}

export interface GitHubApp {
  appId: string | number;
  installationId: string | number;
  privateKey: string;
}

/** A short-lived installation token, minted from the App's key for one operation. */
export async function installationToken(apiBaseUrl: string, app: GitHubApp): Promise<string> {
  const request = new Octokit({ baseUrl: apiBaseUrl }).request;
  const auth = createAppAuth({
    appId: app.appId,
    privateKey: app.privateKey,
    installationId: app.installationId,
    request,
  });
  try {
    const { token } = await auth({ type: "installation" });
    return token;
  } catch (error) {
    throw new RepoError(
      "auth_refused",
      `GitHub refused to mint an installation token for App ${app.appId}: ${statusText(error)}`,
    );
  }
}

export interface PullRequestRequest {
  target: GitHubTarget;
  token: string;
  head: string;
  base: string;
  title: string;
  body: string;
  draft: boolean;
}

/** Opens the pull request of `head` into `base`, or returns the one already open for it. */
export async function openPullRequest(request: PullRequestRequest): Promise<TaskPullRequest> {
  const { target } = request;
  const octokit = new Octokit({
    auth: request.token,
    baseUrl: target.apiBaseUrl,
    userAgent: "omoi",
  });
  try {
    const open = await octokit.rest.pulls.list({
      owner: target.owner,
      repo: target.repo,
      head: `${target.owner}:${request.head}`,
      base: request.base,
      state: "open",
    });
    const existing = open.data[0];
    if (existing) return summary(existing);
    const created = await octokit.rest.pulls.create({
      owner: target.owner,
      repo: target.repo,
      head: request.head,
      base: request.base,
      title: request.title,
      body: request.body,
      draft: request.draft,
    });
    return summary(created.data);
  } catch (error) {
    throw new RepoError(
      "pull_request_refused",
      `GitHub refused the pull request: ${statusText(error)}`,
    );
  }
}

/** The pull request's current state (after a push updated it). */
export async function readPullRequest(
  target: GitHubTarget,
  token: string,
  number: number,
): Promise<TaskPullRequest> {
  const octokit = new Octokit({ auth: token, baseUrl: target.apiBaseUrl, userAgent: "omoi" });
  const { data } = await octokit.rest.pulls.get({
    owner: target.owner,
    repo: target.repo,
    pull_number: number,
  });
  return summary(data);
}

function summary(data: {
  number: number;
  html_url: string;
  state: string;
  draft?: boolean | null;
  merged_at?: string | null;
}): TaskPullRequest {
  return {
    number: data.number,
    url: data.html_url,
    state: data.merged_at ? "merged" : data.state,
    draft: data.draft === true,
  };
}

/** The HTTP status and GitHub's message, never the request (which carries the token). */
function statusText(error: unknown): string {
  const failure = error as { status?: number; response?: { data?: { message?: unknown } } };
  const message =
    typeof failure.response?.data?.message === "string" ? failure.response.data.message : "";
  return `${failure.status ?? "no answer"}${message ? ` ${message.slice(0, 300)}` : ""}`;
}
