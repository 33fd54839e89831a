import type { FlagValues, GlobalOptions, OptionsConfig } from "./args.ts";
import type { OmoiClient } from "./client.ts";
import type { Terminal } from "./terminal.ts";

export interface CommandContext {
  values: FlagValues;
  positionals: string[];
  global: GlobalOptions;
  terminal: Terminal;
  env: NodeJS.ProcessEnv;
  client(): OmoiClient;
}

/** One `omoi <name>` command: its flags, its help, and what it does. Returns the exit code. */
export interface Command {
  name: string;
  /** One line for `omoi --help`. */
  summary: string;
  /** `omoi <name> --help`, without the global flags (main appends those). */
  help: string;
  options: OptionsConfig;
  /** Needs the server URL/token (all but `serve`). */
  usesServer: boolean;
  run(context: CommandContext): Promise<number>;
}

export const GLOBAL_HELP = `Global flags:
  --server URL   Omoi server (env OMOI_URL; default http://127.0.0.1:18000, or
                 OMOI_HOST:OMOI_PORT when set, where omoi serve listens)
  --token TOKEN  API token, sent as Authorization: Bearer (env OMOI_API_TOKEN)
  --json         machine-readable output
  -h, --help     show help
  -v, --version  show the version`;
