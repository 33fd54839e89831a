/**
 * The scripted model: an HTTP server speaking the Anthropic Messages API, so the real
 * Claude Agent SDK and Claude Code CLI run against it (`ANTHROPIC_BASE_URL=<url>`).
 *
 *   const model = await startScriptedModel({ port: 0, defaultScenario: "demo" });
 *   model.url       // "http://127.0.0.1:PORT"
 *   model.requests  // POST /v1/messages requests answered so far
 *   await model.close();
 *
 * Options (all optional):
 *   port             0 (default) = a free port
 *   host             "127.0.0.1"
 *   scenariosDir     folder of `<name>.json` scenarios; default: `scenarios/` at the project root
 *   scenarios        extra scenarios as values, by name (validated; win over files of the same name)
 *   defaultScenario  played when neither the prompt marker `[scenario:name]` nor the
 *                    `x-omoi-scenario` header names one; default "demo"
 *   pace             { firstTokenMs, tokensPerSecond }; default { 0, 0 } = as fast as possible
 *   failure          make every POST /v1/messages fail: { status?, errorType?, message?, drop?, retryable? }
 *   logger           pino-like logger (debug/info/warn/error)
 *
 * Routes: POST /v1/messages (stream or not), POST /v1/messages/count_tokens,
 * GET /v1/models[/id], GET / (health). Query strings (the CLI's `?beta=true`) are ignored.
 * Anything else: 404/405 in Anthropic's error shape. See docs/scripted-model.md.
 */
import { existsSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { sendError } from "./anthropic-error.ts";
import {
  type HandlerContext,
  handleCountTokens,
  handleMessages,
  handleModels,
} from "./handlers.ts";
import { type ModelLogger, silentLogger } from "./logger.ts";
import {
  type Failure,
  failureSchema,
  loadScenarios,
  type Pace,
  paceSchema,
  type Scenario,
  scenariosFromValues,
} from "./scenario.ts";

export interface ScriptedModelOptions {
  port?: number;
  host?: string;
  scenariosDir?: string;
  scenarios?: Record<string, unknown>;
  defaultScenario?: string;
  pace?: Pace;
  failure?: Partial<Failure>;
  logger?: ModelLogger;
}

export interface ScriptedModel {
  url: string;
  port: number;
  /** POST /v1/messages requests answered so far. */
  readonly requests: number;
  close(): Promise<void>;
}

export const defaultScenariosDir = fileURLToPath(new URL("../../scenarios/", import.meta.url));

async function gatherScenarios(options: ScriptedModelOptions): Promise<Map<string, Scenario>> {
  const dir = options.scenariosDir ?? defaultScenariosDir;
  const fromFiles =
    options.scenariosDir !== undefined || existsSync(dir) ? await loadScenarios(dir) : new Map();
  for (const [name, scenario] of scenariosFromValues(options.scenarios ?? {})) {
    fromFiles.set(name, scenario);
  }
  return fromFiles;
}

function validated<T>(label: string, result: { success: true; data: T } | { success: false }): T {
  if (!result.success) throw new Error(`scripted model: option '${label}' is invalid`);
  return result.data;
}

async function route(req: IncomingMessage, res: ServerResponse, context: HandlerContext) {
  const path = new URL(req.url ?? "/", "http://localhost").pathname.replace(/\/+$/, "") || "/";
  const method = req.method ?? "GET";
  if (path === "/v1/messages") {
    if (method !== "POST") return sendError(res, 405, `${method} ${path} is not allowed; use POST`);
    return handleMessages(req, res, context);
  }
  if (path === "/v1/messages/count_tokens") {
    if (method !== "POST") return sendError(res, 405, `${method} ${path} is not allowed; use POST`);
    return handleCountTokens(req, res);
  }
  const model = /^\/v1\/models(?:\/([^/]+))?$/.exec(path);
  if (model && (method === "GET" || method === "HEAD")) return handleModels(res, model[1]);
  if (path === "/" && (method === "GET" || method === "HEAD")) {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify({ ok: true, service: "omoi-scripted-model" }));
  }
  context.logger.info({ method, url: req.url }, "scripted model: unknown request");
  sendError(res, 404, `no route for ${method} ${path} on the scripted model`);
}

export async function startScriptedModel(
  options: ScriptedModelOptions = {},
): Promise<ScriptedModel> {
  const scenarios = await gatherScenarios(options);
  const defaultScenario = options.defaultScenario ?? "demo";
  if (!scenarios.has(defaultScenario)) {
    const known = [...scenarios.keys()].join(", ") || "(none)";
    throw new Error(
      `scripted model: default scenario '${defaultScenario}' not found; known: ${known}`,
    );
  }
  const logger = options.logger ?? silentLogger;
  const context: HandlerContext = {
    scenarios,
    defaultScenario,
    pace: validated(
      "pace",
      paceSchema.safeParse(options.pace ?? { firstTokenMs: 0, tokensPerSecond: 0 }),
    ),
    failure: options.failure
      ? validated("failure", failureSchema.safeParse(options.failure))
      : undefined,
    logger,
  };
  let requests = 0;
  const server = createServer((req, res) => {
    if (req.url?.startsWith("/v1/messages") && !req.url.startsWith("/v1/messages/")) requests += 1;
    route(req, res, context).catch((error: unknown) => {
      logger.error({ error: String(error), url: req.url }, "scripted model: request failed");
      if (!res.headersSent) sendError(res, 500, "scripted model internal error");
      else res.destroy();
    });
  });
  server.on("clientError", (_error, socket) => socket.destroy());
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  logger.info(
    { port, scenarios: [...scenarios.keys()], defaultScenario },
    "scripted model listening",
  );
  return {
    url: `http://${urlHost}:${port}`,
    port,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
