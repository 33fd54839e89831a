/** The logging the scripted model needs; a pino logger fits. */
export interface ModelLogger {
  debug(object: Record<string, unknown>, message?: string): void;
  info(object: Record<string, unknown>, message?: string): void;
  warn(object: Record<string, unknown>, message?: string): void;
  error(object: Record<string, unknown>, message?: string): void;
}

const ignore = (): void => undefined;

export const silentLogger: ModelLogger = {
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
};
