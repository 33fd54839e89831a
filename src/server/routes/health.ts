import type { FastifyInstance } from "fastify";
import { PROTOCOL_VERSION } from "../../protocol/version.ts";
import type { ServerContext } from "../context.ts";

export function healthRoutes(app: FastifyInstance, context: ServerContext) {
  app.get("/api/v1/health", async () => ({
    status: "ok",
    version: context.version,
    protocol: PROTOCOL_VERSION,
    store: context.store.kind,
    bus: context.bus.kind,
    provider: context.providerName,
    replica: context.config.replicaId,
    model: context.model,
    viewers: context.viewers.size,
  }));
  // The seed's health path.
  app.get("/health", async () => ({ status: "ok" }));
}
