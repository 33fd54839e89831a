import type { FastifyInstance } from "fastify";
import { z } from "zod";
import {
  CreateEnvironmentBody,
  Environment,
  EnvironmentList,
  PatchEnvironmentBody,
} from "../../protocol/environment.ts";
import type { ServerContext } from "../context.ts";
import { parseRequest } from "../http-errors.ts";
import { routeSchema } from "../openapi.ts";

/** An environment is addressed by its id or its name. */
const Params = z.object({
  key: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be an environment id or name"),
});

export function environmentRoutes(app: FastifyInstance, context: ServerContext) {
  const { environments, control } = context;
  // Warm-pool sandboxes of the old version end, and the pool refills, in the background.
  const changed = () => void control.environmentChanged?.().catch(() => undefined);

  const createSchema = routeSchema({
    summary: "Create an environment",
    body: CreateEnvironmentBody,
    response: { 201: Environment },
  });
  app.post("/api/v1/environments", { schema: createSchema }, async (request, reply) => {
    const body = parseRequest(CreateEnvironmentBody, request.body, "environment");
    reply.status(201);
    const created = await environments.create(body);
    if (created.warm_pool > 0) changed();
    return created;
  });

  const listSchema = routeSchema({
    summary: "List environments",
    response: { 200: EnvironmentList },
  });
  app.get("/api/v1/environments", { schema: listSchema }, async () => ({
    environments: await environments.list(),
  }));

  const getSchema = routeSchema({
    summary: "An environment, by id or name (secret values are never returned)",
    params: Params,
    response: { 200: Environment },
  });
  app.get("/api/v1/environments/:key", { schema: getSchema }, async (request) => {
    const { key } = parseRequest(Params, request.params, "environment");
    return environments.get(key);
  });

  const patchSchema = routeSchema({
    summary: "Change an environment",
    params: Params,
    body: PatchEnvironmentBody,
    response: { 200: Environment },
  });
  app.patch("/api/v1/environments/:key", { schema: patchSchema }, async (request) => {
    const { key } = parseRequest(Params, request.params, "environment");
    const patch = parseRequest(PatchEnvironmentBody, request.body, "environment patch");
    const updated = await environments.update(key, patch);
    changed();
    return updated;
  });

  const deleteSchema = routeSchema({
    summary: "Delete an environment",
    params: Params,
    response: { 200: Environment },
  });
  app.delete("/api/v1/environments/:key", { schema: deleteSchema }, async (request) => {
    const { key } = parseRequest(Params, request.params, "environment");
    const deleted = await environments.delete(key);
    changed();
    return deleted;
  });

  const rebuildSchema = routeSchema({
    summary: "Rebuild the environment's setup snapshots: the next task runs the setup script again",
    params: Params,
    response: { 200: Environment },
  });
  app.delete("/api/v1/environments/:key/snapshots", { schema: rebuildSchema }, async (request) => {
    const { key } = parseRequest(Params, request.params, "environment");
    const reset = await environments.resetSnapshots(key);
    // Pool sandboxes set up before the request are stale too: they end and the pool refills.
    changed();
    return reset;
  });
}
