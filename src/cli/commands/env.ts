import { readFileSync } from "node:fs";
import {
  type CreateEnvironmentBody,
  type Environment,
  MAX_WARM_POOL,
  type McpServer,
  NetworkLevel,
  type NetworkPolicy,
  type PatchEnvironmentBody,
} from "../../protocol/environment.ts";
import { safeJsonParse } from "../../protocol/json.ts";
import { choiceFlag, integerFlag, stringFlag } from "../args.ts";
import type { Command, CommandContext } from "../command.ts";
import { UsageError } from "../errors.ts";
import { formatAge, formatTable } from "../format.ts";

const SUBCOMMANDS = ["list", "show", "create", "edit", "delete", "rebuild"] as const;

export const envCommand: Command = {
  name: "env",
  summary: "list, show, create, edit, delete environments; rebuild their setup snapshots",
  usesServer: true,
  options: {
    description: { type: "string" },
    script: { type: "string" },
    "no-script": { type: "boolean" },
    "setup-network": { type: "string" },
    "setup-host": { type: "string", multiple: true },
    "agent-network": { type: "string" },
    "agent-host": { type: "string", multiple: true },
    var: { type: "string", multiple: true },
    secret: { type: "string", multiple: true },
    "setup-secret": { type: "string", multiple: true },
    unset: { type: "string", multiple: true },
    model: { type: "string" },
    "mcp-servers": { type: "string" },
    "no-mcp-servers": { type: "boolean" },
    "warm-pool": { type: "string" },
  },
  help: `Usage: omoi env [list]
       omoi env show NAME
       omoi env create NAME [flags]
       omoi env edit NAME [flags]
       omoi env delete NAME
       omoi env rebuild NAME

With no subcommand it lists the environments, as 'omoi env list' does.

An environment prepares a task's sandbox: a setup script run before the agent, the
network each phase may reach, variables and secrets. Run a task in one with
omoi run --env NAME "…". Secrets are write-only: they are never shown again.
'rebuild' makes the next task run the setup script again instead of restoring the
snapshot of an earlier run (and keep a new one).

Flags (create and edit):
  --description TEXT        what the environment is for
  --script FILE             the setup script (bash), read from FILE ('-' for stdin)
  --no-script               (edit) remove the setup script
  --setup-network LEVEL     none, trusted, custom or full (default trusted)
  --setup-host HOST         a host setup may reach (repeat; sets --setup-network custom)
  --agent-network LEVEL     none, trusted, custom or full (default none)
  --agent-host HOST         a host the agent may reach (repeat; sets --agent-network custom)
  --var NAME=VALUE          a variable (repeat)
  --secret NAME[=VALUE]     a secret for setup and agent (repeat); without =VALUE the value
                            is read from your own environment variable NAME, so it stays
                            out of your shell history
  --setup-secret NAME[=VALUE]  a secret for the setup script only
  --unset NAME              (edit) remove a variable or secret (repeat); a name that is
                            neither is an error and nothing is changed
  --model NAME              the model the agent uses
  --mcp-servers FILE        MCP servers the agent may use: a JSON object by name, e.g.
                            {"docs": {"type": "stdio", "command": "docs-mcp",
                            "env": {"TOKEN": "\${DOCS_TOKEN}"}},
                            "hosted": {"type": "http", "url": "https://mcp.example.com/mcp",
                            "headers": {"Authorization": "Bearer \${MCP_TOKEN}"}}}
                            ('-' for stdin); replaces the environment's servers. \${NAME}
                            names a variable or --secret, filled in when the agent starts
  --no-mcp-servers          (edit) remove every MCP server
  --warm-pool N             keep N sandboxes (0-${MAX_WARM_POOL}) set up and started, so a task
                            in this environment starts at once (0: none)

Hosts: example.com, *.example.com, host:port.`,

  async run(context) {
    // Like \`omoi repos\` (and \`git remote\`): no subcommand lists.
    const [subcommand = "list", name, extra] = context.positionals;
    if (!SUBCOMMANDS.includes(subcommand as (typeof SUBCOMMANDS)[number])) {
      throw new UsageError(`unknown subcommand '${subcommand}': use ${SUBCOMMANDS.join(", ")}`);
    }
    if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
    if (subcommand === "list") {
      if (name !== undefined) throw new UsageError(`unexpected argument '${name}'`);
      return listEnvironments(context);
    }
    if (!name) throw new UsageError(`missing environment name: omoi env ${subcommand} NAME`);
    const omoi = context.client();
    let environment: Environment;
    if (subcommand === "show") environment = await omoi.getEnvironment(name);
    else if (subcommand === "delete") environment = await omoi.deleteEnvironment(name);
    else if (subcommand === "rebuild") environment = await omoi.rebuildSnapshots(name);
    else if (subcommand === "create") {
      environment = await omoi.createEnvironment({ name, ...fields(context, "create") });
    } else {
      const patch = fields(context, "edit");
      if (Object.keys(patch).length === 0) throw new UsageError("nothing to change: give a flag");
      environment = await omoi.updateEnvironment(name, patch);
    }
    if (context.global.json) context.terminal.stdout(`${JSON.stringify(environment)}\n`);
    else if (subcommand === "delete") context.terminal.stdout(`environment ${name} deleted\n`);
    else if (subcommand === "rebuild") {
      context.terminal.stdout(
        `environment ${name}: the next task runs its setup script again and keeps a new snapshot\n`,
      );
    } else if (subcommand === "show") {
      // Which registered repositories run their tasks in it by default.
      const { repositories } = await omoi.listRepositories().catch(() => ({ repositories: [] }));
      const defaultOf = repositories
        .filter((repository) => repository.environment_id === environment.id)
        .map((repository) => repository.name);
      context.terminal.stdout(
        `${describe(environment)}  default of:     ${defaultOf.join(", ") || "-"}\n`,
      );
    } else context.terminal.stdout(describe(environment));
    return 0;
  },
};

async function listEnvironments({ global, terminal, client }: CommandContext): Promise<number> {
  const { environments } = await client().listEnvironments();
  if (global.json) {
    terminal.stdout(`${JSON.stringify({ environments })}\n`);
    return 0;
  }
  if (environments.length === 0) {
    terminal.stdout("no environments yet — create one: omoi env create NAME --script setup.sh\n");
    return 0;
  }
  const now = Date.now();
  const rows = environments.map((environment) => [
    environment.name,
    network(environment.network.setup),
    network(environment.network.agent),
    environment.setup_script ? "yes" : "-",
    String(environment.secrets.length),
    // As the web app's list: the pool's size when there is one.
    environment.warm_pool > 0 ? String(environment.warm_pool) : "-",
    formatAge(environment.updated_at, now),
  ]);
  const header = ["NAME", "SETUP NET", "AGENT NET", "SCRIPT", "SECRETS", "WARM POOL", "UPDATED"];
  terminal.stdout(`${formatTable(header, rows)}\n`);
  return 0;
}

const network = (policy: NetworkPolicy) =>
  policy.level === "custom" ? `custom (${policy.hosts?.length ?? 0})` : policy.level;

function describe(environment: Environment): string {
  const lines = [
    `${environment.name} (${environment.id})`,
    ...(environment.description ? [`  ${environment.description}`] : []),
    `  setup network:  ${policyText(environment.network.setup)}`,
    `  agent network:  ${policyText(environment.network.agent)}`,
    `  model:          ${environment.model ?? "(server default)"}${environment.model_credentials ? `, own credentials (${environment.model_credentials.kind} ${environment.model_credentials.hint})` : ""}`,
    `  warm pool:      ${environment.warm_pool > 0 ? `${environment.warm_pool} started sandboxes` : "-"}`,
    `  variables:      ${Object.keys(environment.variables).join(", ") || "-"}`,
    `  secrets:        ${environment.secrets.map((secret) => `${secret.name} ${secret.hint}${secret.setup_only ? " (setup only)" : ""}`).join(", ") || "-"}`,
    `  mcp servers:    ${
      Object.entries(environment.mcp_servers)
        .map(([server, config]) => `${server} (${serverText(config)})`)
        .join(", ") || "-"
    }`,
    `  snapshots:      ${environment.snapshots_reset_at ? `rebuilt on request ${new Date(environment.snapshots_reset_at).toISOString()}` : "kept from the last setup"}`,
    `  setup script:   ${environment.setup_script ? "" : "-"}`,
    ...(environment.setup_script
      ? environment.setup_script
          .trimEnd()
          .split("\n")
          .map((line) => `    ${line}`)
      : []),
  ];
  return `${lines.join("\n")}\n`;
}

/** A server in one line: its command or URL, and the names of its headers (values may be secret). */
function serverText(server: McpServer): string {
  if (server.type === "stdio") return server.command;
  const headers = Object.keys(server.headers ?? {});
  return headers.length > 0 ? `${server.url}; headers ${headers.join(", ")}` : server.url;
}

const policyText = (policy: NetworkPolicy) =>
  policy.level === "custom" ? `custom: ${policy.hosts?.join(", ")}` : policy.level;

/** The body fields the flags set; for `edit`, only what was given. */
function fields(
  { values, env }: CommandContext,
  mode: "create" | "edit",
): Omit<CreateEnvironmentBody, "name"> & PatchEnvironmentBody {
  const body: Record<string, unknown> = {};
  const description = stringFlag(values, "description");
  if (description !== undefined) body.description = description;
  const script = stringFlag(values, "script");
  if (script !== undefined) body.setup_script = readScript(script);
  if (values["no-script"] === true) {
    if (mode === "create") throw new UsageError("--no-script is for edit");
    if (script !== undefined) throw new UsageError("--script and --no-script together");
    body.setup_script = null;
  }
  const setup = policy(values, "setup");
  const agent = policy(values, "agent");
  if (setup || agent) body.network = { ...(setup ? { setup } : {}), ...(agent ? { agent } : {}) };
  const model = stringFlag(values, "model");
  if (model !== undefined) body.model = model;
  const mcpServers = stringFlag(values, "mcp-servers");
  if (mcpServers !== undefined) body.mcp_servers = readJson(mcpServers, "--mcp-servers");
  if (values["no-mcp-servers"] === true) {
    if (mode === "create") throw new UsageError("--no-mcp-servers is for edit");
    if (mcpServers !== undefined)
      throw new UsageError("--mcp-servers and --no-mcp-servers together");
    body.mcp_servers = null;
  }
  const warmPool = integerFlag(values, "warm-pool", { min: 0, max: MAX_WARM_POOL });
  if (warmPool !== undefined) body.warm_pool = warmPool;

  const variables: Record<string, string | null> = {};
  for (const pair of list(values.var)) {
    const [name, value] = split(pair, "--var");
    if (value === undefined) throw new UsageError(`--var ${name} needs =VALUE`);
    variables[name] = value;
  }
  const secrets: Record<string, { value: string; setup_only: boolean } | null> = {};
  for (const [flag, setupOnly] of [
    ["secret", false],
    ["setup-secret", true],
  ] as const) {
    for (const pair of list(values[flag])) {
      const [name, given] = split(pair, `--${flag}`);
      const value = given ?? env[name];
      if (value === undefined) {
        throw new UsageError(
          `--${flag} ${name}: give NAME=VALUE, or set ${name} in your environment`,
        );
      }
      secrets[name] = { value, setup_only: setupOnly };
    }
  }
  const unset = list(values.unset);
  if (unset.length > 0 && mode === "create") throw new UsageError("--unset is for edit");
  for (const name of unset) {
    // The server knows which it is, and refuses the whole edit for a name that is neither.
    variables[name] = null;
    secrets[name] = null;
  }
  if (Object.keys(variables).length > 0) body.variables = variables;
  if (Object.keys(secrets).length > 0) body.secrets = secrets;
  return body as Omit<CreateEnvironmentBody, "name"> & PatchEnvironmentBody;
}

function policy(
  values: CommandContext["values"],
  phase: "setup" | "agent",
): NetworkPolicy | undefined {
  const level = choiceFlag(values, `${phase}-network`, NetworkLevel.options);
  const hosts = list(values[`${phase}-host`]);
  if (hosts.length > 0) {
    if (level !== undefined && level !== "custom") {
      throw new UsageError(`--${phase}-host needs --${phase}-network custom (or no level)`);
    }
    return { level: "custom", hosts };
  }
  if (level === "custom") throw new UsageError(`--${phase}-network custom needs --${phase}-host`);
  return level ? { level } : undefined;
}

function list(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  return typeof value === "string" ? [value] : [];
}

function split(pair: string, flag: string): [string, string | undefined] {
  const at = pair.indexOf("=");
  const name = at === -1 ? pair : pair.slice(0, at);
  if (!name) throw new UsageError(`${flag} needs NAME or NAME=VALUE; got '${pair}'`);
  return [name, at === -1 ? undefined : pair.slice(at + 1)];
}

function readScript(file: string, flag = "--script"): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EACCES"
          ? "you may not read it"
          : code === "EISDIR"
            ? "it is a folder, not a file"
            : (error as Error).message;
    throw new UsageError(`${flag} ${file}: cannot read it: ${why}`);
  }
}

/** A JSON file the server validates (this only says when it is not JSON at all). */
function readJson(file: string, flag: string): unknown {
  const text = readScript(file, flag);
  const parsed = safeJsonParse(text);
  if (!parsed.ok) throw new UsageError(`${flag} ${file}: not JSON (${parsed.error})`);
  return parsed.value;
}
