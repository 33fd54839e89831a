import { OmoiError } from "../protocol/error.ts";

/**
 * What can go wrong with a repository, each a clear outcome. Checkable ones surface as a
 * 4xx when a task is created; the others end the task's run with the reason in its events.
 */
export type RepoErrorCode =
  | "invalid_repository"
  | "not_found"
  | "auth_refused"
  | "not_a_repository"
  | "empty_repository"
  | "base_branch_missing"
  | "invalid_branch"
  | "workspace_tampered"
  | "push_rejected"
  | "pull_request_refused"
  | "nothing_changed"
  | "invalid_bundle"
  | "unsupported"
  | "git_failed";

const STATUS: Record<RepoErrorCode, number> = {
  invalid_repository: 400,
  not_found: 404,
  auth_refused: 403,
  not_a_repository: 400,
  empty_repository: 409,
  base_branch_missing: 404,
  invalid_branch: 400,
  workspace_tampered: 409,
  push_rejected: 409,
  pull_request_refused: 409,
  nothing_changed: 409,
  invalid_bundle: 400,
  unsupported: 400,
  git_failed: 502,
};

export class RepoError extends OmoiError {
  constructor(
    readonly code: RepoErrorCode,
    message: string,
    data: Record<string, unknown> = {},
  ) {
    super("RepositoryError", message, STATUS[code], { code, ...data });
  }
}

/**
 * Turns what git printed when talking to a remote into an outcome. `display` is the URL as
 * a person may see it (no credential); git's own text is never passed on, because a remote
 * helper may echo the URL it was given.
 */
export function classifyRemoteFailure(stderr: string, display: string): RepoError {
  const text = stderr.toLowerCase();
  const has = (needles: string[]) => needles.some((needle) => text.includes(needle));
  const data = { repo: display };
  if (has(AUTH_REFUSED)) {
    return new RepoError("auth_refused", `the remote refused the credentials for ${display}`, data);
  }
  if (has(NOT_FOUND)) {
    return new RepoError(
      "not_found",
      `repository ${display} was not found or is not reachable`,
      data,
    );
  }
  return new RepoError("git_failed", `git could not talk to ${display}`, data);
}

const AUTH_REFUSED = [
  "authentication failed",
  "could not read username",
  "could not read password",
  "terminal prompts disabled",
  "403",
  "401",
];
const NOT_FOUND = [
  "not found",
  "404",
  "does not exist",
  "does not appear to be a git repository",
  "not a git repository",
  "no such file or directory",
  "could not resolve host",
  "connection refused",
  "failed to connect",
];
