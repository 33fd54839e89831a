import pino, { type Logger } from "pino";

/** Called when a subscriber throws or the transport fails; the bus itself keeps going. */
export type BusErrorHandler = (error: unknown, context: string) => void;

let logger: Logger | undefined;

/** The default: a structured warning on stderr, tagged `service: "bus"`. */
export const logBusError: BusErrorHandler = (error, context) => {
  logger ??= pino(
    { level: process.env.OMOI_LOG_LEVEL ?? "info", base: { service: "bus" } },
    pino.destination(2),
  );
  logger.warn({ err: error }, context);
};
