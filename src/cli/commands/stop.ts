import { entityIdArgument, isTaskId } from "../args.ts";
import type { Command } from "../command.ts";
import { UsageError } from "../errors.ts";

export const stopCommand: Command = {
  name: "stop",
  summary: "cancel a task or terminate a sandbox",
  usesServer: true,
  options: {},
  help: `Usage: omoi stop <task-or-sandbox-id>

Cancels a task (id starting with task_; its sandbox is stopped too) or terminates a
sandbox. Every process of the agent is killed.`,

  async run({ positionals, global, terminal, client }) {
    if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
    const id = entityIdArgument(positionals[0], "task or sandbox id: omoi stop <id>");
    const omoi = client();
    const result = isTaskId(id) ? await omoi.cancelTask(id) : await omoi.terminateSandbox(id);
    if (global.json) terminal.stdout(`${JSON.stringify(result)}\n`);
    else terminal.stdout(`${isTaskId(id) ? "task" : "sandbox"} ${id} is now ${result.status}\n`);
    return 0;
  },
};
