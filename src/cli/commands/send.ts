import { MessageType } from "../../protocol/message.ts";
import { booleanFlag, choiceFlag, entityIdArgument } from "../args.ts";
import { sessionTarget } from "../client.ts";
import type { Command } from "../command.ts";
import { UsageError } from "../errors.ts";

export const sendCommand: Command = {
  name: "send",
  summary: "send a message to a running agent",
  usesServer: true,
  options: { type: { type: "string" }, queue: { type: "boolean" } },
  help: `Usage: omoi send <task-or-sandbox-id> "message" [--type TYPE] [--queue]

Sends a message to the agent of a task (id starting with task_) or a sandbox. By
default it steers: the agent gets it at the next safe point of the current turn.
A finished task resumes its session to answer.

Flags:
  --type TYPE   user_message (default), interrupt, guardian_nudge or system
  --queue       deliver after the current turn ends instead of during it`,

  async run({ values, positionals, global, terminal, client }) {
    const id = entityIdArgument(positionals[0], 'task or sandbox id: omoi send <id> "message"');
    const messageType = choiceFlag(values, "type", MessageType.options) ?? "user_message";
    const content = positionals.slice(1).join(" ");
    if (!content.trim() && messageType !== "interrupt") {
      throw new UsageError('missing message: omoi send <id> "message"');
    }
    const accepted = await client().sendMessage(sessionTarget(id), {
      content: content || "interrupt",
      message_type: messageType,
      delivery: booleanFlag(values, "queue") ? "queue" : "steer",
    });
    if (global.json) terminal.stdout(`${JSON.stringify(accepted)}\n`);
    else terminal.stdout(`queued message ${accepted.message_id} for ${id}\n`);
    return 0;
  },
};
