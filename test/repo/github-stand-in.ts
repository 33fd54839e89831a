import { createPublicKey, randomBytes, verify } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { gitRaw } from "../../src/repo/git.ts";

/*
 * A stand-in for GitHub's REST API, for tests only (no forge is reachable from here). It
 * checks what GitHub documents for the calls Omoi makes — method and path, an
 * `Authorization` token it issued, a `User-Agent`, a JSON `Accept` of the GitHub media type,
 * the body's required fields — and that the `head` and `base` branches exist on the git
 * repository it serves. GitHub App installation tokens are minted only for a JWT signed
 * (RS256) by the App's key.
 */

export interface StandInPull {
  number: number;
  html_url: string;
  state: "open" | "closed";
  draft: boolean;
  title: string;
  body: string;
  head: { ref: string };
  base: { ref: string };
  merged_at: null;
}

export interface GitHubStandIn {
  url: string;
  pulls: StandInPull[];
  /** Every request: method, path and the problems found with it (none for a good one). */
  log: { method: string; path: string; status: number }[];
  mintedTokens: string[];
  close(): Promise<void>;
}

export interface StandInOptions {
  owner: string;
  repo: string;
  /** The bare repository behind owner/repo (branches are checked there). */
  gitDir: string;
  /** Personal access tokens it accepts. */
  tokens: string[];
  app?: { id: number; installationId: number; publicKeyPem: string };
}

export async function startGitHubStandIn(options: StandInOptions): Promise<GitHubStandIn> {
  const pulls: StandInPull[] = [];
  const log: GitHubStandIn["log"] = [];
  const accepted = new Set(options.tokens);
  const mintedTokens: string[] = [];
  let base = "";

  const branchExists = async (branch: string) =>
    (
      await gitRaw(["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`], {
        cwd: options.gitDir,
      })
    ).code === 0;

  const server = http.createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const send = (status: number, body: unknown) => {
      log.push({ method: request.method ?? "", path: url.pathname, status });
      response.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      response.end(JSON.stringify(body));
    };
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");

    if (!request.headers["user-agent"]) return send(403, { message: "User-Agent required" });
    if (!String(request.headers.accept ?? "").includes("application/vnd.github")) {
      return send(415, { message: "Accept must name the GitHub media type" });
    }
    const authorization = String(request.headers.authorization ?? "");

    const tokenPath = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(url.pathname);
    if (tokenPath) {
      if (request.method !== "POST") return send(404, { message: "Not Found" });
      const app = options.app;
      if (!app || Number(tokenPath[1]) !== app.installationId) {
        return send(404, { message: "Not Found" });
      }
      if (!authorization.startsWith("bearer ") && !authorization.startsWith("Bearer ")) {
        return send(401, { message: "A JSON web token could not be decoded" });
      }
      if (!jwtValid(authorization.slice(7), app.publicKeyPem, app.id)) {
        return send(401, { message: "A JSON web token could not be decoded" });
      }
      const token = `ghs_${randomBytes(16).toString("hex")}`;
      accepted.add(token);
      mintedTokens.push(token);
      return send(201, { token, expires_at: new Date(Date.now() + 3600_000).toISOString() });
    }

    const token = /^(?:token|bearer) (.+)$/i.exec(authorization)?.[1];
    if (!token || !accepted.has(token)) return send(401, { message: "Bad credentials" });
    const repoPath = `/repos/${options.owner}/${options.repo}`;
    if (url.pathname === `${repoPath}/pulls` && request.method === "GET") {
      const head = url.searchParams.get("head");
      const wanted = url.searchParams.get("state") ?? "open";
      return send(
        200,
        pulls.filter(
          (pull) =>
            (wanted === "all" || pull.state === wanted) &&
            (!head || `${options.owner}:${pull.head.ref}` === head) &&
            (!url.searchParams.get("base") || pull.base.ref === url.searchParams.get("base")),
        ),
      );
    }
    if (url.pathname === `${repoPath}/pulls` && request.method === "POST") {
      if (!String(request.headers["content-type"] ?? "").startsWith("application/json")) {
        return send(415, { message: "Content-Type must be application/json" });
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return send(400, { message: "Problems parsing JSON" });
      }
      const errors: string[] = [];
      for (const field of ["title", "head", "base"]) {
        if (typeof body[field] !== "string" || body[field] === "") errors.push(`${field} missing`);
      }
      if (body.draft !== undefined && typeof body.draft !== "boolean") errors.push("draft");
      if (errors.length === 0) {
        if (!(await branchExists(String(body.head)))) errors.push("head invalid");
        if (!(await branchExists(String(body.base)))) errors.push("base invalid");
        if (body.head === body.base) errors.push("head and base are the same");
        if (pulls.some((pull) => pull.state === "open" && pull.head.ref === body.head)) {
          errors.push(`A pull request already exists for ${options.owner}:${body.head}.`);
        }
      }
      if (errors.length > 0) return send(422, { message: "Validation Failed", errors });
      const number = pulls.length + 1;
      const pull: StandInPull = {
        number,
        html_url: `${base}/${options.owner}/${options.repo}/pull/${number}`,
        state: "open",
        draft: body.draft === true,
        title: String(body.title),
        body: typeof body.body === "string" ? body.body : "",
        head: { ref: String(body.head) },
        base: { ref: String(body.base) },
        merged_at: null,
      };
      pulls.push(pull);
      return send(201, pull);
    }
    const one = new RegExp(`^${repoPath}/pulls/(\\d+)$`).exec(url.pathname);
    if (one && request.method === "GET") {
      const pull = pulls.find((candidate) => candidate.number === Number(one[1]));
      return pull ? send(200, pull) : send(404, { message: "Not Found" });
    }
    return send(404, { message: "Not Found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    pulls,
    log,
    mintedTokens,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An RS256 JWT signed by the App's key, issued by the App, not expired. */
function jwtValid(token: string, publicKeyPem: string, appId: number): boolean {
  const [header, payload, signature] = token.split(".");
  if (!header || !payload || !signature) return false;
  const key = createPublicKey(publicKeyPem);
  const signed = verify(
    "RSA-SHA256",
    Buffer.from(`${header}.${payload}`),
    key,
    Buffer.from(signature, "base64url"),
  );
  if (!signed) return false;
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as {
    iss?: unknown;
    exp?: number;
  };
  return String(claims.iss) === String(appId) && (claims.exp ?? 0) * 1000 > Date.now();
}
