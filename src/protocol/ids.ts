import { z } from "zod";
import { ENTITY_ID_PATTERN, ENTITY_ID_RULE } from "./id-pattern.ts";

// The global Web Crypto (Node ≥ 19 and browsers): protocol/ stays free of Node imports.
const randomUUID = () => globalThis.crypto.randomUUID();

/**
 * Sandbox and task ids: 1–64 characters of letters, digits, `_` and `-`.
 * Omoi mints `sbx_<uuid>` / `task_<uuid>`; the prototype's clients may bring their own (e.g. `sandbox-abc123`).
 */
export const EntityId = z.string().regex(ENTITY_ID_PATTERN, ENTITY_ID_RULE);

export const Uuid = z.uuid();

export const newSandboxId = () => `sbx_${randomUUID().replaceAll("-", "").slice(0, 20)}`;
export const newTaskId = () => `task_${randomUUID().replaceAll("-", "").slice(0, 20)}`;
export const newEventId = () => randomUUID();
export const newMessageId = () => randomUUID();
