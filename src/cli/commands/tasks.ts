import { TaskStatus } from "../../protocol/task.ts";
import { choiceListFlag, integerFlag } from "../args.ts";
import type { Command } from "../command.ts";
import { UsageError } from "../errors.ts";
import { cut, formatAge, formatCost, formatTable } from "../format.ts";
import { paintStatus } from "./status-color.ts";

export const tasksCommand: Command = {
  name: "tasks",
  summary: "list tasks, newest first",
  usesServer: true,
  options: { status: { type: "string" }, limit: { type: "string" } },
  help: `Usage: omoi tasks [--status STATUS[,STATUS…]] [--limit N]

Lists tasks, newest first: id, status, priority, title, age and cost.

Flags:
  --status S   only these statuses: pending, assigned, running, completed, failed,
               cancelled (comma-separated)
  --limit N    at most N tasks (1-500, default 50)`,

  async run({ values, positionals, global, terminal, client }) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const status = choiceListFlag(values, "status", TaskStatus.options);
    const limit = integerFlag(values, "limit", { min: 1, max: 500 });
    const list = await client().listTasks({ status, limit });
    if (global.json) {
      terminal.stdout(`${JSON.stringify(list)}\n`);
      return 0;
    }
    if (list.tasks.length === 0) {
      terminal.stdout(
        status ? "no tasks with that status\n" : 'no tasks yet — start one: omoi run "…"\n',
      );
      return 0;
    }
    const { style } = terminal;
    const now = Date.now();
    const rows = list.tasks.map((task) => [
      task.id,
      task.needs_you
        ? `${paintStatus(task.status, style)} ${style.yellow("· needs you")}`
        : paintStatus(task.status, style),
      task.priority.toLowerCase(),
      cut(task.title, 60),
      formatAge(task.created_at, now),
      task.cost_usd > 0 ? formatCost(task.cost_usd) : style.dim("-"),
    ]);
    const table = formatTable(["ID", "STATUS", "PRIORITY", "TITLE", "AGE", "COST"], rows);
    terminal.stdout(`${table}\n`);
    if (list.total > list.tasks.length) {
      terminal.stdout(
        style.dim(`${list.tasks.length} of ${list.total} tasks (--limit for more)\n`),
      );
    }
    return 0;
  },
};
