import { readFileSync } from "node:fs";
import { safeJsonParse } from "../protocol/json.ts";
import { parseCommandArgs, resolveGlobalOptions, splitCommand } from "./args.ts";
import { OmoiClient } from "./client.ts";
import { type Command, GLOBAL_HELP } from "./command.ts";
import { envCommand } from "./commands/env.ts";
import { modeCommand } from "./commands/mode.ts";
import { checkoutCommand, diffCommand, prCommand } from "./commands/repo.ts";
import { reposCommand } from "./commands/repos.ts";
import { runCommand } from "./commands/run.ts";
import { sandboxesCommand } from "./commands/sandboxes.ts";
import { sendCommand } from "./commands/send.ts";
import { serveCommand } from "./commands/serve.ts";
import { stopCommand } from "./commands/stop.ts";
import { taskCommand } from "./commands/task.ts";
import { tasksCommand } from "./commands/tasks.ts";
import { watchCommand } from "./commands/watch.ts";
import { CliError, UsageError } from "./errors.ts";
import { processTerminal, type Terminal } from "./terminal.ts";

const COMMANDS: readonly Command[] = [
  serveCommand,
  runCommand,
  tasksCommand,
  taskCommand,
  watchCommand,
  sendCommand,
  modeCommand,
  stopCommand,
  sandboxesCommand,
  diffCommand,
  prCommand,
  checkoutCommand,
  envCommand,
  reposCommand,
];

function version(): string {
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
  const parsed = safeJsonParse(text);
  const value = parsed.ok ? (parsed.value as { version?: unknown }).version : undefined;
  return typeof value === "string" ? value : "unknown";
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  const lines = COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return `omoi — run AI coding agents in sandboxes, watch them live, steer them

Usage: omoi <command> [flags]

Commands:
${lines.join("\n")}

${GLOBAL_HELP}

Run \`omoi <command> --help\` for a command's flags.`;
}

function commandHelp(command: Command): string {
  return `${command.help}\n\n${GLOBAL_HELP}`;
}

/** Runs the CLI and returns its exit code. */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  terminal: Terminal,
): Promise<number> {
  const { command: name, rest } = splitCommand(argv);
  if (name === undefined || name === "help") {
    const values = parseCommandArgs(undefined, name === "help" ? rest.slice(1) : rest, {}).values;
    const topic =
      name === "help" ? COMMANDS.find((command) => command.name === rest[0]) : undefined;
    if (name === "help" && rest[0] !== undefined && !topic) {
      throw new UsageError(`unknown command '${rest[0]}'`);
    }
    if (values.version && !topic) {
      terminal.stdout(`${version()}\n`);
      return 0;
    }
    terminal.stdout(`${topic ? commandHelp(topic) : mainHelp()}\n`);
    return 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) {
    const near = COMMANDS.find((candidate) => candidate.name.startsWith(name.slice(0, 3)));
    throw new UsageError(
      `unknown command '${name}'${near ? ` — did you mean '${near.name}'?` : ""}`,
    );
  }
  const { values, positionals } = parseCommandArgs(command.name, rest, command.options);
  if (values.help) {
    terminal.stdout(`${commandHelp(command)}\n`);
    return 0;
  }
  if (values.version) {
    terminal.stdout(`${version()}\n`);
    return 0;
  }
  let client: OmoiClient | undefined;
  try {
    const global = resolveGlobalOptions(values, env);
    return await command.run({
      values,
      positionals,
      global,
      terminal,
      env,
      client: () => {
        client ??= new OmoiClient(global.server, global.token);
        return client;
      },
    });
  } catch (error) {
    if (error instanceof UsageError && !error.command) {
      throw new UsageError(error.message, command.name);
    }
    throw error;
  }
}

function report(error: unknown, terminal: Terminal, env: NodeJS.ProcessEnv): number {
  const { red, dim } = terminal.errorStyle;
  if (error instanceof UsageError) {
    const where = error.command ? `omoi ${error.command}` : "omoi";
    terminal.stderr(`${red(`${where}: ${error.message}`)}\n${dim(`see: ${where} --help`)}\n`);
    return error.exitCode;
  }
  if (error instanceof CliError) {
    terminal.stderr(`${red(`omoi: ${error.message}`)}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  terminal.stderr(`${red(`omoi: unexpected error: ${message}`)}\n`);
  if (env.OMOI_DEBUG && error instanceof Error && error.stack) terminal.stderr(`${error.stack}\n`);
  else terminal.stderr(`${dim("set OMOI_DEBUG=1 for details")}\n`);
  return 1;
}

const terminal = processTerminal();
const code = await main(process.argv.slice(2), process.env, terminal).catch((error: unknown) =>
  report(error, terminal, process.env),
);
process.exit(code);
