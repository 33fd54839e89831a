import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import {
  AnswerBody,
  Approval,
  ApprovalList,
  SandboxModeAnswer,
  SetModeBody,
  TaskModeAnswer,
} from "../../protocol/approval.ts";
import { notFound, OmoiError } from "../../protocol/error.ts";
import { EntityId } from "../../protocol/ids.ts";
import { TERMINAL_SANDBOX_STATUSES } from "../../protocol/sandbox.ts";
import type { ServerContext } from "../context.ts";
import { parseRequest } from "../http-errors.ts";
import { routeSchema } from "../openapi.ts";
import { verifyWorkerToken } from "../worker-token.ts";

const Params = z.object({ id: EntityId });
const RequestParams = z.object({ id: EntityId, request_id: z.string().min(1).max(100) });
const ListQuery = z.object({ status: z.enum(["open", "all"]).default("all") });
/** Clients name themselves in `x-omoi-client` (`web`, `cli`); anything else is `api`. */
const ClientName = z.string().regex(/^[a-z][a-z0-9-]{0,19}$/);

function clientOf(request: FastifyRequest): string {
  const parsed = ClientName.safeParse(request.headers["x-omoi-client"]);
  return parsed.success ? parsed.data : "api";
}

/**
 * A sandbox's own worker token may post its events, never approve its own requests: the
 * agent must not answer for the person (even on the tokenless local default).
 */
function refuseWorkerToken(request: FastifyRequest, secret: string, sandboxId: string) {
  const header = request.headers.authorization;
  const token = header?.startsWith("Bearer ") ? header.slice(7) : undefined;
  if (token && verifyWorkerToken(secret, sandboxId, token)) {
    throw new OmoiError(
      "Forbidden",
      "a sandbox's worker token cannot answer its own requests or change its mode; a person answers with the API token",
      403,
    );
  }
}

export function approvalRoutes(app: FastifyInstance, context: ServerContext) {
  const listSchema = routeSchema({
    summary: "A sandbox's permission requests, plans and questions",
    params: Params,
    querystring: ListQuery,
    response: { 200: ApprovalList },
  });
  app.get("/api/v1/sandboxes/:id/permissions", { schema: listSchema }, async (request) => {
    const { id } = parseRequest(Params, request.params, "sandbox id");
    const query = parseRequest(ListQuery, request.query, "query");
    if (!(await context.store.getSandbox(id))) throw notFound("sandbox", id);
    const approvals = await context.approvals.list(
      id,
      query.status === "open" ? ["open"] : undefined,
    );
    return { approvals };
  });

  const answerSchema = routeSchema({
    summary: "Answer a request (once; a second answer is a 409)",
    params: RequestParams,
    body: AnswerBody,
    response: { 200: Approval },
  });
  const answerRoute = "/api/v1/sandboxes/:id/permissions/:request_id";
  app.post(answerRoute, { schema: answerSchema }, async (request) => {
    const { id, request_id } = parseRequest(RequestParams, request.params, "path");
    refuseWorkerToken(request, context.secret, id);
    const body = parseRequest(AnswerBody, request.body, "answer");
    return context.approvals.answer(id, request_id, body, clientOf(request));
  });

  const sandboxModeSchema = routeSchema({
    summary: "Change a running sandbox's permission mode",
    params: Params,
    body: SetModeBody,
    response: { 200: SandboxModeAnswer },
  });
  app.post("/api/v1/sandboxes/:id/mode", { schema: sandboxModeSchema }, async (request) => {
    const { id } = parseRequest(Params, request.params, "sandbox id");
    refuseWorkerToken(request, context.secret, id);
    const { mode } = parseRequest(SetModeBody, request.body, "mode");
    await context.approvals.setMode(id, mode);
    return { sandbox_id: id, mode };
  });

  // The task's open sandbox switches now; a task between sandboxes keeps the mode for the next.
  const taskModeSchema = routeSchema({
    summary: "Change a task's permission mode (its open sandbox now, or its next one)",
    params: Params,
    body: SetModeBody,
    response: { 200: TaskModeAnswer },
  });
  app.post("/api/v1/tasks/:id/mode", { schema: taskModeSchema }, async (request) => {
    const { id } = parseRequest(Params, request.params, "task id");
    const { mode } = parseRequest(SetModeBody, request.body, "mode");
    const task = await context.store.getTask(id);
    if (!task) throw notFound("task", id);
    if (task.sandbox_id) refuseWorkerToken(request, context.secret, task.sandbox_id);
    const sandbox = task.sandbox_id ? await context.store.getSandbox(task.sandbox_id) : undefined;
    if (sandbox && !TERMINAL_SANDBOX_STATUSES.includes(sandbox.status)) {
      await context.approvals.setMode(sandbox.id, mode);
      return { task_id: id, sandbox_id: sandbox.id, mode };
    }
    await context.store.updateTask(id, { permission_mode: mode });
    return { task_id: id, sandbox_id: null, mode };
  });
}
