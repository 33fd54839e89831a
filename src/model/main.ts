/**
 * Runs the scripted model standalone:
 *   node --import tsx src/model/main.ts --port 18100 [--scenario demo] [--scenarios-dir DIR]
 *     [--first-token-ms 400] [--tokens-per-second 60] [--fail 529|500|drop] [--log-level debug]
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import type { Failure } from "./scenario.ts";
import { startScriptedModel } from "./server.ts";

const usage = `usage: node --import tsx src/model/main.ts [options]
  --port N               port to listen on (default 18100; 0 = any free port)
  --host HOST            address to bind (default 127.0.0.1)
  --scenario NAME        default scenario (default demo)
  --scenarios-dir DIR    folder of <name>.json scenarios (default: scenarios/ in the project)
  --first-token-ms N     delay before the first token (default 0)
  --tokens-per-second N  streaming speed, 0 = unthrottled (default 0)
  --fail STATUS|drop     make every /v1/messages request fail with STATUS (400-599) or a dropped connection
  --log-level LEVEL      pino level (default info)
  --help                 show this help`;

function fail(message: string): never {
  process.stderr.write(`scripted model: ${message}\n\n${usage}\n`);
  process.exit(2);
}

function number(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || parsed > max) {
    fail(`--${name} must be a number from 0 to ${max}, got '${value}'`);
  }
  return parsed;
}

function failure(value: string | undefined): Partial<Failure> | undefined {
  if (value === undefined) return undefined;
  if (value === "drop") return { drop: true };
  const status = Number(value);
  if (!/^\d{3}$/.test(value) || status < 400 || status > 599) {
    fail(`--fail must be an HTTP status from 400 to 599 or 'drop', got '${value}'`);
  }
  return { status };
}

function parse() {
  try {
    return parseArgs({
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        scenario: { type: "string" },
        "scenarios-dir": { type: "string" },
        "first-token-ms": { type: "string" },
        "tokens-per-second": { type: "string" },
        fail: { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean" },
      },
    }).values;
  } catch (error) {
    return fail((error as Error).message);
  }
}

async function main(): Promise<void> {
  const args = parse();
  if (args.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const logger = pino({ name: "scripted-model", level: args["log-level"] ?? "info" });
  const model = await startScriptedModel({
    port: number("port", args.port, 18100, 65535),
    host: args.host,
    defaultScenario: args.scenario,
    scenariosDir: args["scenarios-dir"],
    pace: {
      firstTokenMs: number("first-token-ms", args["first-token-ms"], 0, 600_000),
      tokensPerSecond: number("tokens-per-second", args["tokens-per-second"], 0, 1_000_000),
    },
    failure: failure(args.fail),
    logger,
  }).catch((error: unknown) => fail((error as Error).message.replace(/^scripted model: /, "")));
  process.stdout.write(`scripted model (not a real model) listening on ${model.url}\n`);
  const stop = (): void => {
    model.close().then(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

await main();
