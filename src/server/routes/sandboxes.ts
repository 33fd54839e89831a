import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { notFound } from "../../protocol/error.ts";
import { EntityId } from "../../protocol/ids.ts";
import { CreateSandboxBody, ListSandboxesQuery } from "../../protocol/sandbox.ts";
import type { ServerContext } from "../context.ts";
import { parseRequest } from "../http-errors.ts";

const Params = z.object({ id: EntityId });

export function sandboxRoutes(app: FastifyInstance, context: ServerContext) {
  app.post("/api/v1/sandboxes", async (request, reply) => {
    const body = parseRequest(CreateSandboxBody.strict(), request.body ?? {}, "sandbox");
    const sandbox = await context.control.createSandbox(body);
    reply.status(201);
    return sandbox;
  });

  app.get("/api/v1/sandboxes", async (request) => {
    const query = parseRequest(ListSandboxesQuery, request.query, "query");
    return context.store.listSandboxes({
      status: query.status,
      taskId: query.task_id,
      limit: query.limit,
      offset: query.offset,
    });
  });

  app.get("/api/v1/sandboxes/:id", async (request) => {
    const { id } = parseRequest(Params, request.params, "sandbox id");
    const sandbox = await context.store.getSandbox(id);
    if (!sandbox) throw notFound("sandbox", id);
    return sandbox;
  });

  app.delete("/api/v1/sandboxes/:id", async (request) => {
    const { id } = parseRequest(Params, request.params, "sandbox id");
    const sandbox = await context.control.terminateSandbox(id, "terminated by request");
    // Its processes are gone; say what stays on disk, and until when.
    return { ...sandbox, retained: context.retention.retained(sandbox) };
  });
}
