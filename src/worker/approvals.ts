import type {
  CanUseTool,
  PermissionResult,
  PermissionUpdate,
} from "@anthropic-ai/claude-agent-sdk";
import {
  type Answer,
  type AnswerFrame,
  type ApprovalKind,
  DEFAULT_PLAN_MODE,
  type PermissionRule,
  type Question,
} from "../protocol/approval.ts";
import { AgentPermissionRequested, AgentPlanProposed, AgentQuestion } from "../protocol/events.ts";
import { newEventId } from "../protocol/ids.ts";
import { type AgentEvent, agentEvent } from "./agent-event.ts";
import type { Logger } from "./log.ts";

/** What the gate needs from its session. */
export interface GateHost {
  /** Sends an event; `id` is the request id, so the server files the request under it. */
  emit(event: AgentEvent & { id: string }): void;
  /** The permission mode in effect now. */
  mode(): string;
  /** An approved plan switched the mode (the CLI reports it later; tool calls may come first). */
  modeChanged(mode: string, reason: string): void;
  /** The input the model gave a tool call (the CLI hands `canUseTool` a reduced one for some tools). */
  toolInput(toolUseId: string): Promise<Record<string, unknown> | undefined>;
  log: Logger;
}

interface Pending {
  kind: ApprovalKind;
  tool: string;
  input: Record<string, unknown>;
  rules: PermissionRule[];
  questions: Question[];
  resolve(result: PermissionResult): void;
}

/** Tools the agent may use in plan mode without a person's say (they change nothing). */
const PERSON_TOOLS = new Set(["ExitPlanMode", "AskUserQuestion"]);

const PLAN_MODE_REFUSAL =
  "Plan mode: nothing in the workspace may change until a person approves your plan. " +
  "Finish reading, then propose the plan with ExitPlanMode.";

/**
 * The SDK's `canUseTool`, answered by a person through Omoi. Each call becomes a request
 * event (`agent.permission_requested`, `agent.plan_proposed` or `agent.question`) whose id
 * is the request id; the call waits until the server pushes that request's answer down the
 * channel, then turns it into the SDK's PermissionResult. "Always allow" rules are kept
 * here too, so the same tool or command pattern is not asked for again in this session.
 */
export class ApprovalGate {
  private readonly pending = new Map<string, Pending>();
  private readonly remembered = new Set<string>();

  /** `allowed`: rules a person chose "Always allow" for earlier in the task (a resumed session). */
  constructor(
    private readonly host: GateHost,
    allowed: PermissionRule[] = [],
  ) {
    for (const rule of allowed) this.remembered.add(ruleKey(rule));
  }

  readonly canUseTool: CanUseTool = async (tool, input, options) => {
    if (this.host.mode() === "plan" && !PERSON_TOOLS.has(tool)) {
      return { behavior: "deny", message: PLAN_MODE_REFUSAL, toolUseID: options.toolUseID };
    }
    const kind: ApprovalKind =
      tool === "ExitPlanMode" ? "plan" : tool === "AskUserQuestion" ? "question" : "permission";
    const rules = kind === "permission" ? rulesOf(tool, options.suggestions) : [];
    if (kind === "permission" && rules.every((rule) => this.remembered.has(ruleKey(rule)))) {
      return { behavior: "allow", updatedInput: input, toolUseID: options.toolUseID };
    }
    const requestId = newEventId();
    const common = {
      request_id: requestId,
      tool,
      tool_use_id: options.toolUseID,
    };
    let event: AgentEvent;
    let questions: Question[] = [];
    if (kind === "plan") {
      const original = (await this.host.toolInput(options.toolUseID)) ?? input;
      const plan = typeof original.plan === "string" ? original.plan : "";
      event = agentEvent(AgentPlanProposed, { ...common, plan });
    } else if (kind === "question") {
      questions = readQuestions(input);
      if (questions.length === 0) {
        return { behavior: "deny", message: "AskUserQuestion needs at least one question." };
      }
      event = agentEvent(AgentQuestion, { ...common, questions });
    } else {
      event = agentEvent(AgentPermissionRequested, {
        ...common,
        input,
        rules,
        ...(options.suggestions ? { suggestions: options.suggestions } : {}),
        ...(options.title ? { title: options.title } : {}),
        ...(options.description ? { description: options.description } : {}),
        ...(options.blockedPath ? { blocked_path: options.blockedPath } : {}),
        ...(options.decisionReason ? { decision_reason: options.decisionReason } : {}),
      });
    }
    const answered = new Promise<PermissionResult>((resolve) => {
      this.pending.set(requestId, { kind, tool, input, rules, questions, resolve });
    });
    const aborted = () => {
      const pending = this.pending.get(requestId);
      if (!pending) return;
      this.pending.delete(requestId);
      pending.resolve({ behavior: "deny", message: "The request was cancelled." });
    };
    options.signal.addEventListener("abort", aborted, { once: true });
    this.host.emit({ ...event, id: requestId });
    this.host.log.info({ requestId, tool, kind }, "waiting for a person");
    const result = await answered;
    options.signal.removeEventListener("abort", aborted);
    // `resolved_at` (ms epoch, sub-ms): the benchmark times an answer from its POST to here.
    this.host.log.info(
      {
        requestId,
        behavior: result.behavior,
        mark: "permission_resolved",
        resolved_at: performance.timeOrigin + performance.now(),
      },
      "answer handed to the agent",
    );
    return { ...result, toolUseID: options.toolUseID };
  };

  /** A person's answer (or the server's expiry). False when no call waits for it (already answered). */
  answer(frame: AnswerFrame): boolean {
    const pending = this.pending.get(frame.request_id);
    if (!pending) return false;
    this.pending.delete(frame.request_id);
    pending.resolve(this.toResult(pending, frame.answer));
    return true;
  }

  /** Ids of requests still waiting. */
  waiting(): string[] {
    return [...this.pending.keys()];
  }

  private toResult(pending: Pending, answer: Answer): PermissionResult {
    const reason = answer.reason?.trim() || undefined;
    switch (answer.decision) {
      case "allow": {
        let updatedPermissions: PermissionUpdate[] | undefined;
        if (answer.remember && pending.rules.length > 0) {
          for (const rule of pending.rules) this.remembered.add(ruleKey(rule));
          updatedPermissions = [
            { type: "addRules", rules: pending.rules, behavior: "allow", destination: "session" },
          ];
        }
        return {
          behavior: "allow",
          updatedInput: pending.input,
          ...(updatedPermissions ? { updatedPermissions } : {}),
          decisionClassification: answer.remember ? "user_permanent" : "user_temporary",
        };
      }
      case "approve":
        this.host.modeChanged(answer.mode ?? DEFAULT_PLAN_MODE, "plan_approved");
        return {
          behavior: "allow",
          updatedInput: pending.input,
          updatedPermissions: [
            { type: "setMode", mode: answer.mode ?? DEFAULT_PLAN_MODE, destination: "session" },
          ],
        };
      case "keep_planning":
        return {
          behavior: "deny",
          message: reason
            ? `The person wants you to keep planning. Their feedback: ${reason}`
            : "The person wants you to keep planning; the plan is not approved yet.",
        };
      case "answer": {
        const answers: Record<string, string> = {};
        pending.questions.forEach((question, index) => {
          answers[question.question] = answer.answers?.[index] ?? "";
        });
        return { behavior: "allow", updatedInput: { ...pending.input, answers } };
      }
      case "deny":
        return {
          behavior: "deny",
          message:
            reason ??
            (pending.kind === "question"
              ? "The person chose not to answer."
              : `The person denied this ${pending.tool} call.`),
          decisionClassification: "user_reject",
        };
      case "expired":
        return { behavior: "deny", message: reason ?? "No one answered in time." };
    }
  }
}

/**
 * The rules "Always allow" adds: the SDK's allow-rule suggestions (a command pattern such
 * as `Bash(npm test:*)`), else the whole tool. Suggestions that would switch the mode or
 * widen the directories are not rules about this tool, so they are left out.
 */
function rulesOf(tool: string, suggestions: PermissionUpdate[] | undefined): PermissionRule[] {
  const rules: PermissionRule[] = [];
  for (const suggestion of suggestions ?? []) {
    if (suggestion.type !== "addRules" || suggestion.behavior !== "allow") continue;
    for (const rule of suggestion.rules) {
      rules.push({
        toolName: rule.toolName,
        ...(rule.ruleContent ? { ruleContent: rule.ruleContent } : {}),
      });
    }
  }
  return rules.length > 0 ? rules : [{ toolName: tool }];
}

const ruleKey = (rule: PermissionRule) => `${rule.toolName}(${rule.ruleContent ?? ""})`;

/** A rule as Claude Code's settings spell it: `Bash`, `Bash(npm test:*)`. */
export const ruleSetting = (rule: PermissionRule) =>
  rule.ruleContent ? `${rule.toolName}(${rule.ruleContent})` : rule.toolName;

function readQuestions(input: Record<string, unknown>): Question[] {
  const raw = Array.isArray(input.questions) ? input.questions : [];
  return raw
    .filter((item): item is Record<string, unknown> => typeof item === "object" && item !== null)
    .slice(0, 4)
    .map((item) => ({
      question: typeof item.question === "string" ? item.question : "",
      ...(typeof item.header === "string" ? { header: item.header } : {}),
      options: (Array.isArray(item.options) ? item.options : [])
        .filter(
          (option): option is Record<string, unknown> =>
            typeof option === "object" && option !== null,
        )
        .slice(0, 10)
        .map((option) => ({
          label: typeof option.label === "string" ? option.label : "",
          ...(typeof option.description === "string" ? { description: option.description } : {}),
        })),
      multiSelect: item.multiSelect === true,
    }));
}
