/**
 * Errors the CLI expects. Each carries the exit code and a message that says what to do
 * next; main prints the message alone, never a stack trace.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** A bad flag, a missing argument or a bad value. Exit code 2. */
export class UsageError extends CliError {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message, 2);
    this.name = "UsageError";
  }
}

/** Nothing answers at the server URL. Exit code 2. */
export class ServerUnreachableError extends CliError {
  constructor(readonly serverUrl: string) {
    super(`no Omoi server at ${serverUrl} — start one with \`npm start\` or \`omoi serve\``, 2);
    this.name = "ServerUnreachableError";
  }
}

/** The server answered with a 4xx/5xx `{error: {name, message}}`. Exit code 1. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly errorName: string,
    message: string,
  ) {
    super(message, 1);
    this.name = "ApiError";
  }
}
