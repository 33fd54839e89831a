import { type StepTone, stepWords } from "../client/step-words.ts";
import { EnvironmentSetupOutput } from "../protocol/environment-events.ts";
import { AgentPermissionRequested, AgentPlanProposed, AgentQuestion } from "../protocol/events.ts";
import { compactJson, isRecord, oneLine } from "./format.ts";
import { read } from "./render.ts";
import type { Style } from "./style.ts";

/*
 * The steps around the agent's own work, as a person reads them: the environment's setup,
 * requests that wait for a person and their answers, permission-mode switches and resource
 * limits — in the same words as the web app (client/step-words.ts), plus what only a
 * terminal shows inline (setup output, the request itself, the plan). Undefined for any
 * other event.
 */

/** Plan lines shown before the rest is folded (the web app shows the whole plan). */
const PLAN_LINES = 30;

const MARK: Record<StepTone, string> = { info: "●", success: "✓", warn: "!", danger: "✗" };

export function stepLines(
  type: string,
  payload: Record<string, unknown>,
  style: Style,
  width: number,
): string[] | undefined {
  switch (type) {
    case EnvironmentSetupOutput.type: {
      const p = read(EnvironmentSetupOutput, payload);
      return (p?.lines ?? []).map((line) => {
        const text = `  │ ${oneLine(line.text, width - 4)}`;
        return line.stream === "stderr" ? style.yellow(text) : style.dim(text);
      });
    }
    case AgentPermissionRequested.type: {
      const p = read(AgentPermissionRequested, payload);
      if (!p) return undefined;
      const input = isRecord(p.input) ? p.input : {};
      const what =
        typeof input.command === "string"
          ? `$ ${oneLine(input.command, width - 30)}`
          : typeof input.file_path === "string"
            ? input.file_path
            : compactJson(p.input ?? {}, width - 30);
      const lines = [style.yellow(style.bold(`? ${p.tool} asks for permission: ${what}`))];
      const why = p.description ?? p.decision_reason;
      if (why) lines.push(style.dim(`  ${oneLine(why, width - 4)}`));
      return lines;
    }
    case AgentPlanProposed.type: {
      const p = read(AgentPlanProposed, payload);
      if (!p) return undefined;
      const plan = p.plan.replace(/\n+$/, "").split("\n");
      const shown = plan.slice(0, PLAN_LINES).map((line) => `  ${line}`);
      if (plan.length > PLAN_LINES)
        shown.push(style.dim(`  … ${plan.length - PLAN_LINES} more lines`));
      return [style.yellow(style.bold("? the agent proposes a plan:")), ...shown];
    }
    case AgentQuestion.type: {
      const p = read(AgentQuestion, payload);
      if (!p) return undefined;
      return p.questions.map((question) => {
        const options = question.options.map((option) => option.label).join(" · ");
        return style.yellow(style.bold(`? ${question.question}${options ? ` (${options})` : ""}`));
      });
    }
    default: {
      const words = stepWords(type, payload);
      if (!words) return undefined;
      const line = `${MARK[words.tone]} ${words.text[0]?.toLowerCase() ?? ""}${words.text.slice(1)}`;
      const colour = {
        info: style.dim,
        success: style.green,
        warn: style.yellow,
        danger: style.red,
      }[words.tone];
      return [words.tone === "danger" ? colour(style.bold(line)) : colour(line)];
    }
  }
}
