import { createHmac, timingSafeEqual } from "node:crypto";

/** A worker proves which sandbox it serves with an HMAC of the sandbox id; nothing to store. */
export function workerToken(secret: string, sandboxId: string): string {
  return createHmac("sha256", secret).update(`omoi-worker:${sandboxId}`).digest("hex");
}

export function verifyWorkerToken(secret: string, sandboxId: string, token: string): boolean {
  const expected = Buffer.from(workerToken(secret, sandboxId));
  const given = Buffer.from(token);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
