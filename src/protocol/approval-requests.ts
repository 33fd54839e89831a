import { APPROVAL_KINDS } from "./enums.ts";

/*
 * Approval requests as every client reads them: which events carry them, which decisions
 * fit each kind, and a one-line summary. No zod here, so the web app may import values.
 */

export type ApprovalKind = (typeof APPROVAL_KINDS)[number];

/** The event each kind of request arrives as. */
export const REQUEST_EVENT_TYPES = {
  permission: "agent.permission_requested",
  plan: "agent.plan_proposed",
  question: "agent.question",
} as const satisfies Record<ApprovalKind, string>;
export const RESOLVED_EVENT_TYPE = "agent.permission_resolved";

export function kindOfRequestEvent(eventType: string): ApprovalKind | undefined {
  for (const kind of APPROVAL_KINDS) {
    if (REQUEST_EVENT_TYPES[kind] === eventType) return kind;
  }
  return undefined;
}

/** What each decision is accepted for. */
export const DECISIONS_BY_KIND: Record<ApprovalKind, readonly string[]> = {
  permission: ["allow", "deny"],
  plan: ["approve", "keep_planning"],
  question: ["answer", "deny"],
};

/** A one-line description of what a request asks, for lists, notifications and webhooks. */
export function summarizeRequest(
  kind: ApprovalKind,
  tool: string,
  request: Record<string, unknown>,
) {
  if (kind === "plan") return "Approve the agent's plan";
  if (kind === "question") {
    const questions = Array.isArray(request.questions) ? request.questions : [];
    const first = questions[0] as { question?: unknown } | undefined;
    return `Answer: ${typeof first?.question === "string" ? first.question : "the agent's question"}`;
  }
  const input = (request.input ?? {}) as Record<string, unknown>;
  const detail =
    typeof input.command === "string"
      ? input.command
      : typeof input.file_path === "string"
        ? input.file_path
        : typeof request.description === "string"
          ? request.description
          : "";
  const line = detail.split("\n")[0].slice(0, 120);
  return line ? `Allow ${tool}: ${line}` : `Allow ${tool}`;
}
