import { z } from "zod";

export const TaskPullRequest = z.object({
  number: z.number(),
  url: z.string(),
  state: z.string(),
  draft: z.boolean(),
});
export type TaskPullRequest = z.infer<typeof TaskPullRequest>;

/** What a task on a repository records: where it came from, where its work goes. */
export const TaskRepo = z.object({
  /** The repository as people see it (URL or path; never a credential). */
  url: z.string(),
  /** A registered repository the task uses, whose credential Omoi holds. */
  repository_id: z.string().nullable(),
  base_branch: z.string(),
  branch: z.string(),
  /** The branch existed on the remote before the task; the task continues it. */
  continued: z.boolean(),
  auto_pr: z.boolean(),
  base_sha: z.string().nullable(),
  /** Last result Omoi took from the workspace. */
  head_sha: z.string().nullable(),
  /** Last commit that reached the remote's branch. */
  pushed_sha: z.string().nullable(),
  changes: z.object({ files: z.number(), added: z.number(), removed: z.number() }).nullable(),
  pull_request: TaskPullRequest.nullable(),
  /** Where a person opens a pull request on a forge Omoi has no API for. */
  compare_url: z.string().nullable(),
  /** Why the last push (or pull request) failed, if it did. */
  last_error: z.string().nullable(),
});
export type TaskRepo = z.infer<typeof TaskRepo>;

/** A new task's repository state before anything happened in it. */
export const TASK_REPO_UNTOUCHED = {
  base_sha: null,
  head_sha: null,
  pushed_sha: null,
  changes: null,
  pull_request: null,
  compare_url: null,
  last_error: null,
} as const satisfies Partial<TaskRepo>;

/** Fields `POST /api/v1/tasks` takes for a task on a repository. */
export const TaskRepoFields = {
  repo: z.string().trim().min(1).max(2048).optional(),
  base_branch: z.string().trim().min(1).max(200).optional(),
  branch: z.string().trim().min(1).max(200).optional(),
  auto_pr: z.boolean().optional(),
};

export const CreatePullRequestBody = z.object({
  draft: z.boolean().default(false),
  title: z.string().trim().min(1).max(256).optional(),
});

export const ChangedFile = z.object({
  path: z.string(),
  old_path: z.string().optional(),
  status: z.enum(["added", "modified", "deleted", "renamed", "copied", "type_changed"]),
  /** Lines; null for a binary file. */
  added: z.number().nullable(),
  removed: z.number().nullable(),
});
export type ChangedFile = z.infer<typeof ChangedFile>;

/** `GET /api/v1/tasks/{id}/changes`. */
export const TaskChanges = z.object({
  base_sha: z.string(),
  head_sha: z.string(),
  files: z.array(ChangedFile),
  added: z.number(),
  removed: z.number(),
  commits: z.array(
    z.object({ sha: z.string(), subject: z.string(), author: z.string(), authored_at: z.number() }),
  ),
  diff: z.string(),
  diff_truncated: z.boolean(),
});
export type TaskChanges = z.infer<typeof TaskChanges>;

/** `POST /api/v1/tasks/{id}/pull-request`: the pull request, or where to open one by hand. */
export const PullRequestResult = z.object({
  pull_request: TaskPullRequest.nullable(),
  compare_url: z.string().nullable(),
});
export type PullRequestResult = z.infer<typeof PullRequestResult>;

export const CredentialKind = z.enum(["none", "token", "basic", "github_app"]);
export type CredentialKind = z.infer<typeof CredentialKind>;

/** What the API shows of a registered repository. */
export const Repository = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string(),
  credential_kind: CredentialKind,
  /** A masked hint of the credential (`ghp_…a1b2`), the only part the API shows. */
  credential_hint: z.string().nullable(),
  /** The forge's REST API (GitHub Enterprise: https://host/api/v3). */
  api_base_url: z.string().nullable(),
  /** The environment a task on this repository runs in when it names none. */
  environment_id: z.string().nullable(),
  created_at: z.number(),
  updated_at: z.number(),
});
export type Repository = z.infer<typeof Repository>;

export const RepositoryList = z.object({ repositories: z.array(Repository) });
export type RepositoryList = z.infer<typeof RepositoryList>;

/** A registered repository as the store keeps it; `credential_ciphertext` never leaves the server. */
export type RepositoryRecord = Repository & {
  /** AES-256-GCM ciphertext of the credential, keyed from OMOI_SECRET. */
  credential_ciphertext: string | null;
};

const RepositoryName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "must be 1-100 letters, digits, '.', '_' or '-'");

const RepositoryUrl = z.string().trim().min(1).max(2048);
const ApiBaseUrl = z.url().max(2048);

const EnvironmentKey = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be an environment's name or id");

/** How Omoi authenticates to a repository's remote (sealed at rest, never shown again). */
export const RepositoryCredential = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("token"),
    token: z.string().min(1).max(4096),
    username: z.string().min(1).max(200).optional(),
  }),
  z.strictObject({
    kind: z.literal("basic"),
    username: z.string().min(1).max(200),
    password: z.string().min(1).max(4096),
  }),
  z.strictObject({
    kind: z.literal("github_app"),
    app_id: z.union([z.string().min(1).max(50), z.number().int().positive()]),
    installation_id: z.union([z.string().min(1).max(50), z.number().int().positive()]),
    private_key: z.string().min(1).max(16_384),
  }),
]);
export type RepositoryCredential = z.infer<typeof RepositoryCredential>;

/** `POST /api/v1/repositories`. */
export const CreateRepositoryBody = z
  .object({
    name: RepositoryName.optional(),
    url: RepositoryUrl,
    api_base_url: ApiBaseUrl.optional(),
    /** The default environment of tasks on this repository, by name or id. */
    environment: EnvironmentKey.optional(),
    credential: RepositoryCredential.optional(),
  })
  .strict();
export type CreateRepositoryBody = z.infer<typeof CreateRepositoryBody>;

/** `POST /api/v1/bundles`: a repository sent as a git bundle, ready to be a task's `repo`. */
export const UploadedRepository = z.object({
  id: z.string(),
  /** What a task passes as `repo` (`upload:<id>`). */
  repo: z.string(),
  branches: z.array(z.string()),
  default_branch: z.string(),
  size_bytes: z.number().int(),
});
export type UploadedRepository = z.infer<typeof UploadedRepository>;

/** `POST /api/v1/bundles?branch=`: the branch the person was on (the upload's default). */
export const UploadBundleQuery = z.object({
  branch: z.string().min(1).max(255).optional(),
});

/** `GET /api/v1/branches?repo=`: what a repository's picker offers. */
export const BranchesQuery = z.object({ repo: z.string().trim().min(1).max(2048) });

export const BranchList = z.object({
  repo: z.string(),
  default_branch: z.string().nullable(),
  branches: z.array(z.object({ name: z.string(), sha: z.string() })),
});
export type BranchList = z.infer<typeof BranchList>;

/**
 * `PATCH /api/v1/repositories/{id}`: any of the registration's fields. A new URL or
 * credential is tried against the remote before anything is kept; `environment` and
 * `api_base_url` take null to clear them, and `credential` null removes the stored one (the
 * remote is tried without a credential first).
 */
export const PatchRepositoryBody = z
  .object({
    name: RepositoryName.optional(),
    url: RepositoryUrl.optional(),
    api_base_url: ApiBaseUrl.nullable().optional(),
    environment: EnvironmentKey.nullable().optional(),
    credential: RepositoryCredential.nullable().optional(),
  })
  .strict()
  .refine((body) => Object.values(body).some((value) => value !== undefined), {
    message:
      "name at least one field to change: name, url, api_base_url, environment or credential",
  });
export type PatchRepositoryBody = z.infer<typeof PatchRepositoryBody>;
