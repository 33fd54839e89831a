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

/** One error handler: typed errors to their status, Fastify's own 4xx kept, the rest 500. */
export function installErrorHandler(app: FastifyInstance, bodyLimitBytes: number) {
  app.setErrorHandler((error: FastifyError | OmoiError, request, reply) => {
    if (error instanceof OmoiError) {
      return reply.status(error.status).send(error.toJSON());
    }
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      return reply.status(413).send({
        error: {
          name: "PayloadTooLarge",
          message: `request body is larger than the limit of ${bodyLimitBytes} bytes`,
          data: { limit_bytes: bodyLimitBytes },
        },
      });
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
