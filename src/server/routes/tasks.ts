import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { notFound } from "../../protocol/error.ts";
import { EntityId, newTaskId } from "../../protocol/ids.ts";
import { TaskWithSandbox } from "../../protocol/sandbox.ts";
import { CreateTaskBody, ListTasksQuery, Task, TaskList, taskTitle } from "../../protocol/task.ts";
import type { ServerContext } from "../context.ts";
import { parseRequest } from "../http-errors.ts";
import { routeSchema } from "../openapi.ts";
import { RateLimiter } from "../rate-limit.ts";

const Params = z.object({ id: EntityId });
const CreateBody = CreateTaskBody.strict();

export function taskRoutes(app: FastifyInstance, context: ServerContext) {
  const creations = new RateLimiter(context.config.taskRateLimitPerMinute, "tasks");
  const createSchema = routeSchema({
    summary: "Queue a task",
    body: CreateBody,
    response: { 201: Task },
  });
  app.post("/api/v1/tasks", { schema: createSchema }, async (request, reply) => {
    const body = parseRequest(CreateBody, request.body, "task");
    // Per caller: the client's address (a proxy in front shares one; see docs/orchestrator.md).
    creations.take(request.ip);
    const id = newTaskId();
    // What can be checked of a repository is checked before anything is stored.
    const repo = await context.repos.plan(body, id, taskTitle(body));
    // A task on a registered repository that names no environment runs in the repository's.
    const environment =
      body.environment ??
      (repo?.repository_id
        ? await context.repositories.defaultEnvironment(repo.repository_id)
        : null);
    const task = await context.control.createTask(environment ? { ...body, environment } : body, {
      id,
      repo,
    });
    reply.status(201);
    return task;
  });

  const listSchema = routeSchema({
    summary: "List tasks, newest first",
    querystring: ListTasksQuery,
    response: { 200: TaskList },
  });
  app.get("/api/v1/tasks", { schema: listSchema }, async (request) => {
    const query = parseRequest(ListTasksQuery, request.query, "query");
    const page = await context.store.listTasks({
      status: query.status,
      limit: query.limit,
      offset: query.offset,
    });
    // "Needs you": what each task waits for a person on, derived from its open requests.
    const waiting = await context.approvals.needsYou(page.tasks.map((task) => task.id));
    return {
      ...page,
      tasks: page.tasks.map((task) => ({ ...task, needs_you: waiting.get(task.id) ?? null })),
    };
  });

  const getSchema = routeSchema({
    summary: "A task with its current sandbox",
    params: Params,
    response: { 200: TaskWithSandbox },
  });
  app.get("/api/v1/tasks/:id", { schema: getSchema }, async (request) => {
    const { id } = parseRequest(Params, request.params, "task id");
    const task = await context.store.getTask(id);
    if (!task) throw notFound("task", id);
    const sandbox = task.sandbox_id
      ? ((await context.store.getSandbox(task.sandbox_id)) ?? null)
      : null;
    const waiting = await context.approvals.needsYou([task.id]);
    return { ...task, sandbox, needs_you: waiting.get(task.id) ?? null };
  });

  const cancelSchema = routeSchema({
    summary: "Cancel a task and stop its sandbox",
    params: Params,
    response: { 200: Task },
  });
  app.post("/api/v1/tasks/:id/cancel", { schema: cancelSchema }, async (request) => {
    const { id } = parseRequest(Params, request.params, "task id");
    return context.control.cancelTask(id);
  });

  const retrySchema = routeSchema({
    summary: "Queue a failed or cancelled task again",
    params: Params,
    response: { 200: Task },
  });
  app.post("/api/v1/tasks/:id/retry", { schema: retrySchema }, async (request) => {
    const { id } = parseRequest(Params, request.params, "task id");
    return context.control.retryTask(id);
  });
}
