import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { sandboxTarget, taskTarget } from "../../ingest/ingest.ts";
import { EntityId } from "../../protocol/ids.ts";
import { CreatePullRequestBody, CreateRepositoryBody } from "../../protocol/repo.ts";
import type { ServerContext } from "../context.ts";
import { parseRequest } from "../http-errors.ts";

const RepositoryParams = z.object({ id: z.string().min(1).max(200) });
const TaskParams = z.object({ id: EntityId });

/** Registered repositories, a task's changes and its pull request. */
export function repositoryRoutes(app: FastifyInstance, context: ServerContext) {
  const { repositories, repos } = context;

  app.post("/api/v1/repositories", async (request, reply) => {
    const body = parseRequest(CreateRepositoryBody, request.body, "repository");
    const repository = await repositories.register(body);
    reply.status(201);
    return repository;
  });

  app.get("/api/v1/repositories", async () => ({ repositories: await repositories.list() }));

  app.get("/api/v1/repositories/:id", async (request) => {
    const { id } = parseRequest(RepositoryParams, request.params, "repository id");
    return repositories.get(id);
  });

  app.delete("/api/v1/repositories/:id", async (request, reply) => {
    const { id } = parseRequest(RepositoryParams, request.params, "repository id");
    await repositories.remove(id);
    reply.status(204);
  });

  app.get("/api/v1/tasks/:id/changes", async (request) => {
    const { id } = parseRequest(TaskParams, request.params, "task id");
    return repos.changes(id);
  });

  app.post("/api/v1/tasks/:id/pull-request", async (request) => {
    const { id } = parseRequest(TaskParams, request.params, "task id");
    const body = parseRequest(CreatePullRequestBody.strict(), request.body ?? {}, "pull request");
    const task = await context.store.getTask(id);
    const target = task?.sandbox_id != null ? sandboxTarget(task.sandbox_id, id) : taskTarget(id);
    return repos.pullRequest(id, body, (type, payload) =>
      context.ingest.emit(target, type, payload),
    );
  });
}
