/* Repository events; listed in the registry in events.ts. */
import { z } from "zod";
import { defineEvent } from "./event.ts";

const loose = <S extends z.ZodRawShape>(shape: S) => z.looseObject(shape);

// repositories (a task's code in, its branch out)
const changedFile = loose({
  path: z.string(),
  status: z.string(),
  added: z.number().nullable(),
  removed: z.number().nullable(),
});
export const RepoCloned = defineEvent(
  "repo.cloned",
  loose({
    url: z.string(),
    base_branch: z.string(),
    base_sha: z.string(),
    branch: z.string(),
    continued: z.boolean().optional(),
    duration_ms: z.number(),
  }),
  "The task's workspace was cloned from Omoi's mirror of the repository (url without credentials).",
);
export const RepoChanges = defineEvent(
  "repo.changes",
  loose({
    files: z.array(changedFile),
    added: z.number(),
    removed: z.number(),
    head_sha: z.string().optional(),
  }),
  "The task's changes against the merge-base with the base branch, after a turn.",
);
export const RepoCommitted = defineEvent(
  "repo.committed",
  loose({ sha: z.string(), message: z.string() }),
  "Omoi committed what the agent left uncommitted at the end of a turn.",
);
export const RepoPushed = defineEvent(
  "repo.pushed",
  loose({
    branch: z.string(),
    sha: z.string(),
    url: z.string(),
    duration_ms: z.number().optional(),
  }),
  "The task's branch reached the remote.",
);
export const RepoPushFailed = defineEvent(
  "repo.push_failed",
  loose({ branch: z.string(), reason: z.string(), code: z.string().optional() }),
  "The task's branch could not be pushed; the reason says why. The workspace and its commits are kept.",
);
export const TaskPullRequestEvent = defineEvent(
  "task.pull_request",
  loose({
    number: z.number(),
    url: z.string(),
    state: z.string(),
    draft: z.boolean(),
  }),
  "The task's pull request was opened or updated.",
);
