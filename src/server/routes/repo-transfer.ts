import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { OmoiError } from "../../protocol/error.ts";
import { EntityId } from "../../protocol/ids.ts";
import {
  BranchesQuery,
  BranchList,
  UploadBundleQuery,
  UploadedRepository,
} from "../../protocol/repo.ts";
import type { ServerContext } from "../context.ts";
import { discardBody, parseRequest } from "../http-errors.ts";
import { routeSchema } from "../openapi.ts";
import { RateLimiter } from "../rate-limit.ts";

export const BUNDLE_TYPE = "application/x-git-bundle";
const TaskParams = z.object({ id: EntityId });
/** How much of a refused upload is read into nothing so that the client sees the answer. */
const DISCARD_BYTES = 16 * 1024 * 1024;

/**
 * Repositories that travel as git bundles (a server on another machine than the person's
 * checkout), and the branch list the new-task picker offers.
 */
export function repoTransferRoutes(app: FastifyInstance, context: ServerContext) {
  // The body stays a stream: RepoUploads writes it to disk under its own size limit.
  app.addContentTypeParser(BUNDLE_TYPE, (_request, payload, done) => done(null, payload));
  // A bundle is what a task is created from: the same per-caller rate as new tasks.
  const uploads = new RateLimiter(context.config.taskRateLimitPerMinute, "bundle uploads");

  const uploadSchema = routeSchema({
    summary: "Send a repository as a git bundle (its committed history); answers the repo to name",
    description: `Body: a complete git bundle (\`git bundle create - <branch>\`), Content-Type ${BUNDLE_TYPE}, at most OMOI_UPLOAD_MAX_BYTES (413 beyond).`,
    querystring: UploadBundleQuery,
    response: { 201: UploadedRepository },
  });
  app.post("/api/v1/bundles", { schema: uploadSchema }, async (request, reply) => {
    const query = parseRequest(UploadBundleQuery, request.query, "query");
    const body = request.body as Readable | undefined;
    if (!body || typeof (body as Readable).pipe !== "function") {
      throw new OmoiError("UnsupportedMediaType", `send the bundle as ${BUNDLE_TYPE}`, 415);
    }
    const declared = Number.parseInt(String(request.headers["content-length"] ?? ""), 10);
    try {
      uploads.take(request.ip);
      const uploaded = await context.uploads.receive(body, {
        declaredBytes: Number.isFinite(declared) ? declared : undefined,
        headBranch: query.branch,
      });
      reply.status(201);
      return uploaded;
    } catch (error) {
      // A client that writes its whole body before reading the answer would see a broken
      // pipe instead of this 413/429: read a bounded rest into nothing, else close.
      if (error instanceof OmoiError && (error.status === 413 || error.status === 429)) {
        const whole = await discardBody(request.raw, DISCARD_BYTES);
        if (!whole) reply.header("connection", "close");
      }
      throw error;
    }
  });

  const bundleSchema = routeSchema({
    summary: "A task's result as a git bundle (for `omoi checkout` on another machine)",
    description:
      "The bundle's one ref is named in the `x-omoi-ref` header, the task's branch in `x-omoi-branch`.",
    params: TaskParams,
    response: { 200: z.string().describe(`a git bundle (${BUNDLE_TYPE})`) },
  });
  app.get("/api/v1/tasks/:id/bundle", { schema: bundleSchema }, async (request, reply) => {
    const { id } = parseRequest(TaskParams, request.params, "task id");
    // Held until its reader closes: the sweep of leftovers never takes a file being served.
    const file = await context.outgoing.reserve();
    try {
      const { ref, branch } = await context.repos.bundle(id, file);
      const stream = createReadStream(file);
      stream.once("close", () => void context.outgoing.release(file).catch(() => undefined));
      return reply
        .header("content-type", BUNDLE_TYPE)
        .header("content-disposition", `attachment; filename="${id}.bundle"`)
        .header("x-omoi-ref", ref)
        .header("x-omoi-branch", branch)
        .send(stream);
    } catch (error) {
      await context.outgoing.release(file);
      throw error;
    }
  });

  const branchesSchema = routeSchema({
    summary: "A repository's branches and default branch (registered name, URL, path or upload)",
    querystring: BranchesQuery,
    response: { 200: BranchList },
  });
  app.get("/api/v1/branches", { schema: branchesSchema }, async (request) => {
    const query = parseRequest(BranchesQuery, request.query, "query");
    return context.repos.branches(query.repo);
  });
}
