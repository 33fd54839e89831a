import { randomBytes, timingSafeEqual } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { bearerToken } from "../protocol/bearer.ts";

/**
 * A loopback HTTP gateway in the trusted worker. The sandboxed agent talks to it with a
 * per-sandbox access token (the only "key" it ever sees); the gateway swaps that for the
 * real model credentials and streams the request and response through unbuffered, so SSE
 * arrives event by event.
 */
export interface ModelGateway {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The token the sandbox must present (as x-api-key or Bearer); worthless elsewhere. */
  readonly accessToken: string;
  close(): Promise<void>;
}

export interface ModelGatewayOptions {
  /** The real endpoint, e.g. `https://api.anthropic.com` or `http://127.0.0.1:4000/base`. */
  upstreamBaseUrl: string;
  /** The real credentials: ANTHROPIC_API_KEY → x-api-key, ANTHROPIC_AUTH_TOKEN → Bearer. */
  apiKey?: string;
  authToken?: string;
  /** A Claude subscription token (`claude setup-token`): Bearer, with the OAuth beta flag. */
  oauthToken?: string;
}

/** The beta flag Anthropic's API wants beside a subscription (OAuth) token. */
export const OAUTH_BETA = "oauth-2025-04-20";

/** Request headers never forwarded upstream: hop-by-hop, and every credential slot. */
const DROPPED_REQUEST_HEADERS = new Set([
  "host",
  "connection",
  "keep-alive",
  "proxy-authorization",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "x-api-key",
  "authorization",
]);
const DROPPED_RESPONSE_HEADERS = new Set(["connection", "keep-alive", "transfer-encoding"]);

/**
 * The only requests forwarded with the real key: what the Claude Code CLI sends (seen by
 * recording it against the scripted model): messages (with `?beta=true`), token counting,
 * and its reachability check when non-essential traffic is on. Anything else — model lists,
 * files, batches, admin routes — is refused here.
 */
const FORWARDED_ROUTES = new Set([
  "POST /v1/messages",
  "POST /v1/messages/count_tokens",
  "HEAD /api/hello",
  "GET /api/hello",
]);

function anthropicError(
  response: http.ServerResponse,
  status: number,
  type: string,
  message: string,
) {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify({ type: "error", error: { type, message } }));
}

export async function startModelGateway(options: ModelGatewayOptions): Promise<ModelGateway> {
  const upstream = new URL(options.upstreamBaseUrl);
  if (upstream.protocol !== "http:" && upstream.protocol !== "https:") {
    throw new Error(`model base URL must be http(s): ${options.upstreamBaseUrl}`);
  }
  const accessToken = `omoi-sandbox-${randomBytes(24).toString("hex")}`;
  const basePath = upstream.pathname.replace(/\/+$/, "");
  const client = upstream.protocol === "https:" ? https : http;
  const agent = new client.Agent({ keepAlive: true });

  const server = http.createServer((request, response) => {
    if (!presentsToken(request, accessToken)) {
      anthropicError(response, 401, "authentication_error", "omoi model gateway: bad access token");
      request.resume();
      return;
    }
    // Decided on the normalized path, which is also what is forwarded (no `..` tricks).
    const target = new URL(request.url ?? "/", "http://gateway.invalid");
    const route = `${request.method} ${target.pathname}`;
    if (!FORWARDED_ROUTES.has(route)) {
      anthropicError(
        response,
        404,
        "not_found_error",
        `omoi model gateway: ${route} is not forwarded; the agent may call only ${[...FORWARDED_ROUTES].join(", ")}`,
      );
      request.resume();
      return;
    }
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && !DROPPED_REQUEST_HEADERS.has(name)) headers[name] = value;
    }
    if (options.apiKey) headers["x-api-key"] = options.apiKey;
    if (options.authToken) headers.authorization = `Bearer ${options.authToken}`;
    if (options.oauthToken) {
      headers.authorization = `Bearer ${options.oauthToken}`;
      const beta = String(headers["anthropic-beta"] ?? "");
      const flags = beta
        .split(",")
        .map((flag) => flag.trim())
        .filter(Boolean);
      if (!flags.includes(OAUTH_BETA)) headers["anthropic-beta"] = [...flags, OAUTH_BETA].join(",");
    }
    headers.host = upstream.host;

    const outgoing = client.request(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port || undefined,
        method: request.method,
        path: `${basePath}${target.pathname}${target.search}`,
        headers,
        agent,
      },
      (upstreamResponse) => {
        const responseHeaders: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(upstreamResponse.headers)) {
          if (value !== undefined && !DROPPED_RESPONSE_HEADERS.has(name)) {
            responseHeaders[name] = value;
          }
        }
        response.writeHead(upstreamResponse.statusCode ?? 502, responseHeaders);
        response.flushHeaders();
        upstreamResponse.pipe(response);
      },
    );
    outgoing.setNoDelay(true);
    outgoing.on("error", (error) => {
      if (!response.headersSent) {
        response.writeHead(502, { "content-type": "application/json" });
        response.end(
          JSON.stringify({
            type: "error",
            error: { type: "api_error", message: `omoi model gateway: ${error.message}` },
          }),
        );
      } else {
        response.destroy(error);
      }
    });
    response.on("close", () => {
      if (!response.writableFinished) outgoing.destroy();
    });
    request.pipe(outgoing);
  });
  server.on("connection", (socket) => socket.setNoDelay(true));

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    accessToken,
    close: async () => {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function presentsToken(request: http.IncomingMessage, token: string): boolean {
  const apiKey = request.headers["x-api-key"];
  const authorization = request.headers.authorization;
  const presented = typeof apiKey === "string" ? apiKey : (bearerToken(authorization) ?? "");
  const expected = Buffer.from(token);
  const actual = Buffer.from(presented);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
