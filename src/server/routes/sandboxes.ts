import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { notFound } from "../../protocol/error.ts";
import { EntityId } from "../../protocol/ids.ts";
import {
  CreateSandboxBody,
  ListSandboxesQuery,
  Sandbox,
  SandboxList,
} from "../../protocol/sandbox.ts";
import type { ServerContext } from "../context.ts";
import { parseRequest } from "../http-errors.ts";
import { routeSchema } from "../openapi.ts";

const Params = z.object({ id: EntityId });
const CreateBody = CreateSandboxBody.strict();

export function sandboxRoutes(app: FastifyInstance, context: ServerContext) {
  const createSchema = routeSchema({
    summary: "Start a sandbox with an agent, or register one for an outside worker",
    description: "With a `prompt`, Omoi runs an agent in it; without, it is `external`.",
    body: CreateBody,
    response: { 201: Sandbox },
  });
  app.post("/api/v1/sandboxes", { schema: createSchema }, async (request, reply) => {
    const body = parseRequest(CreateBody, request.body ?? {}, "sandbox");
    const sandbox = await context.control.createSandbox(body);
    reply.status(201);
    return sandbox;
  });

  const listSchema = routeSchema({
    summary: "List sandboxes, newest first",
    querystring: ListSandboxesQuery,
    response: { 200: SandboxList },
  });
  app.get("/api/v1/sandboxes", { schema: listSchema }, async (request) => {
    const query = parseRequest(ListSandboxesQuery, request.query, "query");
    return context.store.listSandboxes({
      status: query.status,
      taskId: query.task_id,
      limit: query.limit,
      offset: query.offset,
    });
  });

  const getSchema = routeSchema({
    summary: "A sandbox",
    params: Params,
    response: { 200: Sandbox },
  });
  app.get("/api/v1/sandboxes/:id", { schema: getSchema }, async (request) => {
    const { id } = parseRequest(Params, request.params, "sandbox id");
    const sandbox = await context.store.getSandbox(id);
    if (!sandbox) throw notFound("sandbox", id);
    return sandbox;
  });

  const deleteSchema = routeSchema({
    summary: "Stop a sandbox: its whole process tree dies",
    params: Params,
    response: { 200: Sandbox },
  });
  app.delete("/api/v1/sandboxes/:id", { schema: deleteSchema }, async (request) => {
    const { id } = parseRequest(Params, request.params, "sandbox id");
    const sandbox = await context.control.terminateSandbox(id, "terminated by request");
    // Its processes are gone; say what stays on disk, and until when.
    return { ...sandbox, retained: context.retention.retained(sandbox) };
  });
}
