import type { BannerInfo } from "../../server/main.ts";
import { integerFlag, stringFlag } from "../args.ts";
import type { Command } from "../command.ts";
import { CliError } from "../errors.ts";
import type { Style } from "../style.ts";

export function formatBanner(banner: BannerInfo, style: Style): string {
  const row = (label: string, value: string) => `  ${style.dim(label.padEnd(8))} ${value}`;
  const model = banner.model.scripted
    ? style.yellow(
        "a scripted demo model is answering, not Claude — set ANTHROPIC_API_KEY to use Claude",
      )
    : `${banner.model.name ?? "default model"} via ${banner.model.baseUrl}`;
  return [
    "",
    `  ${style.bold("Omoi")} is running`,
    "",
    row("UI", style.cyan(banner.url)),
    ...banner.listening.slice(1).map((url) => row("", style.cyan(url))),
    row("store", `${banner.store} · ${banner.storeLocation}`),
    row("bus", banner.bus === "memory" ? "in-process" : "redis"),
    row("sandbox", banner.provider),
    row("model", model),
    ...banner.warnings.map((warning) => `\n  ${style.yellow(`warning: ${warning}`)}`),
    "",
    style.dim("  Ctrl-C to stop"),
    "",
  ].join("\n");
}

export const serveCommand: Command = {
  name: "serve",
  summary: "start the Omoi server: API, web UI, agents (what `npm start` runs)",
  usesServer: false,
  options: {
    port: { type: "string" },
    host: { type: "string" },
    "data-dir": { type: "string" },
  },
  help: `Usage: omoi serve [--port N] [--host ADDRESS] [--data-dir DIR]

Starts the Omoi server: the HTTP + WebSocket API, the web UI and the agents.
With no configuration it keeps everything in a SQLite file under ./data, fans out
events in-process and runs agents in local sandboxes.

Flags:
  --port N          port to listen on (env OMOI_PORT, default 18000)
  --host ADDRESS    address to bind (env OMOI_HOST, default 127.0.0.1)
  --data-dir DIR    where the store and workspaces live (env OMOI_DATA_DIR, default ./data)

Environment:
  DATABASE_URL        postgres://… to use Postgres instead of SQLite
  REDIS_URL           redis://… to fan out events through Redis
  ANTHROPIC_API_KEY   use Claude (without it a scripted demo model answers)
  ANTHROPIC_BASE_URL  an Anthropic-compatible endpoint; ANTHROPIC_MODEL picks the model
  OMOI_API_TOKEN      require this token on every API call and WebSocket
  OMOI_ALLOWED_HOSTS  extra host names the server answers to (it checks Host)
  OMOI_ALLOWED_ORIGINS  web origins allowed to call the API cross-site (none by default)
  OMOI_ALLOW_OPEN=1   listen beyond loopback without a token (refused otherwise)`,

  async run({ values, terminal, env, global }) {
    const overrides: NodeJS.ProcessEnv = {};
    const port = integerFlag(values, "port", { min: 0, max: 65535 });
    if (port !== undefined) overrides.OMOI_PORT = String(port);
    const host = stringFlag(values, "host");
    if (host !== undefined) overrides.OMOI_HOST = host;
    const dataDir = stringFlag(values, "data-dir");
    if (dataDir !== undefined) overrides.OMOI_DATA_DIR = dataDir;

    const server = await loadServer();
    let config: ReturnType<typeof server.loadConfig>;
    try {
      config = server.loadConfig({ ...env, ...overrides });
    } catch (error) {
      throw new CliError((error as Error).message, 2);
    }
    let running: Awaited<ReturnType<typeof server.startOmoi>>;
    try {
      running = await server.startOmoi(config);
    } catch (error) {
      throw describeStartError(error, port);
    }
    if (global.json) terminal.stdout(`${JSON.stringify(running.banner)}\n`);
    else terminal.stdout(`${formatBanner(running.banner, terminal.style)}\n`);

    return new Promise<number>((resolve) => {
      let closing = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (closing) {
          terminal.stderr("forced exit\n");
          resolve(signal === "SIGINT" ? 130 : 143);
          return;
        }
        closing = true;
        terminal.stderr("shutting down… (again to force)\n");
        running.close().then(
          () => resolve(0),
          (error: unknown) => {
            terminal.stderr(`shutdown failed: ${(error as Error).message}\n`);
            resolve(1);
          },
        );
      };
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
    });
  },
};

/** Loaded only when serving, so the other commands never load the server. */
async function loadServer() {
  const [config, main] = await Promise.all([
    import("../../server/config.ts"),
    import("../../server/main.ts"),
  ]);
  return { loadConfig: config.loadConfig, startOmoi: main.startOmoi };
}

function describeStartError(error: unknown, port: number | undefined): Error {
  const code = (error as { code?: string }).code;
  const message = (error as Error).message ?? String(error);
  if (code === "EADDRINUSE") {
    const which = port === undefined ? "the port" : `port ${port}`;
    return new CliError(
      `${which} is already in use — is another Omoi running? Pick another with --port or OMOI_PORT`,
      2,
    );
  }
  if (code === "EACCES") return new CliError(`not allowed to listen: ${message}`, 2);
  if ((error as Error).name === "ConfigError") return new CliError(message, 2);
  return error instanceof Error ? error : new Error(message);
}
