import { type ParseArgsConfig, parseArgs } from "node:util";
import { ENTITY_ID_RULE, isEntityId } from "../protocol/id-pattern.ts";
import { UsageError } from "./errors.ts";

export type OptionsConfig = NonNullable<ParseArgsConfig["options"]>;
export type FlagValues = Record<string, string | boolean | undefined>;

export interface ParsedArgs {
  values: FlagValues;
  positionals: string[];
}

/** Flags every command accepts, before or after the command name. */
export const GLOBAL_OPTIONS = {
  server: { type: "string" },
  token: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const satisfies OptionsConfig;

export const DEFAULT_SERVER_URL = "http://127.0.0.1:18000";

export interface GlobalOptions {
  server: string;
  token: string | undefined;
  json: boolean;
}

/**
 * Finds the command name: the first word that is neither a flag nor the value of a
 * global flag. Returns the command (if any) and every other argument in order.
 */
export function splitCommand(argv: readonly string[]): { command?: string; rest: string[] } {
  const valued = new Set(
    Object.entries(GLOBAL_OPTIONS)
      .filter(([, option]) => option.type === "string")
      .map(([name]) => `--${name}`),
  );
  for (let index = 0; index < argv.length; index++) {
    const word = argv[index]!;
    if (word === "--") break;
    if (valued.has(word)) {
      index++;
      continue;
    }
    if (word.startsWith("-")) continue;
    return { command: word, rest: [...argv.slice(0, index), ...argv.slice(index + 1)] };
  }
  return { rest: [...argv] };
}

/** Parses a command's arguments (global flags included); bad input becomes a UsageError. */
export function parseCommandArgs(
  command: string | undefined,
  argv: readonly string[],
  options: OptionsConfig,
): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { ...GLOBAL_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as FlagValues, positionals };
  } catch (error) {
    throw new UsageError(describeParseError(error), command);
  }
}

function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  const flag = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag) return `unknown flag ${flag}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && flag) {
    if (message.includes("argument missing")) return `${flag} needs a value`;
    // A value that starts with a dash reads as the next flag; `--flag=-value` says otherwise.
    if (message.includes("ambiguous")) {
      return `${flag} needs a value; to give one that starts with '-', write ${flag}=-…`;
    }
    return `${flag} does not take a value`;
  }
  return message;
}

export function resolveGlobalOptions(values: FlagValues, env: NodeJS.ProcessEnv): GlobalOptions {
  const server = stringFlag(values, "server") ?? env.OMOI_URL ?? localServerUrl(env);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new UsageError(`--server: '${server}' is not a URL (example: ${DEFAULT_SERVER_URL})`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`--server: '${server}' must start with http:// or https://`);
  }
  const token = stringFlag(values, "token") ?? (env.OMOI_API_TOKEN || undefined);
  return { server: server.replace(/\/+$/, ""), token, json: values.json === true };
}

/**
 * Where `omoi serve` in this shell listens: its OMOI_PORT and OMOI_HOST (a wildcard address
 * is reached on loopback), so a server started with `OMOI_PORT=18437 npm start` is found
 * from the same shell without also setting OMOI_URL.
 */
function localServerUrl(env: NodeJS.ProcessEnv): string {
  const port = env.OMOI_PORT?.trim();
  const host = env.OMOI_HOST?.trim();
  if (!port && !host) return DEFAULT_SERVER_URL;
  const validPort = port && /^\d{1,5}$/.test(port) && Number(port) > 0 && Number(port) <= 65535;
  const wildcard = !host || host === "0.0.0.0" || host === "::" || host === "[::]";
  const name = wildcard
    ? "127.0.0.1"
    : host.includes(":") && !host.startsWith("[")
      ? `[${host}]`
      : host;
  return `http://${name}:${validPort ? port : "18000"}`;
}

export function stringFlag(values: FlagValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

export function booleanFlag(values: FlagValues, name: string): boolean {
  return values[name] === true;
}

/** An integer flag within bounds, or undefined when absent. */
export function integerFlag(
  values: FlagValues,
  name: string,
  bounds: { min: number; max: number },
): number | undefined {
  const text = stringFlag(values, name);
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  if (text.trim() === "" || !Number.isInteger(value) || value < bounds.min || value > bounds.max) {
    throw new UsageError(
      `--${name} must be a whole number from ${bounds.min} to ${bounds.max}, got '${text}'`,
    );
  }
  return value;
}

/** A positive number flag (like a budget in USD), or undefined when absent. */
export function positiveNumberFlag(
  values: FlagValues,
  name: string,
  max: number,
): number | undefined {
  const text = stringFlag(values, name);
  if (text === undefined) return undefined;
  const value = Number(text.trim().replace(/^\$/, ""));
  if (text.trim() === "" || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new UsageError(`--${name} must be a number above 0 and at most ${max}, got '${text}'`);
  }
  return value;
}

/** A flag whose value must be one of `choices` (compared case-insensitively). */
export function choiceFlag<T extends string>(
  values: FlagValues,
  name: string,
  choices: readonly T[],
): T | undefined {
  const text = stringFlag(values, name);
  if (text === undefined) return undefined;
  const match = choices.find((choice) => choice.toLowerCase() === text.trim().toLowerCase());
  if (!match) throw new UsageError(`--${name} must be one of ${choices.join(", ")}; got '${text}'`);
  return match;
}

/** A comma list flag whose items must each be one of `choices`. */
export function choiceListFlag<T extends string>(
  values: FlagValues,
  name: string,
  choices: readonly T[],
): T[] | undefined {
  const text = stringFlag(values, name);
  if (text === undefined) return undefined;
  const items = text
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${name} needs a value`);
  return items.map((item) => {
    const match = choices.find((choice) => choice.toLowerCase() === item.toLowerCase());
    if (!match) {
      throw new UsageError(`--${name}: '${item}' is not one of ${choices.join(", ")}`);
    }
    return match;
  });
}

/** Checks an id's shape before it goes into a URL. */
export function entityIdArgument(value: string | undefined, what: string): string {
  if (value === undefined || value === "") throw new UsageError(`missing ${what}`);
  if (!isEntityId(value)) {
    throw new UsageError(`'${value}' is not a valid id: it ${ENTITY_ID_RULE}`);
  }
  return value;
}

export const isTaskId = (id: string): boolean => id.startsWith("task_");
