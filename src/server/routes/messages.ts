import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { EntityId } from "../../protocol/ids.ts";
import {
  MessageFrame,
  PostMessageBody,
  PostMessageResponse,
  toMessageFrame,
} from "../../protocol/message.ts";
import type { ServerContext } from "../context.ts";
import { parseRequest } from "../http-errors.ts";
import { routeSchema } from "../openapi.ts";
import type { PrototypeProducers } from "../prototype-producers.ts";

const Params = z.object({ id: EntityId });
const hasContent = (body: PostMessageBody) =>
  body.message_type === "interrupt" || body.content.trim().length > 0;
const contentError = { message: "content must not be empty", path: ["content"] };
const Body = PostMessageBody.refine(hasContent, contentError);
/** The task route is Omoi's own (no client of the prototype to stay compatible with): unknown fields are refused. */
const TaskMessageBody = PostMessageBody.strict().refine(hasContent, contentError);

export function messageRoutes(
  app: FastifyInstance,
  context: ServerContext,
  producers: PrototypeProducers,
) {
  const postSchema = routeSchema({
    summary: "Send a message to a sandbox's agent",
    params: Params,
    body: Body,
    response: { 201: PostMessageResponse },
  });
  app.post("/api/v1/sandboxes/:id/messages", { schema: postSchema }, async (request, reply) => {
    const { id } = parseRequest(Params, request.params, "sandbox id");
    const body = parseRequest(Body, request.body, "message body");
    const message = await context.control.postMessage(id, body);
    reply.status(201);
    return { status: "queued", message_id: message.id, sandbox_id: message.sandbox_id };
  });

  // The prototype worker's poll: returns pending messages and consumes them.
  const pollSchema = routeSchema({
    summary: "Take a sandbox's pending messages (the prototype worker's poll)",
    description: "Returns the pending messages and marks them delivered.",
    params: Params,
    response: { 200: z.array(MessageFrame) },
  });
  app.get("/api/v1/sandboxes/:id/messages", { schema: pollSchema }, async (request) => {
    const { id } = parseRequest(Params, request.params, "sandbox id");
    await producers.taskOf(id);
    const messages = await context.store.takePendingMessages(id);
    await producers.heartbeat(id);
    return messages.map(toMessageFrame);
  });

  const taskSchema = routeSchema({
    summary: "Send a message to a task's agent",
    description: "Wakes the task's idle sandbox, or resumes its session in a new one.",
    params: Params,
    body: TaskMessageBody,
    response: { 201: PostMessageResponse },
  });
  app.post("/api/v1/tasks/:id/messages", { schema: taskSchema }, async (request, reply) => {
    const { id } = parseRequest(Params, request.params, "task id");
    const body = parseRequest(TaskMessageBody, request.body, "message body");
    const message = await context.control.postTaskMessage(id, body);
    reply.status(201);
    return { status: "queued", message_id: message.id, sandbox_id: message.sandbox_id };
  });
}
