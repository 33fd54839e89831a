import type { Approval } from "../../../src/protocol/approval.ts";
import { kindOfRequestEvent, RESOLVED_EVENT_TYPE } from "../../../src/protocol/approval-requests.ts";
import type { EventFrame } from "../api/types.ts";

export type ApprovalKind = "permission" | "plan" | "question";

export interface QuestionView {
  question: string;
  header: string | null;
  options: { label: string; description: string | null }[];
}

/** One request as the session view shows it. */
export interface RequestView {
  id: string;
  sandboxId: string;
  kind: ApprovalKind;
  tool: string;
  at: number;
  /** The tool's input (permission requests). */
  input: Record<string, unknown>;
  /** What "Always allow" would remember, e.g. `Bash(npm test:*)`. */
  rules: string[];
  description: string | null;
  plan: string;
  questions: QuestionView[];
  resolution: { status: string; decision: string; reason: string | null; by: string } | null;
}

const text = (value: unknown): string | null => (typeof value === "string" ? value : null);
const recordOf = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

function rulesOf(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.map(recordOf).flatMap((rule) => {
    const tool = text(rule.toolName);
    if (!tool) return [];
    const content = text(rule.ruleContent);
    return [content ? `${tool}(${content})` : tool];
  });
}

function questionsOf(value: unknown): QuestionView[] {
  if (!Array.isArray(value)) return [];
  return value.map(recordOf).map((question) => ({
    question: text(question.question) ?? "",
    header: text(question.header),
    options: (Array.isArray(question.options) ? question.options : []).map(recordOf).map((option) => ({
      label: text(option.label) ?? "",
      description: text(option.description),
    })),
  }));
}

function byOf(value: unknown): string {
  const by = recordOf(value);
  if (by.kind === "person") return text(by.client) ?? "a person";
  if (by.kind === "policy") return "the no-answer policy";
  return "Omoi";
}

/**
 * Folds a session's events into its approval requests and its permission mode. Pure:
 * the same events in any replay give the same state, so a reloaded page shows what is open.
 */
export class ApprovalsModel {
  private readonly requests = new Map<string, RequestView>();
  private readonly early = new Map<string, RequestView["resolution"]>();
  mode: string | null = null;
  version = 0;

  apply(frame: EventFrame): void {
    const payload = frame.payload;
    const kind = kindOfRequestEvent(frame.event_type);
    if (kind && frame.sandbox_id) {
      this.add(frame.id, frame.sandbox_id, kind, payload, frame.emitted_at);
      return;
    }
    if (frame.event_type === RESOLVED_EVENT_TYPE) {
      const id = text(payload.request_id);
      if (!id) return;
      const resolution = {
        status: text(payload.status) ?? "resolved",
        decision: text(payload.decision) ?? "",
        reason: text(payload.reason),
        by: byOf(payload.answered_by),
      };
      const request = this.requests.get(id);
      if (request) this.requests.set(id, { ...request, resolution });
      else this.early.set(id, resolution);
      this.version++;
      return;
    }
    if (frame.event_type === "agent.started" && text(payload.permission_mode)) {
      this.mode = text(payload.permission_mode);
      this.version++;
    } else if (frame.event_type === "agent.mode_changed" && text(payload.mode)) {
      this.mode = text(payload.mode);
      this.version++;
    }
  }

  /**
   * Open requests as the server lists them: a page that replays only its latest events
   * still shows a request asked long before them.
   */
  seed(sandboxId: string, open: Approval[]): void {
    for (const approval of open) {
      if (approval.status !== "open" || approval.sandbox_id !== sandboxId) continue;
      this.add(approval.id, sandboxId, approval.kind, approval.request, approval.created_at);
    }
  }

  private add(id: string, sandboxId: string, kind: ApprovalKind, payload: Record<string, unknown>, at: number) {
    if (this.requests.has(id)) return;
    this.requests.set(id, {
      id,
      sandboxId,
      kind,
      tool: text(payload.tool) ?? kind,
      at,
      input: recordOf(payload.input),
      rules: rulesOf(payload.rules),
      description: text(payload.description),
      plan: text(payload.plan) ?? "",
      questions: questionsOf(payload.questions),
      resolution: this.early.get(id) ?? null,
    });
    this.version++;
  }

  /** Requests still waiting for a person, oldest first. */
  open(): RequestView[] {
    return [...this.requests.values()].filter((request) => request.resolution === null);
  }

  /** Marks a request answered here at once (its resolution event follows). */
  settle(id: string, decision: string): void {
    const request = this.requests.get(id);
    if (!request || request.resolution) return;
    this.requests.set(id, { ...request, resolution: { status: "resolved", decision, reason: null, by: "you" } });
    this.version++;
  }
}

/** Short names for the modes, for selectors and the header. */
export const MODE_LABELS: Record<string, string> = {
  default: "Ask before edits and commands",
  acceptEdits: "Accept edits, ask before commands",
  plan: "Plan first (no changes)",
  bypassPermissions: "Never ask",
};

export const MODE_SHORT: Record<string, string> = {
  default: "Ask",
  acceptEdits: "Accept edits",
  plan: "Plan",
  bypassPermissions: "Never ask",
};
