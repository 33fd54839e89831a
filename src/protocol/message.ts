import { z } from "zod";

export const MessageType = z.enum(["user_message", "interrupt", "guardian_nudge", "system"]);
export type MessageType = z.infer<typeof MessageType>;

/** `steer`: folded into the running turn at the next safe point. `queue`: after the turn ends. */
export const MessageDelivery = z.enum(["steer", "queue"]);
export type MessageDelivery = z.infer<typeof MessageDelivery>;

export const MAX_MESSAGE_CHARS = 100_000;

export const PostMessageBody = z.object({
  content: z.string().max(MAX_MESSAGE_CHARS),
  message_type: MessageType.default("user_message"),
  delivery: MessageDelivery.default("steer"),
});
export type PostMessageBody = z.infer<typeof PostMessageBody>;

export type MessageStatus = "pending" | "delivered";

export interface StoredMessage {
  id: string;
  sandbox_id: string;
  message_type: MessageType;
  delivery: MessageDelivery;
  content: string;
  status: MessageStatus;
  created_at: number;
  delivered_at: number | null;
}

/** What a worker receives for one message (pushed on the channel or returned by the poll). */
export interface MessageFrame {
  id: string;
  message_id: string;
  sandbox_id: string;
  message_type: MessageType;
  delivery: MessageDelivery;
  content: string;
  created_at: number;
}

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
