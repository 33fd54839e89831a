import type { TaskRepo } from "../../protocol/repo.ts";
import type { Sandbox, TaskWithSandbox as TaskDetail } from "../../protocol/sandbox.ts";
import { entityIdArgument, isTaskId } from "../args.ts";
import type { Command } from "../command.ts";
import { UsageError } from "../errors.ts";
import { formatAge, formatCost, formatCount } from "../format.ts";
import type { Style } from "../style.ts";
import { paintStatus } from "./status-color.ts";

export const taskCommand: Command = {
  name: "task",
  summary: "show one task (or sandbox) in detail",
  usesServer: true,
  options: {},
  help: `Usage: omoi task <task-id>

Shows a task: status (and what it waits for you on), settings, sandbox, its repository
(branch, changes, push, pull request), turns, tokens, cost, timing, result or error, and
its prompt. Given a sandbox id, shows that sandbox.`,

  async run({ positionals, global, terminal, client }) {
    if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
    const id = entityIdArgument(positionals[0], "task id: omoi task <id>");
    const omoi = client();
    const detail = isTaskId(id) ? await omoi.getTask(id) : await omoi.getSandbox(id);
    if (global.json) {
      terminal.stdout(`${JSON.stringify(detail)}\n`);
      return 0;
    }
    const text = isTaskId(id)
      ? formatTask(detail as TaskDetail, terminal.style, Date.now())
      : formatSandbox(detail as Sandbox, terminal.style, Date.now());
    terminal.stdout(`${text}\n`);
    return 0;
  },
};

function when(timestamp: number | null, now: number): string | undefined {
  if (timestamp === null) return undefined;
  return `${new Date(timestamp).toISOString()} (${formatAge(timestamp, now)} ago)`;
}

function fields(rows: [string, string | undefined][], style: Style): string[] {
  const shown = rows.filter((row): row is [string, string] => row[1] !== undefined);
  const width = Math.max(...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${style.dim(label.padEnd(width))}  ${value}`);
}

export function formatTask(task: TaskDetail, style: Style, now: number): string {
  const limits = [
    task.max_turns !== null ? `${task.max_turns} turns` : undefined,
    task.max_budget_usd !== null ? formatCost(task.max_budget_usd) : undefined,
  ].filter(Boolean);
  const lines = [
    style.bold(task.title),
    ...fields(
      [
        ["id", task.id],
        ["status", paintStatus(task.status, style)],
        ["needs you", task.needs_you ? style.yellow(task.needs_you.summary) : undefined],
        ["priority", task.priority.toLowerCase()],
        ["mode", task.permission_mode],
        ["phase", task.phase_id],
        ["model", task.model ?? undefined],
        ["limits", limits.length ? limits.join(", ") : undefined],
        ["attempts", task.max_retries ? `${task.attempts} of ${task.max_retries + 1}` : undefined],
        [
          "sandbox",
          task.sandbox
            ? `${task.sandbox.id} (${paintStatus(task.sandbox.status, style)})`
            : (task.sandbox_id ?? undefined),
        ],
        ["workspace", task.workspace ?? undefined],
        ...repoFields(task.repo, style),
        ["turns", String(task.num_turns)],
        ["tokens", `${formatCount(task.input_tokens)} in / ${formatCount(task.output_tokens)} out`],
        ["cost", formatCost(task.cost_usd)],
        ["created", when(task.created_at, now)],
        ["started", when(task.started_at, now)],
        ["finished", when(task.completed_at, now)],
        ["depends on", task.depends_on.length ? task.depends_on.join(", ") : undefined],
      ],
      style,
    ),
  ];
  if (task.result) lines.push("", style.bold("result"), task.result);
  if (task.error) lines.push("", style.red(style.bold("error")), style.red(task.error));
  lines.push("", style.bold("prompt"), task.prompt);
  return lines.join("\n");
}

/** Where a task on a repository works and what reached the repository. */
function repoFields(repo: TaskRepo | null, style: Style): [string, string | undefined][] {
  if (!repo) return [];
  const changes = repo.changes;
  return [
    ["repository", repo.url],
    ["branch", `${repo.branch} ← ${repo.base_branch}${repo.continued ? " (continued)" : ""}`],
    [
      "changes",
      changes
        ? `${changes.files} file${changes.files === 1 ? "" : "s"} ${style.green(`+${changes.added}`)} ${style.red(`−${changes.removed}`)}`
        : undefined,
    ],
    ["pushed", repo.pushed_sha ? repo.pushed_sha.slice(0, 8) : style.dim("not yet")],
    ["not pushed", repo.last_error ? style.red(repo.last_error) : undefined],
    [
      "pull request",
      repo.pull_request
        ? `#${repo.pull_request.number} ${repo.pull_request.state} ${repo.pull_request.url}`
        : (repo.compare_url ?? undefined),
    ],
  ];
}

export function formatSandbox(sandbox: Sandbox, style: Style, now: number): string {
  const lines = [
    style.bold(`sandbox ${sandbox.id}`),
    ...fields(
      [
        ["status", paintStatus(sandbox.status, style)],
        ["kind", sandbox.kind],
        ["provider", sandbox.provider],
        ["task", sandbox.task_id ?? undefined],
        ["model", sandbox.model ?? undefined],
        ["workspace", sandbox.workspace ?? undefined],
        ["owner", sandbox.owner ?? undefined],
        ["worker pid", sandbox.worker_pid === null ? undefined : String(sandbox.worker_pid)],
        ["created", when(sandbox.created_at, now)],
        ["started", when(sandbox.started_at, now)],
        ["ended", when(sandbox.ended_at, now)],
      ],
      style,
    ),
  ];
  if (sandbox.error) lines.push("", style.red(style.bold("error")), style.red(sandbox.error));
  if (sandbox.prompt) lines.push("", style.bold("prompt"), sandbox.prompt);
  return lines.join("\n");
}
