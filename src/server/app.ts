import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import fastifyWebsocket from "@fastify/websocket";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  LogController,
} from "fastify";
import type { Logger } from "../log/logger.ts";
import { badRequest, sandboxEnded, unauthorized } from "../protocol/error.ts";
import { parseAtEdge } from "../protocol/json.ts";
import { isTerminalSandboxStatus } from "../protocol/status.ts";
import { ViewerCloseCode } from "../protocol/viewer.ts";
import { WORKER_CHANNEL_PATH } from "../protocol/worker-channel.ts";
import type { ServerContext } from "./context.ts";
import { crossSitePolicy } from "./cross-site.ts";
import { installErrorHandler } from "./http-errors.ts";
import { DOCS_PREFIX, OPENAPI_PATH, registerOpenApi } from "./openapi.ts";
import { PrototypeProducers } from "./prototype-producers.ts";
import { presentedToken, presentsApiToken } from "./request-token.ts";
import { approvalRoutes } from "./routes/approvals.ts";
import { environmentRoutes } from "./routes/environments.ts";
import { eventRoutes } from "./routes/events.ts";
import { healthRoutes } from "./routes/health.ts";
import { messageRoutes } from "./routes/messages.ts";
import { repoTransferRoutes } from "./routes/repo-transfer.ts";
import { repositoryRoutes } from "./routes/repositories.ts";
import { sandboxRoutes } from "./routes/sandboxes.ts";
import { taskRoutes } from "./routes/tasks.ts";
import { verifyWorkerToken } from "./worker-token.ts";

const WEB_DIST = path.resolve(fileURLToPath(new URL("../../web/dist", import.meta.url)));

/**
 * Routes open without the API token: health checks, the UI's files, the worker channel (which
 * checks worker tokens itself) and the viewer sockets (which check the API token once upgraded;
 * a refused upgrade would linger at shutdown). Every other route needs the token.
 */
const OPEN_ROUTES = new Set([
  "/api/v1/health",
  "/health",
  WORKER_CHANNEL_PATH,
  "/ws/events",
  "/api/v1/ws/events",
  "/*",
  // The API reference describes the API's shape, which is public; it holds no data.
  OPENAPI_PATH,
]);
/**
 * What a worker token opens, per method: exactly what a worker on the prototype's HTTP transport
 * does — post its events and poll its messages. Reading events or posting messages (which
 * could restart a finished task) takes the API token.
 */
const WORKER_TOKEN_ROUTES = new Set([
  "POST /api/v1/sandboxes/:id/events",
  "GET /api/v1/sandboxes/:id/messages",
]);

/** The Fastify app: REST routes, the viewer and worker WebSockets, and the web UI. */
export async function buildApp(context: ServerContext, logger: Logger): Promise<FastifyInstance> {
  const { config } = context;
  const app = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    routerOptions: { maxParamLength: 200 },
    // Shutdown must not wait on idle keep-alive or half-upgraded sockets.
    forceCloseConnections: true,
  });

  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === "") return done(null, undefined);
    const parsed = parseAtEdge(text);
    if (!parsed.ok) return done(badRequest(parsed.error), undefined);
    done(null, parsed.value);
  });
  installErrorHandler(app, config.bodyLimitBytes);

  // An upgrade refused with an HTTP answer leaves its socket outside the server's tracking,
  // where a client that keeps it open would hold up shutdown: end it once answered.
  app.addHook("onResponse", async (request) => {
    if (request.headers.upgrade !== undefined) request.raw.socket?.destroySoon();
  });
  const crossSite = crossSitePolicy(config);
  app.addHook("onRequest", async (request, reply) => {
    if (crossSite.check(request, reply)) return reply;
    if (!config.apiToken) return;
    // Decided on the matched route, never the raw URL (which may be percent-encoded).
    const route = request.routeOptions.url;
    if (route === undefined || OPEN_ROUTES.has(route) || route.startsWith(DOCS_PREFIX)) return;
    if (presentsApiToken(request, config.apiToken)) return;
    const token = presentedToken(request);
    // A worker on the prototype's HTTP transport may use its own sandbox's token on its own routes,
    // while the sandbox lives.
    const sandboxId = (request.params as { id?: unknown } | undefined)?.id;
    if (
      WORKER_TOKEN_ROUTES.has(`${request.method} ${route}`) &&
      token &&
      typeof sandboxId === "string" &&
      verifyWorkerToken(context.secret, sandboxId, token)
    ) {
      const sandbox = await context.store.getSandbox(sandboxId);
      if (sandbox && isTerminalSandboxStatus(sandbox.status))
        throw sandboxEnded(sandboxId, sandbox.status);
      return;
    }
    throw unauthorized();
  });

  await app.register(fastifyWebsocket, { options: { maxPayload: 1024 * 1024 } });
  await registerOpenApi(app, context.version);

  app.register(async (scope) => {
    const viewer = (socket: import("ws").WebSocket, request: FastifyRequest) => {
      if (config.apiToken && !presentsApiToken(request, config.apiToken)) {
        socket.close(
          ViewerCloseCode.unauthorized,
          "missing or invalid token: pass ?token= or an Authorization header",
        );
        return;
      }
      context.viewers.attach(socket, request.query);
    };
    // WebSocket routes stay out of the OpenAPI document (@fastify/websocket hides them); their
    // frames are zod schemas in src/protocol (viewer.ts, worker-channel.ts) and docs/api.md.
    scope.get("/ws/events", { websocket: true }, viewer);
    scope.get("/api/v1/ws/events", { websocket: true }, viewer);
    scope.get(WORKER_CHANNEL_PATH, { websocket: true }, (socket) => context.workers.attach(socket));
  });

  healthRoutes(app, context);
  const producers = new PrototypeProducers(context.store);
  const stopListening = producers.listen(context.bus);
  eventRoutes(app, context, producers);
  messageRoutes(app, context, producers);
  taskRoutes(app, context);
  environmentRoutes(app, context);
  sandboxRoutes(app, context);
  approvalRoutes(app, context);
  repositoryRoutes(app, context);
  repoTransferRoutes(app, context);

  const hasWeb = existsSync(path.join(WEB_DIST, "index.html"));
  // wildcard: files are looked up per request, so a rebuilt UI is served without a restart.
  if (hasWeb) await app.register(fastifyStatic, { root: WEB_DIST, wildcard: true });
  app.setNotFoundHandler((request, reply) => {
    const isApi = request.url.startsWith("/api/") || request.url.startsWith("/ws/");
    if (!isApi && request.method === "GET" && hasWeb) return reply.sendFile("index.html");
    if (!isApi && request.method === "GET") {
      return reply
        .type("text/plain")
        .send("The Omoi web app is not built. Run `npm run build:web`, then reload.\n");
    }
    return reply.status(404).send({
      error: {
        name: "NotFound",
        message: `no route ${request.method} ${request.url.split("?")[0]}`,
      },
    });
  });

  app.addHook("onClose", async () => {
    stopListening();
    context.viewers.close();
    context.workers.close();
  });
  return app;
}
