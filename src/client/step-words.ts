/*
 * One line of plain words for each step around the agent's own work — the repository's
 * clone, commits and pushes, the environment's setup, requests that wait for a person and
 * their answers, permission-mode switches, resource limits — shared by the web app's session
 * view and the terminal, so both say the same thing. Payloads are read loosely (no schema
 * library reaches the web bundle); a missing field reads as "?".
 */

export type StepTone = "info" | "success" | "warn" | "danger";

export interface StepWords {
  text: string;
  tone: StepTone;
}

type Payload = Record<string, unknown>;

const text = (payload: Payload, key: string): string | undefined =>
  typeof payload[key] === "string" ? (payload[key] as string) : undefined;
const count = (payload: Payload, key: string): number | undefined =>
  typeof payload[key] === "number" && Number.isFinite(payload[key])
    ? (payload[key] as number)
    : undefined;
const short = (sha: string | undefined) => (sha ? sha.slice(0, 8) : "?");

/** `1.2s`, `350ms`, `2m5s`. */
export function stepDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

/** Who answered a request, in brackets: the person's client, or that nobody did. */
function answeredBy(payload: Payload): string {
  const by =
    typeof payload.answered_by === "object" && payload.answered_by !== null
      ? (payload.answered_by as Payload)
      : {};
  if (by.kind === "person") return text(by, "client") ? ` (${text(by, "client")})` : "";
  if (by.kind === "policy") return " (no answer: the task's policy)";
  return by.kind === "system" ? " (no answer)" : "";
}

function resolved(payload: Payload): StepWords {
  const by = answeredBy(payload);
  const reason = text(payload, "reason") ? `: ${text(payload, "reason")}` : "";
  switch (text(payload, "decision")) {
    case "allow":
      return {
        text: `Allowed${payload.remember === true ? " from now on" : ""}${by}`,
        tone: "success",
      };
    case "approve": {
      const mode = text(payload, "mode");
      return { text: `Plan approved${mode ? `, working in ${mode}` : ""}${by}`, tone: "success" };
    }
    case "answer": {
      const answers = Array.isArray(payload.answers)
        ? payload.answers.filter((a) => typeof a === "string")
        : [];
      return { text: `Answered: ${answers.join(", ")}${by}`, tone: "success" };
    }
    case "keep_planning":
      return { text: `Keep planning${reason}${by}`, tone: "warn" };
    case "deny":
      return { text: `Denied${reason}${by}`, tone: "warn" };
    default:
      return { text: `${text(payload, "decision") ?? "Closed"}${reason}${by}`, tone: "warn" };
  }
}

function limitPassed(payload: Payload): StepWords {
  const unit = text(payload, "unit");
  const amount = (value: number | undefined) =>
    value === undefined
      ? "?"
      : unit === "bytes"
        ? `${Math.round(value / 1024 / 1024)} MiB`
        : unit === "ms"
          ? stepDuration(value)
          : `${value}`;
  const name = (text(payload, "limit") ?? "a").replace("_", " ");
  return {
    text: `${name[0]!.toUpperCase()}${name.slice(1)} limit passed: ${amount(count(payload, "value"))} of ${amount(count(payload, "max"))} allowed`,
    tone: "danger",
  };
}

export function stepWords(type: string, payload: Payload): StepWords | undefined {
  switch (type) {
    case "repo.cloned": {
      const how = payload.continued === true ? "continuing it" : "a new branch";
      return {
        text: `Cloned ${text(payload, "url") ?? "?"} · ${text(payload, "base_branch") ?? "?"} @ ${short(text(payload, "base_sha"))} → ${text(payload, "branch") ?? "?"} (${how})`,
        tone: "info",
      };
    }
    case "repo.committed":
      return {
        text: `Committed ${short(text(payload, "sha"))} ${(text(payload, "message") ?? "").split("\n")[0]}`.trim(),
        tone: "info",
      };
    case "repo.changes": {
      const files = Array.isArray(payload.files) ? payload.files.length : 0;
      return {
        text: `Changes: ${files} file${files === 1 ? "" : "s"} +${count(payload, "added") ?? 0} −${count(payload, "removed") ?? 0}`,
        tone: "info",
      };
    }
    case "repo.pushed":
      return {
        text: `Pushed ${text(payload, "branch") ?? "?"} @ ${short(text(payload, "sha"))} to ${text(payload, "url") ?? "?"}`,
        tone: "success",
      };
    case "repo.push_failed": {
      const code = text(payload, "code") ? ` (${text(payload, "code")})` : "";
      return { text: `Not pushed${code}: ${text(payload, "reason") ?? "unknown"}`, tone: "danger" };
    }
    case "task.pull_request": {
      const state = payload.draft === true ? "draft" : (text(payload, "state") ?? "open");
      return {
        text: `Pull request #${count(payload, "number") ?? "?"} ${state} ${text(payload, "url") ?? ""}`.trim(),
        tone: "success",
      };
    }
    case "environment.setup_started": {
      const script =
        text(payload, "source") === "repository"
          ? "the repository's .omoi/setup.sh"
          : `environment ${text(payload, "environment") ?? "?"}`;
      if (payload.snapshot === true)
        return { text: `Setup: restoring the snapshot of ${script}`, tone: "info" };
      return {
        text: `Setup started: ${script} · network ${text(payload, "network") ?? "?"}`,
        tone: "info",
      };
    }
    case "environment.setup_finished": {
      const took = stepDuration(count(payload, "duration_ms") ?? 0);
      const exit = payload.exit_code;
      const error = text(payload, "error");
      if (error || exit !== 0) {
        const code = typeof exit === "number" ? ` (exit ${exit})` : "";
        return {
          text: `Setup failed${code} after ${took}${error ? `: ${error}` : ""}`,
          tone: "danger",
        };
      }
      return {
        text:
          payload.cached === true
            ? `Setup restored from its snapshot in ${took}`
            : `Setup finished in ${took}`,
        tone: "info",
      };
    }
    case "environment.pool_ready":
      return { text: "Warm sandbox ready for a task", tone: "info" };
    case "agent.permission_requested":
      return { text: `${text(payload, "tool") ?? "A tool"} asks for permission`, tone: "warn" };
    case "agent.plan_proposed":
      return { text: "The agent proposes a plan", tone: "warn" };
    case "agent.question":
      return { text: "The agent asks a question", tone: "warn" };
    case "agent.permission_resolved":
      return resolved(payload);
    case "sandbox.mode_requested":
      return { text: `Mode change requested: ${text(payload, "mode") ?? "?"}`, tone: "info" };
    case "agent.mode_changed": {
      const previous = text(payload, "previous") ? ` (was ${text(payload, "previous")})` : "";
      return { text: `Permission mode: ${text(payload, "mode") ?? "?"}${previous}`, tone: "info" };
    }
    case "agent.limit_exceeded":
      return limitPassed(payload);
    default:
      return undefined;
  }
}
