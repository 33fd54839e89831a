import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance, FastifySchema, RouteOptions } from "fastify";
import { jsonSchemaTransform } from "fastify-type-provider-zod";
import type { z } from "zod";
import { ErrorBody } from "../protocol/error.ts";

/*
 * The API reference comes from the code: every route declares the zod schemas its handler
 * validates with (`routeSchema`), @fastify/swagger collects them into an OpenAPI 3.1
 * document at /api/v1/openapi.json, and Swagger UI (served from this server, no CDN)
 * renders it at /docs.
 */

export const OPENAPI_PATH = "/api/v1/openapi.json";
export const DOCS_PREFIX = "/docs";

export interface RouteParts {
  /** One line, shown as the operation's title. */
  summary: string;
  description?: string;
  params?: z.ZodType;
  querystring?: z.ZodType;
  body?: z.ZodType;
  /** Answers by status; every route also documents `4XX` with the error body. */
  response: Record<number, z.ZodType>;
}

/** A route's schema for the reference. Handlers validate with the same zod objects. */
export function routeSchema(parts: RouteParts): FastifySchema {
  const { response, ...rest } = parts;
  return { ...rest, response: { ...response, "4XX": ErrorBody } };
}

/** API routes must describe themselves; the rest (web app files, /docs, sockets) need not. */
function mustHaveSchema(route: RouteOptions): boolean {
  const methods = [route.method].flat();
  if (methods.every((method) => method === "HEAD")) return false;
  if ((route as { websocket?: boolean }).websocket) return false;
  if (route.schema?.hide) return false;
  return route.url.startsWith("/api/") || route.url === "/health";
}

/**
 * Registers the document and the reference page; call before any route is added. From then
 * on an API route without a schema is refused when it is added, so the server does not start
 * with a route the reference would miss.
 */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  app.addHook("onRoute", (route) => {
    if (mustHaveSchema(route) && !route.schema?.response) {
      throw new Error(
        `route ${[route.method].flat().join(",")} ${route.url} has no schema: declare it with routeSchema() so the API reference covers it`,
      );
    }
  });
  // Handlers parse every part with `parseRequest`, which names the field in its 400; the
  // schemas are here for the reference, so Fastify neither validates nor serializes by them.
  app.setValidatorCompiler(() => (value) => ({ value }));
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Omoi API",
        version,
        description:
          "Run AI coding agents in isolated sandboxes, stream what they do, steer them with messages. " +
          "The prose guide is docs/api.md in the repository.",
      },
      components: {
        securitySchemes: {
          bearer: {
            type: "http",
            scheme: "bearer",
            description: "OMOI_API_TOKEN, required when the server has one",
          },
        },
      },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: { deepLinking: true },
  });
  app.get(OPENAPI_PATH, { schema: { hide: true } as FastifySchema }, async () => app.swagger());
}
