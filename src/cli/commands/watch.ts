import { booleanFlag, entityIdArgument, isTaskId } from "../args.ts";
import type { Command } from "../command.ts";
import { UsageError } from "../errors.ts";
import { exitCodeForStatus, runLive, TAIL_EVENTS } from "../live.ts";

export const watchCommand: Command = {
  name: "watch",
  summary: "follow a task or sandbox live, starting with its latest part",
  usesServer: true,
  options: { steer: { type: "boolean" }, "from-start": { type: "boolean" } },
  help: `Usage: omoi watch <task-or-sandbox-id> [--from-start] [--steer]

Shows the latest part of what a task (id starting with task_) or a sandbox has done
(its last ${TAIL_EVENTS} events, at most two screens of them), then follows it live until it
ends. If the connection drops it reconnects and resumes where it left off, without
missing or repeating an event; after a long gap it again prints only the last part
of what it caught up on and says how much it left out.

Flags:
  --from-start  show everything from the first event instead
  --steer       also steer, as in \`omoi run\`: type a line + Enter to send it to the
                agent, Ctrl-C interrupts the turn, Ctrl-C twice stops it.
                Without --steer, Ctrl-C only stops watching.

Exit codes:
  0    it completed
  1    it failed (or another error)
  2    usage error, or no server to talk to
  130  it was cancelled/stopped, or you stopped watching

With --json, every event from the first is printed as one JSON object per line.`,

  async run({ values, positionals, global, terminal, client }) {
    if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
    const id = entityIdArgument(positionals[0], "task or sandbox id: omoi watch <id>");
    const omoi = client();
    const steer = booleanFlag(values, "steer");
    // Ask first, so an unknown id gets the server's 404 message rather than an empty stream.
    const status = isTaskId(id)
      ? (await omoi.getTask(id)).status
      : (await omoi.getSandbox(id)).status;
    if (!global.json) {
      const { style } = terminal;
      const hint = steer ? "type to steer · Ctrl-C interrupts" : "Ctrl-C stops watching";
      terminal.stdout(`${style.dim(`watching ${id} (${status}) · ${hint}`)}\n`);
    }
    return runLive({
      client: omoi,
      target: { entityType: isTaskId(id) ? "task" : "sandbox", id },
      terminal,
      json: global.json,
      steer,
      fromStart: booleanFlag(values, "from-start"),
      initialExit: exitCodeForStatus(status),
    });
  },
};
