import { randomBytes } from "node:crypto";
import { type ConversationState, readConversation } from "./conversation.ts";
import type { MessagesRequest } from "./request.ts";
import type { Failure, Pace, Rule, Scenario, ScenarioSet, Step } from "./scenario.ts";
import { fill, fillDeep, type TemplateValues } from "./template.ts";

export type PlannedBlock =
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "text"; text: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

/** What to answer one request with. */
export interface Plan {
  scenario: string;
  /** `steps` = the scenario's main script, `rule` = an answer to a later message, `finished` = past the end. */
  source: "steps" | "rule" | "finished";
  step: number;
  /** The person text this response answers (the prompt or a later message). */
  answering: string;
  blocks: PlannedBlock[];
  stopReason: "end_turn" | "tool_use";
  fail: Failure | undefined;
  pace: Pace;
}

export interface PlanOptions {
  scenarios: ScenarioSet;
  defaultScenario: string;
  pace: Pace;
  /** Scenario named by the `x-omoi-scenario` header, if sent. */
  headerScenario: string | undefined;
}

export type PlanResult = { ok: true; plan: Plan } | { ok: false; error: string };

const markerPattern = /\[scenario:([A-Za-z0-9][A-Za-z0-9_.-]*)\]/;

export function stripMarker(text: string): string {
  return text.replace(new RegExp(markerPattern.source, "g"), "").trim();
}

function randomId(prefix: string): string {
  return `${prefix}${randomBytes(18).toString("base64url").replace(/[-_]/g, "x")}`;
}

function unknownScenario(name: string, scenarios: ScenarioSet): PlanResult {
  const known = [...scenarios.keys()].join(", ") || "(none)";
  return { ok: false, error: `unknown scenario '${name}'; known scenarios: ${known}` };
}

interface Script {
  name: string;
  scenario: Scenario;
  steps: Step[];
  source: "steps" | "rule";
  match: RegExpExecArray | undefined;
}

function findRule(
  rules: Rule[],
  text: string,
): { rule: Rule; match?: RegExpExecArray } | undefined {
  for (const rule of rules) {
    if (rule.match === undefined) return { rule };
    const match = new RegExp(rule.match, rule.flags).exec(text);
    if (match) return { rule, match };
  }
  return undefined;
}

const fallbackRule: Rule = {
  flags: "i",
  steps: [{ blocks: [{ type: "text", text: "Noted your message: “{{message}}”." }] }],
};

function chooseScript(state: ConversationState, options: PlanOptions): Script | PlanResult {
  const latestMarker = markerPattern.exec(state.latestPersonText)?.[1];
  const baseName =
    markerPattern.exec(state.firstPrompt)?.[1] ?? options.headerScenario ?? options.defaultScenario;
  const name = latestMarker ?? baseName;
  const scenario = options.scenarios.get(name);
  if (!scenario) return unknownScenario(name, options.scenarios);
  if (latestMarker !== undefined || state.latestIsFirst) {
    return { name, scenario, steps: scenario.steps, source: "steps", match: undefined };
  }
  const found = findRule(scenario.rules, stripMarker(state.latestPersonText)) ?? {
    rule: fallbackRule,
  };
  return { name, scenario, steps: found.rule.steps, source: "rule", match: found.match };
}

/**
 * The answer inside Claude Code's AskUserQuestion result (`…answered: "Q"="A". …`): the
 * first answer, or the whole result when it holds none (a refusal, a denial's reason).
 */
function answerOf(toolResult: string): string {
  const match = /"(?:[^"\\]|\\.)*"="((?:[^"\\]|\\.)*)"/.exec(toolResult);
  return match ? match[1] : toolResult.trim();
}

function templateValues(state: ConversationState, script: Script): TemplateValues {
  const values: Record<string, string> = {
    cwd: state.workingDirectory ?? ".",
    message: stripMarker(state.latestPersonText),
    prompt: stripMarker(state.firstPrompt),
    scenario: script.name,
    tool_result: state.latestToolResult.replace(/<\/?tool_use_error>/g, "").trim(),
    answer: answerOf(state.latestToolResult),
    memory: state.projectMemory,
  };
  script.match?.forEach((group, index) => {
    values[index === 0 ? "match" : String(index)] = group ?? "";
  });
  return values;
}

function buildBlocks(
  step: Step,
  state: ConversationState,
  values: TemplateValues,
  thinkingEnabled: boolean,
): PlannedBlock[] {
  const blocks: PlannedBlock[] = [];
  for (const block of step.blocks) {
    if (block.type === "thinking") {
      if (!thinkingEnabled) continue;
      const signature = randomBytes(48).toString("base64");
      blocks.push({ type: "thinking", thinking: fill(block.thinking, values), signature });
    } else if (block.type === "text") {
      blocks.push({ type: "text", text: fill(block.text, values) });
    } else {
      if (block.ifOffered && !state.offeredTools.has(block.name)) continue;
      const input = fillDeep(block.input, values) as Record<string, unknown>;
      blocks.push({ type: "tool_use", id: randomId("toolu_01"), name: block.name, input });
    }
  }
  return blocks;
}

/** Decides the whole response to a request from the request alone (the server keeps no state). */
export function planResponse(request: MessagesRequest, options: PlanOptions): PlanResult {
  const state = readConversation(request);
  const script = chooseScript(state, options);
  if (!("steps" in script)) return script;
  const values = templateValues(state, script);
  const index = state.turnsSinceLatest;
  const pace = script.scenario.pace ?? options.pace;
  const step = script.steps[index];
  if (!step) {
    const text = `Scenario '${script.name}' has nothing more to do.`;
    const blocks: PlannedBlock[] = [{ type: "text", text }];
    const plan: Plan = {
      scenario: script.name,
      source: "finished",
      step: index,
      answering: values.message,
      blocks,
      stopReason: "end_turn",
      fail: undefined,
      pace,
    };
    return { ok: true, plan };
  }
  const thinkingEnabled = request.thinking !== undefined && request.thinking.type !== "disabled";
  let blocks = buildBlocks(step, state, values, thinkingEnabled);
  if (blocks.length === 0 && !step.fail) blocks = [{ type: "text", text: "OK." }];
  const stopReason = blocks.some((block) => block.type === "tool_use") ? "tool_use" : "end_turn";
  const plan: Plan = {
    scenario: script.name,
    source: script.source,
    step: index,
    answering: values.message,
    blocks,
    stopReason,
    fail: step.fail,
    pace: step.pace ?? pace,
  };
  return { ok: true, plan };
}
