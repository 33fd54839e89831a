import type { FastifyInstance } from "fastify";
import { Health, type HealthDetails, Liveness } from "../../protocol/health.ts";
import { PROTOCOL_VERSION } from "../../protocol/version.ts";
import type { ServerContext } from "../context.ts";
import { routeSchema } from "../openapi.ts";
import { presentsApiToken } from "../request-token.ts";

/**
 * Liveness for anyone (load balancers, probes); the details — version, backends, replica id,
 * the model's URL — only for a caller holding the API token. With no API token configured
 * everyone may use the whole API anyway (on loopback, or with OMOI_ALLOW_OPEN=1), so health
 * shows the details too; the web app shows the scripted-model notice from them.
 */
export function healthRoutes(app: FastifyInstance, context: ServerContext) {
  const { apiToken } = context.config;
  const schema = routeSchema({
    summary: "Liveness; what this server runs on, for a caller with the token",
    response: { 200: Health },
  });
  app.get("/api/v1/health", { schema }, async (request): Promise<Health> => {
    if (apiToken && !presentsApiToken(request, apiToken)) return { status: "ok" };
    return details();
  });
  const details = (): HealthDetails => ({
    status: "ok",
    version: context.version,
    protocol: PROTOCOL_VERSION,
    store: context.store.kind,
    bus: context.bus.kind,
    provider: context.providerName,
    replica: context.config.replicaId,
    model: context.model,
    machine: context.config.machineId,
    upload_max_bytes: context.config.uploadMaxBytes,
    viewers: context.viewers.size,
  });
  // The prototype's health path.
  const prototypeSchema = routeSchema({
    summary: "Liveness (the prototype's path)",
    response: { 200: Liveness },
  });
  app.get("/health", { schema: prototypeSchema }, async () => ({ status: "ok" }));
}
