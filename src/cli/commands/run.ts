import { PermissionMode } from "../../protocol/approval.ts";
import { Priority } from "../../protocol/task.ts";
import { booleanFlag, choiceFlag, integerFlag, positiveNumberFlag, stringFlag } from "../args.ts";
import type { Command } from "../command.ts";
import { UsageError } from "../errors.ts";
import { runLive } from "../live.ts";
import { repoForTask } from "../repo-bundle.ts";

export const runCommand: Command = {
  name: "run",
  summary: "create a task and watch the agent work on it live; type to steer",
  usesServer: true,
  options: {
    title: { type: "string" },
    model: { type: "string" },
    "max-turns": { type: "string" },
    "max-budget": { type: "string" },
    priority: { type: "string" },
    mode: { type: "string" },
    env: { type: "string" },
    detach: { type: "boolean", short: "d" },
    repo: { type: "string" },
    base: { type: "string" },
    branch: { type: "string" },
    "auto-pr": { type: "boolean" },
    upload: { type: "boolean" },
    "include-uncommitted": { type: "boolean" },
  },
  help: `Usage: omoi run "prompt" [flags]

Creates a task and shows the agent's work as it happens: its text, thinking, tool
calls and results, file diffs, todos, turn costs.

While it runs:
  type a line, Enter   send it to the agent (folded into the current turn)
  Ctrl-C               interrupt the current turn; the agent waits for you
  Ctrl-C twice         stop the task (within 3 seconds)
Lines piped to stdin are sent the same way. After an interrupt the run stays with the
idle agent: type a message to continue, or Ctrl-C / Ctrl-D to leave.

Flags:
  --title TEXT        a short title (default: from the prompt)
  --model NAME        the model the agent uses
  --max-turns N       stop after N turns
  --max-budget USD    stop once the run has cost this much
  --priority P        critical, high, medium (default) or low
  --mode M            default (ask before edits and commands), acceptEdits, plan, or
                      bypassPermissions (the default: never ask); while the agent waits
                      for you, the next line you type answers it
  --env NAME          run in this environment (setup, network, variables, secrets)
  -d, --detach        create the task, print its id and return at once
  --repo R            work on a repository: a registered name, an https:// URL, or a
                      path ('.' is the checkout you are in). When the server runs on
                      another machine (its health names another machine), the branch
                      you are on is sent as a git bundle instead of its path
  --upload            send the checkout as a bundle even to a server on this machine
  --include-uncommitted
                      also send your uncommitted changes (as one commit on top; your
                      index and working tree are not touched); implies --upload
  --base B            the branch to start from (default: the repository's default)
  --branch B          the branch to push to (default: omoi/<slug>-<id>; an existing one
                      is continued)
  --auto-pr           open a pull request once the branch is pushed

Exit codes:
  0    the task completed
  1    the task failed (or another error)
  2    usage error, or no server to talk to
  130  the task was cancelled or stopped

With --json, every event is printed as one JSON object per line.`,

  async run({ values, positionals, global, terminal, client }) {
    const prompt = positionals.join(" ").trim();
    if (!prompt) throw new UsageError('missing prompt: omoi run "what the agent should do"');
    const omoi = client();
    const repo = await repoForTask(
      {
        value: stringFlag(values, "repo"),
        upload: booleanFlag(values, "upload"),
        includeUncommitted: booleanFlag(values, "include-uncommitted"),
      },
      omoi,
      (line) => terminal.stderr(`${line}\n`),
    );
    const body = {
      prompt,
      title: stringFlag(values, "title"),
      model: stringFlag(values, "model"),
      max_turns: integerFlag(values, "max-turns", { min: 1, max: 10_000 }),
      max_budget_usd: positiveNumberFlag(values, "max-budget", 100_000),
      // Named in lower case as the help and the task list show them; the API takes upper case.
      priority: choiceFlag(
        values,
        "priority",
        Priority.options.map((name) => name.toLowerCase()),
      )?.toUpperCase() as Priority | undefined,
      permission_mode: choiceFlag(values, "mode", PermissionMode.options),
      repo,
      base_branch: stringFlag(values, "base"),
      branch: stringFlag(values, "branch"),
      auto_pr: booleanFlag(values, "auto-pr") || undefined,
      environment: stringFlag(values, "env"),
    };
    const task = await omoi.createTask(body);
    const { style } = terminal;

    if (booleanFlag(values, "detach")) {
      if (global.json) terminal.stdout(`${JSON.stringify(task)}\n`);
      else {
        terminal.stdout(`${task.id}\n`);
        terminal.stderr(`watch it with: omoi watch ${task.id}\n`);
      }
      return 0;
    }

    if (!global.json) {
      terminal.stdout(`${style.bold(`● ${task.title}`)} ${style.dim(`(${task.id})`)}\n`);
      if (terminal.stdinIsTTY) {
        terminal.stdout(
          `${style.dim("  type a message + Enter to steer · Ctrl-C interrupts · Ctrl-C twice stops")}\n`,
        );
      }
    }
    return runLive({
      client: omoi,
      target: { entityType: "task", id: task.id },
      terminal,
      json: global.json,
      steer: true,
    });
  },
};
