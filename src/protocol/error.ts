import { z } from "zod";

/** Every error name Omoi puts on the wire, so clients can tell them apart by constant. */
export const ErrorName = {
  BadRequest: "BadRequest",
  Unauthorized: "Unauthorized",
  Forbidden: "Forbidden",
  HostNotAllowed: "HostNotAllowed",
  CrossSiteRefused: "CrossSiteRefused",
  NotFound: "NotFound",
  Conflict: "Conflict",
  SandboxEnded: "SandboxEnded",
  PayloadTooLarge: "PayloadTooLarge",
  UnsupportedMediaType: "UnsupportedMediaType",
  QueueFull: "QueueFull",
  RateLimited: "RateLimited",
  TooManySandboxes: "TooManySandboxes",
  RepositoryError: "RepositoryError",
} as const;
export type ErrorName = (typeof ErrorName)[keyof typeof ErrorName];

/**
 * Typed, serializable errors: `{ error: { name, message, data? } }` on the wire.
 * The server's one error handler maps `status` to HTTP. `cause` keeps the error underneath
 * for logs; it never reaches the wire.
 */
export class OmoiError extends Error {
  constructor(
    override readonly name: ErrorName,
    message: string,
    readonly status: number,
    readonly data?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  toJSON() {
    return {
      error: { name: this.name, message: this.message, ...(this.data ? { data: this.data } : {}) },
    };
  }
}

export const badRequest = (message: string, data?: Record<string, unknown>) =>
  new OmoiError("BadRequest", message, 400, data);
export const notFound = (what: string, id: string) =>
  new OmoiError("NotFound", `${what} '${id}' not found`, 404, { id });
export const conflict = (message: string, data?: Record<string, unknown>) =>
  new OmoiError("Conflict", message, 409, data);
/**
 * A worker token of a sandbox that has ended: a 409 like any write into an ended sandbox;
 * the worker stops on it (its transports do).
 */
export const sandboxEnded = (id: string, status: string) =>
  new OmoiError(
    "SandboxEnded",
    `sandbox '${id}' has ended (${status}); its worker token is no longer accepted`,
    409,
    { id, status },
  );
export const unauthorized = (
  message = "missing or invalid token: send 'Authorization: Bearer <OMOI_API_TOKEN>'",
) => new OmoiError("Unauthorized", message, 401);

/** An error as a socket frame carries it. */
export const FrameError = z.object({ name: z.string(), message: z.string() });

/** The error body shape clients can expect from every 4xx/5xx response. */
export const ErrorBody = z.object({
  error: FrameError.extend({ data: z.record(z.string(), z.unknown()).optional() }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;
