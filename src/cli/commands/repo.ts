import { booleanFlag, entityIdArgument } from "../args.ts";
import type { Command } from "../command.ts";
import { CliError, UsageError } from "../errors.ts";
import { fetchIntoBranch, localGit } from "../local-git.ts";
import { fetchTaskBundle, needsBundle } from "../repo-bundle.ts";

function taskArgument(positionals: string[], usage: string): string {
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  return entityIdArgument(positionals[0], `task id: ${usage}`);
}

export const diffCommand: Command = {
  name: "diff",
  summary: "show a task's changes against its base branch (files, +/−, diff)",
  usesServer: true,
  options: { stat: { type: "boolean" } },
  help: `Usage: omoi diff <task> [--stat]

Prints the task's changes as a pull request would show them: the files with lines added
and removed, the commits, and the unified diff (against the merge-base with the base
branch). --stat prints the files only.`,

  async run({ values, positionals, global, terminal, client }) {
    const id = taskArgument(positionals, "omoi diff <task>");
    const changes = await client().getChanges(id);
    if (global.json) {
      terminal.stdout(`${JSON.stringify(changes)}\n`);
      return 0;
    }
    const { style } = terminal;
    for (const file of changes.files) {
      const counts =
        file.added === null
          ? "binary"
          : `${style.green(`+${file.added}`)} ${style.red(`−${file.removed}`)}`;
      terminal.stdout(`${file.status.padEnd(9)} ${counts}  ${file.path}\n`);
    }
    terminal.stdout(
      `${changes.files.length} file${changes.files.length === 1 ? "" : "s"}, ${style.green(`+${changes.added}`)} ${style.red(`−${changes.removed}`)}, ${changes.commits.length} commit${changes.commits.length === 1 ? "" : "s"}\n`,
    );
    if (booleanFlag(values, "stat")) return 0;
    terminal.stdout(`\n${changes.diff}`);
    if (changes.diff_truncated) terminal.stdout(`${style.dim("… (diff cut at its size limit)")}\n`);
    return 0;
  },
};

export const prCommand: Command = {
  name: "pr",
  summary: "open (or show) the pull request of a task's branch",
  usesServer: true,
  options: { draft: { type: "boolean" } },
  help: `Usage: omoi pr <task> [--draft]

Opens the pull request of the task's branch into its base branch (GitHub, through its API),
or prints the open one. On other forges it prints the URL where you open it.`,

  async run({ values, positionals, global, terminal, client }) {
    const id = taskArgument(positionals, "omoi pr <task> [--draft]");
    const answer = await client().createPullRequest(id, booleanFlag(values, "draft"));
    if (global.json) terminal.stdout(`${JSON.stringify(answer)}\n`);
    else if (answer.pull_request) {
      const pull = answer.pull_request;
      terminal.stdout(`#${pull.number} ${pull.state}${pull.draft ? " (draft)" : ""} ${pull.url}\n`);
    } else if (answer.compare_url) terminal.stdout(`open it here: ${answer.compare_url}\n`);
    else terminal.stdout("the branch is pushed; this remote has no pull requests to open\n");
    return 0;
  },
};

export const checkoutCommand: Command = {
  name: "checkout",
  summary: "fetch a task's branch into the repository you are in and check it out",
  usesServer: true,
  options: {},
  help: `Usage: omoi checkout <task>

Fetches the task's branch from its repository (with your own git and credentials) into the
checkout you are in, and checks it out, so you can continue locally. For a repository sent
as a bundle (a server on another machine), the branch comes back as a bundle from the server.`,

  async run({ positionals, terminal, client }) {
    const id = taskArgument(positionals, "omoi checkout <task>");
    const task = await client().getTask(id);
    const repo = (task as { repo?: { url: string; branch: string } | null }).repo;
    if (!repo) throw new CliError(`task ${id} does not work on a repository`, 1);
    await localGit(["rev-parse", "--show-toplevel"]).catch(() => {
      throw new CliError(
        `${process.cwd()} is not in a git checkout: run omoi checkout inside the repository to bring ${repo.branch} into`,
        1,
      );
    });
    if (needsBundle(repo.url)) {
      await fetchTaskBundle(client(), id, repo.branch);
      await localGit(["checkout", "--quiet", repo.branch]);
      terminal.stdout(`on ${repo.branch} (from the server's copy of ${repo.url})\n`);
      return 0;
    }
    await fetchIntoBranch(repo.url, `refs/heads/${repo.branch}`, repo.branch);
    await localGit(["checkout", repo.branch]);
    terminal.stdout(`on ${repo.branch} (from ${repo.url})\n`);
    return 0;
  },
};
