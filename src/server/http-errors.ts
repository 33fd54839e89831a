import type { IncomingMessage } from "node:http";
import type { FastifyError, FastifyInstance } from "fastify";
import type { z } from "zod";
import { badRequest, OmoiError } from "../protocol/error.ts";
import { formatIssues } from "../protocol/json.ts";

/** Validates a request part with a zod schema; a failure is a 400 naming the field. */
export function parseRequest<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw badRequest(`invalid ${what}: ${formatIssues(result.error.issues)}`);
  return result.data;
}

/**
 * An oversized body is read and thrown away up to this many times the limit before the 413
 * is sent: clients that write the whole body before reading (Python's urllib and httpx, the
 * prototype's worker) would otherwise see a broken pipe instead of the answer.
 */
const DISCARD_FACTOR = 10;

/** Reads the rest of a body into nothing; false when it is larger than `bound` or breaks off. */
export function discardBody(raw: IncomingMessage, bound: number): Promise<boolean> {
  if (raw.complete) return Promise.resolve(true);
  if (Number(raw.headers["content-length"]) > bound) return Promise.resolve(false);
  return new Promise((resolve) => {
    let received = 0;
    const finish = (whole: boolean) => {
      raw.off("data", onData).off("end", onEnd).off("error", onError).off("close", onError);
      if (!whole) raw.pause();
      resolve(whole);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > bound) finish(false);
    };
    const onEnd = () => finish(true);
    const onError = () => finish(false);
    raw.on("data", onData).on("end", onEnd).on("error", onError).on("close", onError);
    raw.resume();
  });
}

/** One error handler: typed errors to their status, Fastify's own 4xx kept, the rest 500. */
export function installErrorHandler(app: FastifyInstance, bodyLimitBytes: number) {
  app.setErrorHandler((error: FastifyError | OmoiError, request, reply) => {
    if (error instanceof OmoiError) {
      // A 429 or 503 that knows when to come back says so the standard way too.
      const retryAfter = error.data?.retry_after_s;
      if (typeof retryAfter === "number") reply.header("retry-after", String(retryAfter));
      return reply.status(error.status).send(error.toJSON());
    }
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      const answer = () =>
        reply.status(413).send({
          error: {
            name: "PayloadTooLarge",
            message: `request body is larger than the limit of ${bodyLimitBytes} bytes`,
            data: { limit_bytes: bodyLimitBytes },
          },
        });
      void discardBody(request.raw, bodyLimitBytes * DISCARD_FACTOR).then((whole) => {
        if (!whole) reply.header("connection", "close");
        answer();
      });
      return reply;
    }
    const status = error.statusCode ?? 500;
    if (status < 500) {
      return reply
        .status(status)
        .send({ error: { name: error.code ?? "BadRequest", message: error.message } });
    }
    request.log.error({ err: error }, "request failed");
    return reply
      .status(500)
      .send({ error: { name: "InternalError", message: "internal error; see the server log" } });
  });
}
