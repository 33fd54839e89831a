import { PermissionMode } from "../../protocol/approval.ts";
import { entityIdArgument } from "../args.ts";
import { sessionTarget } from "../client.ts";
import type { Command } from "../command.ts";
import { UsageError } from "../errors.ts";

export const modeCommand: Command = {
  name: "mode",
  summary: "switch a running agent's permission mode",
  usesServer: true,
  options: {},
  help: `Usage: omoi mode <task-or-sandbox-id> <mode>

Switches the permission mode of a task's agent (id starting with task_) or a sandbox's;
it applies from the agent's next tool call. For a task whose sandbox has closed, it is
the mode its next sandbox starts in.

Modes: ${PermissionMode.options.join(", ")}`,

  async run({ positionals, global, terminal, client }) {
    const id = entityIdArgument(positionals[0], "task or sandbox id: omoi mode <id> <mode>");
    if (positionals.length > 2) throw new UsageError(`unexpected argument '${positionals[2]}'`);
    const mode = PermissionMode.safeParse(positionals[1]);
    if (!mode.success) {
      throw new UsageError(
        `${positionals[1] === undefined ? "missing mode" : `unknown mode '${positionals[1]}'`}: use one of ${PermissionMode.options.join(", ")}`,
      );
    }
    const answer = await client().setMode(sessionTarget(id), mode.data);
    if (global.json) terminal.stdout(`${JSON.stringify(answer)}\n`);
    else terminal.stdout(`${id} now works in ${mode.data}\n`);
    return 0;
  },
};
