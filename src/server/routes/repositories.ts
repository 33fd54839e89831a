import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { sandboxTarget, taskTarget } from "../../ingest/ingest.ts";
import { EntityId } from "../../protocol/ids.ts";
import {
  CreatePullRequestBody,
  CreateRepositoryBody,
  PatchRepositoryBody,
  PullRequestResult,
  Repository,
  RepositoryList,
  TaskChanges,
} from "../../protocol/repo.ts";
import type { ServerContext } from "../context.ts";
import { parseRequest } from "../http-errors.ts";
import { routeSchema } from "../openapi.ts";

const RepositoryParams = z.object({ id: z.string().min(1).max(200) });
const TaskParams = z.object({ id: EntityId });
const PullRequestBody = CreatePullRequestBody.strict();

/** Registered repositories, a task's changes and its pull request. */
export function repositoryRoutes(app: FastifyInstance, context: ServerContext) {
  const { repositories, repos } = context;

  const createSchema = routeSchema({
    summary: "Register a repository (its credential is sealed and never shown again)",
    body: CreateRepositoryBody,
    response: { 201: Repository },
  });
  app.post("/api/v1/repositories", { schema: createSchema }, async (request, reply) => {
    const body = parseRequest(CreateRepositoryBody, request.body, "repository");
    const repository = await repositories.register(body);
    reply.status(201);
    return repository;
  });

  const listSchema = routeSchema({
    summary: "List registered repositories",
    response: { 200: RepositoryList },
  });
  app.get("/api/v1/repositories", { schema: listSchema }, async () => ({
    repositories: await repositories.list(),
  }));

  const getSchema = routeSchema({
    summary: "A registered repository, by id or name",
    params: RepositoryParams,
    response: { 200: Repository },
  });
  app.get("/api/v1/repositories/:id", { schema: getSchema }, async (request) => {
    const { id } = parseRequest(RepositoryParams, request.params, "repository id");
    return repositories.get(id);
  });

  const patchSchema = routeSchema({
    summary:
      "Edit a registered repository: name, URL, credential, API address or default environment " +
      "(a new URL or credential is tried against the remote before anything is kept; " +
      "credential null removes the stored one once the remote reads without it)",
    params: RepositoryParams,
    body: PatchRepositoryBody,
    response: { 200: Repository },
  });
  app.patch("/api/v1/repositories/:id", { schema: patchSchema }, async (request) => {
    const { id } = parseRequest(RepositoryParams, request.params, "repository id");
    const body = parseRequest(PatchRepositoryBody, request.body, "repository patch");
    return repositories.update(id, body);
  });

  const deleteSchema = routeSchema({
    summary: "Forget a registered repository",
    params: RepositoryParams,
    response: { 204: z.null().describe("No content") },
  });
  app.delete("/api/v1/repositories/:id", { schema: deleteSchema }, async (request, reply) => {
    const { id } = parseRequest(RepositoryParams, request.params, "repository id");
    await repositories.remove(id);
    reply.status(204);
  });

  const changesSchema = routeSchema({
    summary: "What a task on a repository changed: files, lines, commits and the diff",
    params: TaskParams,
    response: { 200: TaskChanges },
  });
  app.get("/api/v1/tasks/:id/changes", { schema: changesSchema }, async (request) => {
    const { id } = parseRequest(TaskParams, request.params, "task id");
    return repos.changes(id);
  });

  const pullRequestSchema = routeSchema({
    summary: "Open a pull request for a task's branch",
    params: TaskParams,
    body: PullRequestBody,
    response: { 200: PullRequestResult },
  });
  app.post("/api/v1/tasks/:id/pull-request", { schema: pullRequestSchema }, async (request) => {
    const { id } = parseRequest(TaskParams, request.params, "task id");
    const body = parseRequest(PullRequestBody, request.body ?? {}, "pull request");
    const task = await context.store.getTask(id);
    const target = task?.sandbox_id != null ? sandboxTarget(task.sandbox_id, id) : taskTarget(id);
    return repos.pullRequest(id, body, (definition, payload) =>
      context.ingest.emit(target, definition, payload),
    );
  });
}
