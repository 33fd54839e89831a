/*
 * The value lists the protocol's zod enums are built from. No zod here, so the web app
 * may import these values without carrying zod into its bundle.
 */

export const TASK_STATUSES = [
  "pending",
  "assigned",
  "running",
  "completed",
  "failed",
  "cancelled",
] as const;

export const SANDBOX_STATUSES = [
  "pending",
  "starting",
  "running",
  "idle",
  "completed",
  "failed",
  "terminated",
] as const;

export const PRIORITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW"] as const;

export const MESSAGE_TYPES = ["user_message", "interrupt", "guardian_nudge", "system"] as const;

/** `steer`: folded into the running turn at the next safe point. `queue`: after the turn ends. */
export const MESSAGE_DELIVERIES = ["steer", "queue"] as const;

/** How much the agent may do alone (see approval.ts). */
export const PERMISSION_MODES = ["default", "acceptEdits", "plan", "bypassPermissions"] as const;

/** `permission`: a tool call waits for Allow/Deny. `plan`: a plan waits for approval. `question`: the agent asks. */
export const APPROVAL_KINDS = ["permission", "plan", "question"] as const;
