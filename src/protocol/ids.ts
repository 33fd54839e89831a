import { z } from "zod";

// The global Web Crypto (Node ≥ 19 and browsers): protocol/ stays free of Node imports.
const randomUUID = () => globalThis.crypto.randomUUID();

/**
 * Sandbox and task ids: 1–64 characters of letters, digits, `_` and `-`.
 * Omoi mints `sbx_<uuid>` / `task_<uuid>`; seed clients may bring their own (e.g. `sandbox-abc123`).
 */
export const EntityId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 characters of letters, digits, '_' or '-'");

export const Uuid = z.uuid();

export const newSandboxId = () => `sbx_${randomUUID().replaceAll("-", "").slice(0, 20)}`;
export const newTaskId = () => `task_${randomUUID().replaceAll("-", "").slice(0, 20)}`;
export const newEventId = () => randomUUID();
export const newMessageId = () => randomUUID();
