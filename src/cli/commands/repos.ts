import type { Command, CommandContext } from "../command.ts";
import { UsageError } from "../errors.ts";
import { formatAge, formatTable } from "../format.ts";

export const reposCommand: Command = {
  name: "repos",
  summary: "list registered repositories; set the environment their tasks run in",
  usesServer: true,
  options: {},
  help: `Usage: omoi repos [list]
       omoi repos env NAME ENVIRONMENT
       omoi repos env NAME none

A registered repository may name a default environment: a task on it that names none
(omoi run --repo NAME without --env) runs in that one. 'none' clears it. An environment
that is some repository's default cannot be deleted until it is changed.`,

  async run(context) {
    const [subcommand = "list", name, environment, extra] = context.positionals;
    if (subcommand === "list") {
      if (name !== undefined) throw new UsageError(`unexpected argument '${name}'`);
      return listRepositories(context);
    }
    if (subcommand !== "env") {
      throw new UsageError(`unknown subcommand '${subcommand}': use list or env`);
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
