import { pino } from "pino";

/** Structured logs to stderr: stdout is left free, and the provider captures stderr per sandbox. */
export const log = pino(
  { base: { service: "worker" }, level: process.env.OMOI_LOG_LEVEL ?? "info" },
  pino.destination({ fd: 2, sync: true }),
);

export type Logger = typeof log;
