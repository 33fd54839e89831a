import { useId, useState } from "react";
import type { PermissionMode } from "../../../src/protocol/approval.ts";
import { type AnswerBody, api } from "../api/client.ts";
import { Markdown } from "../components/markdown.tsx";
import { MODE_LABELS, type RequestView } from "./approvals-model.ts";

/** Modes a plan may continue in (not `plan` itself). */
const WORK_MODES = ["acceptEdits", "default", "bypassPermissions"] as const;

interface CardProps {
  request: RequestView;
  /** Posts the answer; resolves with an error message, or null when it was taken. */
  answer: (body: AnswerBody) => Promise<string | null>;
}

/**
 * The open requests of a session, newest last, each a card with its choices. Kept out of
 * the timeline so the conversation can be long without hiding what waits for a person.
 */
export function ApprovalDock({
  requests,
  onAnswered,
}: {
  requests: RequestView[];
  onAnswered: (request: RequestView, decision: string) => void;
}) {
  if (requests.length === 0) return null;
  return (
    <section className="approval-dock" aria-label="Waiting for you" data-testid="approval-dock">
      {requests.map((request) => {
        const answer = async (body: AnswerBody) => {
          try {
            await api.answerRequest(request.sandboxId, request.id, body);
            onAnswered(request, body.decision);
            return null;
          } catch (error) {
            return error instanceof Error ? error.message : "the answer was not taken";
          }
        };
        if (request.kind === "plan") return <PlanCard key={request.id} request={request} answer={answer} />;
        if (request.kind === "question") return <QuestionCard key={request.id} request={request} answer={answer} />;
        return <PermissionCard key={request.id} request={request} answer={answer} />;
      })}
    </section>
  );
}

function useAnswer(answer: CardProps["answer"]) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const send = async (body: AnswerBody) => {
    setBusy(true);
    setError(null);
    const problem = await answer(body);
    setBusy(false);
    setError(problem);
  };
  return { busy, error, send };
}

function CardError({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <div className="alert alert-danger" role="alert" data-testid="approval-error">
      {error}
    </div>
  );
}

/** What the tool would do, in one glance: the command, the file, or the input as JSON. */
function toolSummary(request: RequestView): string {
  const input = request.input;
  if (typeof input.command === "string") return input.command;
  if (typeof input.file_path === "string") {
    const content = typeof input.content === "string" ? `\n\n${input.content.slice(0, 2000)}` : "";
    return `${input.file_path}${content}`;
  }
  return JSON.stringify(input, null, 2).slice(0, 4000);
}

export function PermissionCard({ request, answer }: CardProps) {
  const id = useId();
  const { busy, error, send } = useAnswer(answer);
  const [denying, setDenying] = useState(false);
  const [reason, setReason] = useState("");
  const pattern = request.rules.join(", ");
  return (
    <article className="approval-card" data-testid="permission-card" data-request-id={request.id}>
      <header className="approval-head">
        <span className="approval-kind">Permission</span>
        <strong>
          Allow <code>{request.tool}</code>?
        </strong>
      </header>
      {request.description ? <p className="muted small">{request.description}</p> : null}
      <pre className="approval-detail" data-testid="permission-input">
        {toolSummary(request)}
      </pre>
      {denying ? (
        <div className="approval-deny">
          <label htmlFor={`${id}-reason`}>Reason the agent will see (optional)</label>
          <input
            id={`${id}-reason`}
            className="input"
            data-testid="deny-reason"
            value={reason}
            onChange={(event) => setReason(event.target.value)}
          />
        </div>
      ) : null}
      <CardError error={error} />
      <div className="approval-actions">
        {denying ? (
          <>
            <button
              type="button"
              className="button danger"
              data-testid="confirm-deny"
              disabled={busy}
              onClick={() => void send({ decision: "deny", ...(reason.trim() ? { reason: reason.trim() } : {}) })}
            >
              Deny
            </button>
            <button type="button" className="button" disabled={busy} onClick={() => setDenying(false)}>
              Back
            </button>
          </>
        ) : (
          <>
            <button
              type="button"
              className="button primary"
              data-testid="allow-button"
              disabled={busy}
              onClick={() => void send({ decision: "allow" })}
            >
              Allow
            </button>
            <button
              type="button"
              className="button"
              data-testid="always-allow-button"
              disabled={busy}
              title={pattern ? `Allow ${pattern} for the rest of this task` : undefined}
              onClick={() => void send({ decision: "allow", remember: true })}
            >
              Always allow{pattern ? ` ${pattern}` : ""}
            </button>
            <button
              type="button"
              className="button danger"
              data-testid="deny-button"
              disabled={busy}
              onClick={() => setDenying(true)}
            >
              Deny…
            </button>
          </>
        )}
      </div>
    </article>
  );
}

export function PlanCard({ request, answer }: CardProps) {
  const id = useId();
  const { busy, error, send } = useAnswer(answer);
  const [mode, setMode] = useState<PermissionMode>("acceptEdits");
  const [feedback, setFeedback] = useState("");
  return (
    <article className="approval-card" data-testid="plan-card" data-request-id={request.id}>
      <header className="approval-head">
        <span className="approval-kind">Plan</span>
        <strong>The agent proposes a plan</strong>
      </header>
      <div className="approval-plan" data-testid="plan-text">
        <Markdown text={request.plan || "_(the agent sent no plan text)_"} />
      </div>
      <div className="approval-row">
        <label htmlFor={`${id}-mode`}>Then work in</label>
        <select
          id={`${id}-mode`}
          className="input"
          data-testid="plan-mode"
          value={mode}
          onChange={(event) => setMode(event.target.value as PermissionMode)}
        >
          {WORK_MODES.map((value) => (
            <option key={value} value={value}>
              {MODE_LABELS[value]}
            </option>
          ))}
        </select>
      </div>
      <div className="approval-deny">
        <label htmlFor={`${id}-feedback`}>Feedback to keep planning (optional)</label>
        <input
          id={`${id}-feedback`}
          className="input"
          data-testid="plan-feedback"
          value={feedback}
          onChange={(event) => setFeedback(event.target.value)}
        />
      </div>
      <CardError error={error} />
      <div className="approval-actions">
        <button
          type="button"
          className="button primary"
          data-testid="approve-plan"
          disabled={busy}
          onClick={() => void send({ decision: "approve", mode })}
        >
          Approve and start
        </button>
        <button
          type="button"
          className="button"
          data-testid="keep-planning"
          disabled={busy}
          onClick={() =>
            void send({ decision: "keep_planning", ...(feedback.trim() ? { reason: feedback.trim() } : {}) })
          }
        >
          Keep planning
        </button>
      </div>
    </article>
  );
}

export function QuestionCard({ request, answer }: CardProps) {
  const id = useId();
  const { busy, error, send } = useAnswer(answer);
  const [chosen, setChosen] = useState<string[]>(() => request.questions.map(() => ""));
  const [free, setFree] = useState<string[]>(() => request.questions.map(() => ""));
  const answers = request.questions.map((_, index) => free[index].trim() || chosen[index]);
  const complete = answers.every((value) => value.length > 0);
  return (
    <article className="approval-card" data-testid="question-card" data-request-id={request.id}>
      <header className="approval-head">
        <span className="approval-kind">Question</span>
        <strong>The agent asks</strong>
      </header>
      {request.questions.map((question, index) => (
        <fieldset key={`${request.id}-${question.question}`} className="approval-question">
          <legend>
            {question.header ? <span className="approval-kind">{question.header}</span> : null} {question.question}
          </legend>
          <div className="approval-options">
            {question.options.map((option) => (
              <button
                key={option.label}
                type="button"
                className={`chip ${chosen[index] === option.label && !free[index].trim() ? "chip-on" : ""}`}
                aria-pressed={chosen[index] === option.label && !free[index].trim()}
                data-testid="question-option"
                title={option.description ?? undefined}
                onClick={() => {
                  setChosen((current) => current.map((value, at) => (at === index ? option.label : value)));
                  setFree((current) => current.map((value, at) => (at === index ? "" : value)));
                }}
              >
                {option.label}
              </button>
            ))}
          </div>
          <label className="sr-only" htmlFor={`${id}-free-${index}`}>
            Your own answer
          </label>
          <input
            id={`${id}-free-${index}`}
            className="input"
            data-testid="question-free"
            placeholder="…or answer in your own words"
            value={free[index]}
            onChange={(event) =>
              setFree((current) => current.map((value, at) => (at === index ? event.target.value : value)))
            }
          />
        </fieldset>
      ))}
      <CardError error={error} />
      <div className="approval-actions">
        <button
          type="button"
          className="button primary"
          data-testid="answer-question"
          disabled={busy || !complete}
          onClick={() => void send({ decision: "answer", answers })}
        >
          Answer
        </button>
        <button
          type="button"
          className="button"
          data-testid="decline-question"
          disabled={busy}
          onClick={() => void send({ decision: "deny" })}
        >
          Decline
        </button>
      </div>
    </article>
  );
}

/** The mode selector of the new-task form and the composer. */
export function ModeSelect({
  value,
  onChange,
  testId,
  disabled = false,
}: {
  value: string;
  onChange: (mode: string) => void;
  testId: string;
  disabled?: boolean;
}) {
  const id = useId();
  return (
    <span className="mode-select">
      <label htmlFor={id}>Mode</label>
      <select
        id={id}
        className="input"
        data-testid={testId}
        value={value}
        disabled={disabled}
        onChange={(event) => onChange(event.target.value)}
      >
        {Object.entries(MODE_LABELS).map(([mode, label]) => (
          <option key={mode} value={mode}>
            {label}
          </option>
        ))}
      </select>
    </span>
  );
}
