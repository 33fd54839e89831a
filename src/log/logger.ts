import pino, { type Logger } from "pino";

export type { Logger };

/** Structured JSON logs to stderr, tagged with the service that wrote them. */
export function createLogger(
  service: string,
  level = process.env.OMOI_LOG_LEVEL ?? "info",
): Logger {
  return pino({ level, base: { service } }, pino.destination(2));
}
