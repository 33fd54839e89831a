import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseWith } from "../protocol/json.ts";
import { sendError } from "./anthropic-error.ts";
import { readBody } from "./body.ts";
import type { ModelLogger } from "./logger.ts";
import { type PlanOptions, planResponse } from "./plan.ts";
import { countTokensRequestSchema, messagesRequestSchema } from "./request.ts";
import type { Failure, Pace, ScenarioSet } from "./scenario.ts";
import { scenarioNamePattern } from "./scenario.ts";
import { messageBody, streamPlan } from "./stream.ts";
import { inputTokens } from "./tokens.ts";

export interface HandlerContext {
  scenarios: ScenarioSet;
  defaultScenario: string;
  pace: Pace;
  failure: Failure | undefined;
  logger: ModelLogger;
}

const newId = (prefix: string): string => `${prefix}${randomBytes(12).toString("hex")}`;

function sendJson(res: ServerResponse, status: number, body: unknown, requestId: string): void {
  res.writeHead(status, { "content-type": "application/json", "request-id": requestId });
  res.end(JSON.stringify(body));
}

function headerScenario(req: IncomingMessage): string | undefined | Error {
  const value = req.headers["x-omoi-scenario"];
  if (value === undefined) return undefined;
  const name = Array.isArray(value) ? value[0] : value;
  if (!scenarioNamePattern.test(name))
    return new Error(`header x-omoi-scenario: bad name '${name}'`);
  return name;
}

function sendFailure(res: ServerResponse, failure: Failure, requestId: string): void {
  if (failure.drop) {
    res.destroy();
    return;
  }
  const message = failure.message ?? `scripted failure (HTTP ${failure.status})`;
  sendError(res, failure.status, message, {
    type: failure.errorType,
    retryable: failure.retryable,
    requestId,
  });
}

export async function handleMessages(
  req: IncomingMessage,
  res: ServerResponse,
  context: HandlerContext,
): Promise<void> {
  const requestId = newId("req_");
  const body = await readBody(req);
  if (!body.ok) return sendError(res, body.status, body.error, { requestId });
  const parsed = parseWith(messagesRequestSchema, body.text);
  if (!parsed.ok) return sendError(res, 400, parsed.error, { requestId });
  const request = parsed.value;
  const fromHeader = headerScenario(req);
  if (fromHeader instanceof Error) return sendError(res, 400, fromHeader.message, { requestId });
  const options: PlanOptions = {
    scenarios: context.scenarios,
    defaultScenario: context.defaultScenario,
    pace: context.pace,
    headerScenario: fromHeader,
  };
  const result = planResponse(request, options);
  if (!result.ok) return sendError(res, 400, result.error, { requestId });
  const plan = result.plan;
  if (context.failure) plan.fail = context.failure;
  context.logger.debug(
    {
      requestId,
      scenario: plan.scenario,
      source: plan.source,
      step: plan.step,
      answering: plan.answering.slice(0, 200),
      stream: request.stream === true,
    },
    "scripted response",
  );
  if (plan.fail && !(plan.fail.drop && request.stream)) {
    return sendFailure(res, plan.fail, requestId);
  }
  const meta = {
    id: newId("msg_01"),
    model: request.model,
    inputTokens: inputTokens(request),
    requestId,
  };
  if (!request.stream) return sendJson(res, 200, messageBody(plan, meta), requestId);
  const abort = new AbortController();
  res.on("close", () => abort.abort());
  await streamPlan(res, plan, meta, abort.signal);
}

export async function handleCountTokens(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = newId("req_");
  const body = await readBody(req);
  if (!body.ok) return sendError(res, body.status, body.error, { requestId });
  const parsed = parseWith(countTokensRequestSchema, body.text);
  if (!parsed.ok) return sendError(res, 400, parsed.error, { requestId });
  sendJson(res, 200, { input_tokens: inputTokens(parsed.value) }, requestId);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const models = ["claude-opus-5-5", "claude-sonnet-4-6", "claude-haiku-4-5"];

export function handleModels(res: ServerResponse, id: string | undefined): void {
  const requestId = newId("req_");
  const entry = (model: string) => ({
    type: "model",
    id: model,
    display_name: `${model} (scripted)`,
    created_at: "2025-01-01T00:00:00Z",
  });
  if (id === undefined) {
    const data = models.map(entry);
    const page = { data, has_more: false, first_id: models[0], last_id: models.at(-1) };
    sendJson(res, 200, page, requestId);
    return;
  }
  // Any model name works against the scripted model, so every id resolves.
  sendJson(res, 200, entry(safeDecode(id)), requestId);
}
