import os from "node:os";
import type { FastifyReply, FastifyRequest } from "fastify";
import { type ErrorName, OmoiError } from "../protocol/error.ts";
import { type Config, isLoopbackHost } from "./config.ts";

/*
 * What a web page the person visits may do with Omoi: nothing, unless its origin is listed in
 * OMOI_ALLOWED_ORIGINS. Checked on every request before authentication, so it holds on the
 * tokenless local default too (see docs/security.md):
 * - `Host` must be one of the server's own names, which stops DNS rebinding;
 * - a browser request from another origin (its `Origin`, or `Sec-Fetch-Site` when a browser
 *   sends no `Origin`) is refused on the API and the sockets, upgrades included;
 * - a `POST` must be a request no page can send without a CORS preflight (a JSON content
 *   type or an `Authorization` header), so even a browser that sends neither header cannot
 *   forge one with a form.
 */

const forbidden = (name: ErrorName, message: string) => new OmoiError(name, message, 403);

/** Every address this machine answers on, for a server bound to all of them. */
function interfaceAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .map((entry) => (entry.family === "IPv6" ? `[${entry.address}]` : entry.address));
}

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]"]);

/** `[::1]` form for IPv6 literals, lower case, as URL parsing gives a Host header's name. */
function bracketed(host: string): string {
  const lower = host.toLowerCase();
  return lower.includes(":") && !lower.startsWith("[") ? `[${lower}]` : lower;
}

/** The host names requests may carry: loopback, the bound address(es), the public URL's, extras. */
export function serverHostNames(config: Config): Set<string> {
  const names = new Set<string>(config.allowedHosts.map(bracketed));
  if (WILDCARD_HOSTS.has(config.host))
    for (const address of interfaceAddresses()) names.add(address);
  else names.add(bracketed(config.host));
  if (config.publicUrl) names.add(new URL(config.publicUrl).hostname.toLowerCase());
  return names;
}

function hostnameOf(host: string): string | undefined {
  try {
    return new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

const SIMPLE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const PREFLIGHT_MAX_AGE_SECONDS = "600";

export interface CrossSitePolicy {
  /** An onRequest hook: refuses, answers a preflight, or adds CORS headers and lets through. */
  check(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined;
}

export function crossSitePolicy(config: Config): CrossSitePolicy {
  const hosts = serverHostNames(config);
  const listed = new Set(config.allowedOrigins);
  const publicOrigin = config.publicUrl ? new URL(config.publicUrl).origin : undefined;

  const hostAllowed = (hostname: string) => isLoopbackHost(hostname) || hosts.has(hostname);

  return {
    check(request, reply) {
      const hostHeader = request.headers.host;
      const hostname = hostHeader === undefined ? undefined : hostnameOf(hostHeader);
      if (hostHeader !== undefined && (hostname === undefined || !hostAllowed(hostname))) {
        throw forbidden(
          "HostNotAllowed",
          `this server does not answer to the host '${hostHeader.slice(0, 100)}'; add its name to OMOI_ALLOWED_HOSTS (or set OMOI_PUBLIC_URL) if it is really this server`,
        );
      }
      // Decided on the matched route, never the raw URL (which may be percent-encoded): only
      // the web app's own files may be fetched or navigated to from anywhere.
      const route = request.routeOptions.url;
      const isApi = !(
        (request.method === "GET" || request.method === "HEAD") &&
        (route === "/*" || route === undefined)
      );
      const origin = request.headers.origin;
      const sameOrigin =
        origin !== undefined &&
        (origin === `http://${hostHeader}` ||
          origin === `https://${hostHeader}` ||
          origin === publicOrigin);
      const crossOrigin = origin !== undefined && !sameOrigin;
      const fetchSite = request.headers["sec-fetch-site"];
      // A page of another site reading or changing through the API: only a listed origin may.
      const crossSite =
        crossOrigin ||
        (origin === undefined && (fetchSite === "cross-site" || fetchSite === "same-site"));
      if (isApi && crossSite) {
        if (origin === undefined || !listed.has(origin)) {
          throw forbidden(
            "CrossSiteRefused",
            `requests from another site${origin ? ` (origin ${origin.slice(0, 100)})` : ""} are refused; list the origin in OMOI_ALLOWED_ORIGINS to allow it`,
          );
        }
        reply.header("access-control-allow-origin", origin).header("vary", "origin");
        if (request.method === "OPTIONS") {
          return reply
            .header("access-control-allow-methods", "GET,POST,PATCH,DELETE")
            .header("access-control-allow-headers", "content-type,authorization,x-omoi-client")
            .header("access-control-max-age", PREFLIGHT_MAX_AGE_SECONDS)
            .status(204)
            .send();
        }
      }
      if (
        isApi &&
        !SIMPLE_METHODS.has(request.method) &&
        request.method !== "DELETE" &&
        !request.headers.authorization &&
        !isJson(request.headers["content-type"])
      ) {
        throw new OmoiError(
          "UnsupportedMediaType",
          "send 'Content-Type: application/json' (also on a request without a body): Omoi refuses requests any web page could send",
          415,
        );
      }
      return undefined;
    },
  };
}

/** Bodies a web page cannot send without asking first (JSON, and a git bundle upload). */
const PREFLIGHTED_TYPES = new Set(["application/json", "application/x-git-bundle"]);

function isJson(contentType: string | undefined): boolean {
  return PREFLIGHTED_TYPES.has(contentType?.split(";")[0].trim().toLowerCase() ?? "");
}
