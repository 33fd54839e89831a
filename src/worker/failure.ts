import type { SDKResultMessage } from "@anthropic-ai/claude-agent-sdk";
import type { LimitBreach } from "../sandbox/limit-watchdog.ts";

/** Why a session ended in failure; `agent.failed.reason`. */
export type FailureReason =
  | "model_unreachable"
  | "model_error"
  | "turn_limit"
  | "budget_exceeded"
  | "cli_crashed"
  | "startup_failed"
  | "limit_exceeded"
  | "setup_failed";

export interface Failure {
  reason: FailureReason;
  error: string;
}

/** What went wrong with the model in the current turn, as the SDK reported it. */
export interface ModelTrouble {
  /** HTTP status of the last failed model request; null when there was no response at all. */
  status: number | null;
  detail: string;
}

/**
 * Whether a turn's result ends the session, and why. Turn and budget limits end it (every
 * further turn would hit them too); a turn that failed because the model endpoint did
 * (after the CLI's own retries) ends it with a reason that names the endpoint.
 */
export function failureOfResult(
  result: SDKResultMessage,
  trouble: ModelTrouble | null,
  modelBaseUrl: string,
): Failure | null {
  if (result.subtype === "error_max_turns") {
    return {
      reason: "turn_limit",
      error: `stopped: turn limit reached after ${result.num_turns} turns`,
    };
  }
  if (result.subtype === "error_max_budget_usd") {
    return {
      reason: "budget_exceeded",
      error: `stopped: budget exhausted (spent $${result.total_cost_usd.toFixed(4)})`,
    };
  }
  if (!result.is_error) return null;
  const status = result.subtype === "success" ? (result.api_error_status ?? null) : null;
  if (!trouble && status === null) return null;
  return modelFailure(
    trouble?.status ?? status,
    trouble?.detail ?? resultText(result),
    modelBaseUrl,
  );
}

export function modelFailure(status: number | null, detail: string, modelBaseUrl: string): Failure {
  if (status === null) {
    return {
      reason: "model_unreachable",
      error: `model endpoint ${modelBaseUrl} unreachable: ${detail}`,
    };
  }
  return {
    reason: "model_error",
    error: `model endpoint ${modelBaseUrl} answered HTTP ${status}: ${detail}`,
  };
}

function resultText(result: SDKResultMessage): string {
  if (result.subtype === "success") return result.result;
  return result.errors.join("; ");
}

/** A thrown SDK error as a failure: the CLI died or never started. */
export function failureOfError(error: unknown, sawInit: boolean): Failure {
  const message = error instanceof Error ? error.message : String(error);
  return {
    reason: sawInit ? "cli_crashed" : "startup_failed",
    error: sawInit
      ? `the agent CLI stopped unexpectedly: ${message}`
      : `the agent CLI failed to start: ${message}`,
  };
}

/** The sandbox went past a resource limit: the message names the limit, what was seen and the bound. */
export function limitFailure(breach: LimitBreach): Failure {
  const amount = (value: number) =>
    breach.unit === "bytes" ? `${Math.round(value / (1024 * 1024))} MB` : `${value} processes`;
  return {
    reason: "limit_exceeded",
    error: `stopped: the sandbox exceeded its ${breach.limit} limit (${amount(breach.value)}, limit ${amount(breach.max)})`,
  };
}
