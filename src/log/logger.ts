import pino, { type Logger } from "pino";
import { redactLoggedUrl } from "./redact-url.ts";

/** Where URLs appear in Omoi's and its libraries' log lines. */
const LOGGED_URL_PATHS = ["url", "path", "req.url", "request.url", "*.url", "*.path"];

export type { Logger };

/** Structured JSON logs to stderr, tagged with the service that wrote them. */
export function createLogger(
  service: string,
  level = process.env.OMOI_LOG_LEVEL ?? "info",
): Logger {
  return pino(
    {
      level,
      base: { service },
      // Every URL a log line may carry goes through the one redactor (`?token=` and the like).
      redact: { paths: LOGGED_URL_PATHS, censor: redactLoggedUrl },
    },
    pino.destination(2),
  );
}
