import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { bearerToken } from "../protocol/bearer.ts";

/** The token a request presents: `Authorization: Bearer …` (any case), else `?token=`. */
export function presentedToken(request: FastifyRequest): string | undefined {
  const header = bearerToken(request.headers.authorization);
  if (header !== undefined) return header;
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.token === "string" ? query.token : undefined;
}

const digest = (text: string) => createHash("sha256").update(text).digest();

/** Whether the request presents the API token; compared in constant time. */
export function presentsApiToken(request: FastifyRequest, apiToken: string): boolean {
  const token = presentedToken(request);
  return token !== undefined && timingSafeEqual(digest(token), digest(apiToken));
}
