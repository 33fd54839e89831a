import { z } from "zod";
import { MESSAGE_DELIVERIES, MESSAGE_TYPES } from "./enums.ts";

export const MessageType = z.enum(MESSAGE_TYPES);
export type MessageType = z.infer<typeof MessageType>;

/** `steer`: folded into the running turn at the next safe point. `queue`: after the turn ends. */
export const MessageDelivery = z.enum(MESSAGE_DELIVERIES);
export type MessageDelivery = z.infer<typeof MessageDelivery>;

export const MAX_MESSAGE_CHARS = 100_000;

export const PostMessageBody = z.object({
  content: z.string().max(MAX_MESSAGE_CHARS),
  message_type: MessageType.default("user_message"),
  delivery: MessageDelivery.default("steer"),
});
export type PostMessageBody = z.infer<typeof PostMessageBody>;
/** What a client sends to post a message (fields with defaults may be left out). */
export type PostMessageInput = z.input<typeof PostMessageBody>;

export const MessageStatus = z.enum(["pending", "delivered"]);
export type MessageStatus = z.infer<typeof MessageStatus>;

export const StoredMessage = z.object({
  id: z.string(),
  sandbox_id: z.string(),
  message_type: MessageType,
  delivery: MessageDelivery,
  content: z.string(),
  status: MessageStatus,
  created_at: z.number(),
  delivered_at: z.number().nullable(),
});
export type StoredMessage = z.infer<typeof StoredMessage>;

/** What a worker receives for one message (pushed on the channel or returned by the poll). */
export const MessageFrame = z.object({
  id: z.string().min(1),
  message_id: z.string().min(1),
  sandbox_id: z.string(),
  message_type: MessageType,
  delivery: MessageDelivery,
  content: z.string(),
  created_at: z.number(),
});
export type MessageFrame = z.infer<typeof MessageFrame>;

/** The answer to a posted message. */
export const PostMessageResponse = z.object({
  status: z.literal("queued"),
  message_id: z.string(),
  sandbox_id: z.string(),
});
export type PostMessageResponse = z.infer<typeof PostMessageResponse>;

export function toMessageFrame(message: StoredMessage): MessageFrame {
  return {
    id: message.id,
    message_id: message.id,
    sandbox_id: message.sandbox_id,
    message_type: message.message_type,
    delivery: message.delivery,
    content: message.content,
    created_at: message.created_at,
  };
}
