import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { CreateEnvironmentBody, PatchEnvironmentBody } from "../../protocol/environment.ts";
import type { ServerContext } from "../context.ts";
import { parseRequest } from "../http-errors.ts";

/** An environment is addressed by its id or its name. */
const Params = z.object({
  key: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be an environment id or name"),
});

export function environmentRoutes(app: FastifyInstance, context: ServerContext) {
  const { environments } = context;

  app.post("/api/v1/environments", async (request, reply) => {
    const body = parseRequest(CreateEnvironmentBody, request.body, "environment");
    reply.status(201);
    return environments.create(body);
  });

  app.get("/api/v1/environments", async () => ({ environments: await environments.list() }));

  app.get("/api/v1/environments/:key", async (request) => {
    const { key } = parseRequest(Params, request.params, "environment");
    return environments.get(key);
  });

  app.patch("/api/v1/environments/:key", async (request) => {
    const { key } = parseRequest(Params, request.params, "environment");
    const patch = parseRequest(PatchEnvironmentBody, request.body, "environment patch");
    return environments.update(key, patch);
  });

  app.delete("/api/v1/environments/:key", async (request) => {
    const { key } = parseRequest(Params, request.params, "environment");
    return environments.delete(key);
  });
}
