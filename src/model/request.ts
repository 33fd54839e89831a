import { z } from "zod";

/**
 * The parts of an Anthropic Messages request the scripted model reads. Everything else
 * (metadata, context_management, output_config, …) passes through unchecked.
 * Quirk: Claude Code puts a `role: "system"` message (environment notes) inside `messages`.
 */
const contentBlockSchema = z.looseObject({ type: z.string().min(1) });
export type ContentBlock = z.infer<typeof contentBlockSchema>;

const messageSchema = z.looseObject({
  role: z.enum(["user", "assistant", "system"]),
  content: z.union([z.string(), z.array(contentBlockSchema)]),
});
export type RequestMessage = z.infer<typeof messageSchema>;

const systemSchema = z.union([
  z.string(),
  z.array(z.looseObject({ type: z.string(), text: z.string().optional() })),
]);

const toolSchema = z.looseObject({ name: z.string().min(1) });

const thinkingSchema = z.looseObject({ type: z.string() });

export const messagesRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(messageSchema).min(1, "messages: at least one message is required"),
  max_tokens: z.number().int().positive(),
  system: systemSchema.optional(),
  tools: z.array(toolSchema).optional(),
  thinking: thinkingSchema.optional(),
  stream: z.boolean().optional(),
});
export type MessagesRequest = z.infer<typeof messagesRequestSchema>;

export const countTokensRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(messageSchema),
  system: systemSchema.optional(),
  tools: z.array(toolSchema).optional(),
});
export type CountTokensRequest = z.infer<typeof countTokensRequestSchema>;
