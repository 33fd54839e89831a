import type { EventFrame } from "../client/viewer-frame.ts";
import type { AnswerBody } from "../protocol/approval.ts";
import { kindOfRequestEvent, RESOLVED_EVENT_TYPE } from "../protocol/approval-requests.ts";

/*
 * Approval requests in the terminal: while one is open, the next line typed answers it
 * instead of steering the agent. One request at a time, oldest first.
 */

interface OpenRequest {
  id: string;
  sandboxId: string;
  kind: "permission" | "plan" | "question";
  questions: { question: string; options: string[] }[];
  answers: string[];
}

const WORK_MODES = ["acceptEdits", "default", "bypassPermissions"];

export class ApprovalPrompts {
  private readonly open: OpenRequest[] = [];

  /** Follows an event; returns the prompt to print when a request opens, else "". */
  observe(event: EventFrame): string {
    const kind = kindOfRequestEvent(event.event_type);
    if (kind && event.sandbox_id && !this.open.some((request) => request.id === event.id)) {
      const raw = Array.isArray(event.payload.questions) ? event.payload.questions : [];
      const questions = raw.map((item) => {
        const question = item as { question?: unknown; options?: unknown };
        const options = Array.isArray(question.options) ? question.options : [];
        return {
          question: String(question.question ?? ""),
          options: options.map((option) => String((option as { label?: unknown }).label ?? "")),
        };
      });
      const request = { id: event.id, sandboxId: event.sandbox_id, kind, questions, answers: [] };
      this.open.push(request);
      return this.open.length === 1 ? promptFor(request) : "";
    }
    if (event.event_type === RESOLVED_EVENT_TYPE) {
      const index = this.open.findIndex((request) => request.id === event.payload.request_id);
      if (index < 0) return "";
      this.open.splice(index, 1);
      return index === 0 && this.open[0] ? promptFor(this.open[0]) : "";
    }
    return "";
  }

  /** Whether a typed line answers a request (rather than steering the agent). */
  waiting(): boolean {
    return this.open.length > 0;
  }

  /**
   * Reads a typed line as an answer to the oldest open request. Returns what to post, a
   * prompt for the next question of the same request, or an error to show.
   */
  answer(
    line: string,
  ): { post: { sandboxId: string; requestId: string; body: AnswerBody } } | { say: string } {
    const request = this.open[0];
    const [word, ...rest] = line.trim().split(/\s+/);
    const tail = line.trim().slice(word.length).trim();
    const yes = /^(y|yes|allow|approve|ok)$/i.test(word);
    const no = /^(n|no|deny|keep)$/i.test(word);
    const post = (body: AnswerBody) => ({
      post: { sandboxId: request.sandboxId, requestId: request.id, body },
    });
    if (request.kind === "permission") {
      if (/^(a|always)$/i.test(word)) return post({ decision: "allow", remember: true });
      if (yes) return post({ decision: "allow" });
      if (no) return post({ decision: "deny", ...(tail ? { reason: tail } : {}) });
      return { say: "answer y (allow), a (always allow) or n [reason] (deny)" };
    }
    if (request.kind === "plan") {
      if (yes) {
        const mode = WORK_MODES.find(
          (candidate) => candidate.toLowerCase() === (rest[0] ?? "").toLowerCase(),
        );
        if (rest[0] && !mode) return { say: `the mode must be one of ${WORK_MODES.join(", ")}` };
        return post({ decision: "approve", ...(mode ? { mode: mode as AnswerBody["mode"] } : {}) });
      }
      if (no) return post({ decision: "keep_planning", ...(tail ? { reason: tail } : {}) });
      return { say: "answer y [mode] (approve and start) or n [feedback] (keep planning)" };
    }
    const question = request.questions[request.answers.length];
    const number = Number(line.trim());
    const chosen =
      Number.isInteger(number) && number >= 1 && number <= question.options.length
        ? question.options[number - 1]
        : line.trim();
    if (!chosen) return { say: "type a number or your own answer" };
    request.answers.push(chosen);
    if (request.answers.length < request.questions.length) return { say: questionPrompt(request) };
    return post({ decision: "answer", answers: request.answers });
  }
}

function questionPrompt(request: OpenRequest): string {
  const question = request.questions[request.answers.length];
  const options = question.options.map((label, index) => `${index + 1}) ${label}`).join("  ");
  return `? ${question.question}  ${options}  — a number, or your own answer`;
}

function promptFor(request: OpenRequest): string {
  if (request.kind === "permission")
    return "? allow it: y (yes) · a (always allow) · n [reason] (deny)";
  if (request.kind === "plan")
    return "? approve the plan: y [acceptEdits|default|bypassPermissions] · n [feedback] (keep planning)";
  return questionPrompt(request);
}
