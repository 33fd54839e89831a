import { readFileSync } from "node:fs";
import type { PatchRepositoryBody } from "../../protocol/repo.ts";
import { stringFlag } from "../args.ts";
import type { Command, CommandContext } from "../command.ts";
import { UsageError } from "../errors.ts";
import { formatAge, formatTable } from "../format.ts";

export const reposCommand: Command = {
  name: "repos",
  summary: "list registered repositories; edit one; set the environment their tasks run in",
  usesServer: true,
  options: {
    "token-stdin": { type: "boolean" },
    "token-env": { type: "string" },
    username: { type: "string" },
    "password-stdin": { type: "boolean" },
    "password-env": { type: "string" },
    "no-credential": { type: "boolean" },
    url: { type: "string" },
    name: { type: "string" },
  },
  help: `Usage: omoi repos [list]
       omoi repos edit NAME [--token-stdin | --token-env VAR] [--username USER]
                            [--password-stdin | --password-env VAR] [--url URL] [--name NEW]
       omoi repos edit NAME --no-credential [--url URL] [--name NEW]
       omoi repos env NAME ENVIRONMENT
       omoi repos env NAME none

edit changes a registered repository in place (its tasks and default environment stay).
A new credential or URL is tried against the remote first; when the remote refuses it,
nothing changes. Secrets are never taken as arguments (they would sit in your shell
history): they are read from stdin or from an environment variable you name.
  --token-stdin           the new access token, read from stdin
  --token-env VAR         the new access token, read from environment variable VAR
  --username USER         the user for a token, or with a password (basic credential)
  --password-stdin        the new password, read from stdin (needs --username)
  --password-env VAR      the new password, read from environment variable VAR
  --no-credential         remove the stored credential (a public repository); the remote is
                          tried without one first, and when it refuses, nothing changes
  --url URL               a new URL (a new URL means a new mirror, fetched afresh)
  --name NEW              a new name (tasks made before keep working)

A registered repository may name a default environment: a task on it that names none
(omoi run --repo NAME without --env) runs in that one. 'none' clears it. An environment
that is some repository's default cannot be deleted until it is changed.`,

  async run(context) {
    const [subcommand = "list", name, environment, extra] = context.positionals;
    if (subcommand === "list") {
      if (name !== undefined) throw new UsageError(`unexpected argument '${name}'`);
      return listRepositories(context);
    }
    if (subcommand === "edit") return editRepository(context);
    if (subcommand !== "env") {
      throw new UsageError(`unknown subcommand '${subcommand}': use list, edit or env`);
    }
    if (!name || !environment) {
      throw new UsageError("missing arguments: omoi repos env NAME ENVIRONMENT|none");
    }
    if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
    const omoi = context.client();
    const repository = await omoi.setRepositoryEnvironment(
      name,
      environment === "none" ? null : environment,
    );
    if (context.global.json) {
      context.terminal.stdout(`${JSON.stringify(repository)}\n`);
      return 0;
    }
    context.terminal.stdout(
      environment === "none"
        ? `tasks on ${repository.name} run in no environment unless they name one\n`
        : `tasks on ${repository.name} run in ${environment} unless they name another\n`,
    );
    return 0;
  },
};

async function editRepository(context: CommandContext): Promise<number> {
  const [, name, extra] = context.positionals;
  if (!name) throw new UsageError("missing argument: omoi repos edit NAME [flags]");
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const body: PatchRepositoryBody = {};
  const url = stringFlag(context.values, "url");
  if (url !== undefined) body.url = url;
  const newName = stringFlag(context.values, "name");
  if (newName !== undefined) body.name = newName;
  const credential = credentialFlags(context);
  if (credential !== undefined) body.credential = credential;
  if (Object.keys(body).length === 0) {
    throw new UsageError("nothing to change: give a credential, --no-credential, --url or --name");
  }
  const repository = await context.client().updateRepository(name, body);
  if (context.global.json) {
    context.terminal.stdout(`${JSON.stringify(repository)}\n`);
    return 0;
  }
  const changed = [
    credential === null && "credential removed",
    credential && `credential ${repository.credential_hint ?? repository.credential_kind}`,
    url !== undefined && `url ${repository.url}`,
    newName !== undefined && `name ${repository.name}`,
  ].filter(Boolean);
  context.terminal.stdout(`${repository.name}: ${changed.join(", ")}\n`);
  return 0;
}

/**
 * The new credential from the flags, its secret from stdin or a named variable only; null
 * for --no-credential.
 */
function credentialFlags({ values, env }: CommandContext): PatchRepositoryBody["credential"] {
  if (values["no-credential"] === true) {
    const given = ["token-stdin", "token-env", "username", "password-stdin", "password-env"].filter(
      (flag) => values[flag] !== undefined,
    );
    if (given.length > 0) {
      throw new UsageError(
        `--no-credential removes the credential: it cannot go with --${given.join(", --")}`,
      );
    }
    return null;
  }
  const username = stringFlag(values, "username");
  const wantsPassword = values["password-stdin"] === true || values["password-env"] !== undefined;
  if (wantsPassword && !username) throw new UsageError("a password needs --username");
  const token = secretFlag(values, env, "token");
  const password = secretFlag(values, env, "password");
  if (token !== undefined && password !== undefined) {
    throw new UsageError("give a token or a password, not both");
  }
  if (token !== undefined) return { kind: "token", token, ...(username ? { username } : {}) };
  if (password !== undefined && username) return { kind: "basic", username, password };
  if (username !== undefined) {
    throw new UsageError("--username goes with a new --token-… or --password-…");
  }
  return undefined;
}

function secretFlag(
  values: CommandContext["values"],
  env: NodeJS.ProcessEnv,
  kind: "token" | "password",
): string | undefined {
  const fromStdin = values[`${kind}-stdin`] === true;
  const variable = stringFlag(values, `${kind}-env`);
  if (fromStdin && variable !== undefined) {
    throw new UsageError(`give --${kind}-stdin or --${kind}-env, not both`);
  }
  let secret: string | undefined;
  if (fromStdin) secret = readFileSync(0, "utf8").replace(/\r?\n$/, "");
  else if (variable !== undefined) {
    secret = env[variable];
    if (secret === undefined) throw new UsageError(`--${kind}-env: ${variable} is not set`);
  }
  if (secret === "") throw new UsageError(`the ${kind} is empty`);
  return secret;
}

async function listRepositories({ global, terminal, client }: CommandContext): Promise<number> {
  const omoi = client();
  const [{ repositories }, { environments }] = await Promise.all([
    omoi.listRepositories(),
    omoi.listEnvironments(),
  ]);
  if (global.json) {
    terminal.stdout(`${JSON.stringify({ repositories })}\n`);
    return 0;
  }
  if (repositories.length === 0) {
    terminal.stdout("no registered repositories yet (POST /api/v1/repositories)\n");
    return 0;
  }
  const names = new Map(environments.map((environment) => [environment.id, environment.name]));
  const now = Date.now();
  const rows = repositories.map((repository) => [
    repository.name,
    repository.url,
    repository.credential_kind,
    repository.environment_id
      ? (names.get(repository.environment_id) ?? repository.environment_id)
      : "-",
    formatAge(repository.updated_at, now),
  ]);
  terminal.stdout(
    `${formatTable(["NAME", "URL", "CREDENTIAL", "ENVIRONMENT", "UPDATED"], rows)}\n`,
  );
  return 0;
}
