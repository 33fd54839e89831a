import { SandboxStatus } from "../../protocol/sandbox.ts";
import { choiceListFlag, entityIdArgument, integerFlag, stringFlag } from "../args.ts";
import type { Command } from "../command.ts";
import { UsageError } from "../errors.ts";
import { formatAge, formatTable } from "../format.ts";
import { paintStatus } from "./status-color.ts";

export const sandboxesCommand: Command = {
  name: "sandboxes",
  summary: "list sandboxes, newest first",
  usesServer: true,
  options: { status: { type: "string" }, task: { type: "string" }, limit: { type: "string" } },
  help: `Usage: omoi sandboxes [--status STATUS[,STATUS…]] [--task TASK_ID] [--limit N]

Lists sandboxes, newest first: id, status, kind, provider, task and age.

Flags:
  --status S   only these statuses: pending, starting, running, idle, completed,
               failed, terminated (comma-separated)
  --task ID    only the sandboxes of this task
  --limit N    at most N sandboxes (1-500, default 50)`,

  async run({ values, positionals, global, terminal, client }) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const status = choiceListFlag(values, "status", SandboxStatus.options);
    const limit = integerFlag(values, "limit", { min: 1, max: 500 });
    const task = stringFlag(values, "task");
    const taskId = task === undefined ? undefined : entityIdArgument(task, "--task id");
    const list = await client().listSandboxes({ status, taskId, limit });
    if (global.json) {
      terminal.stdout(`${JSON.stringify(list)}\n`);
      return 0;
    }
    if (list.sandboxes.length === 0) {
      terminal.stdout("no sandboxes\n");
      return 0;
    }
    const { style } = terminal;
    const now = Date.now();
    const rows = list.sandboxes.map((sandbox) => [
      sandbox.id,
      paintStatus(sandbox.status, style),
      sandbox.kind,
      sandbox.provider ?? "",
      sandbox.task_id ?? style.dim("-"),
      formatAge(sandbox.created_at, now),
    ]);
    terminal.stdout(`${formatTable(["ID", "STATUS", "KIND", "PROVIDER", "TASK", "AGE"], rows)}\n`);
    if (list.total > list.sandboxes.length) {
      terminal.stdout(
        style.dim(`${list.sandboxes.length} of ${list.total} sandboxes (--limit for more)\n`),
      );
    }
    return 0;
  },
};
