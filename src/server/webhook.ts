import { createHmac } from "node:crypto";
import type { Logger } from "../log/logger.ts";

/** The header carrying `sha256=<hex HMAC-SHA256 of the raw body>` keyed by OMOI_WEBHOOK_SECRET. */
export const WEBHOOK_SIGNATURE_HEADER = "x-omoi-signature";
const TIMEOUT_MS = 5_000;

export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/**
 * Posts JSON notices to one URL, signed. Delivery is best effort (one try, 5 s): the
 * request itself is durable in Omoi and visible in every client, the webhook only tells
 * people sooner.
 */
export class Webhook {
  constructor(
    private readonly target: { url: string; secret: string },
    private readonly logger: Logger,
  ) {}

  async post(notice: Record<string, unknown>): Promise<void> {
    const body = JSON.stringify(notice);
    try {
      const response = await fetch(this.target.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [WEBHOOK_SIGNATURE_HEADER]: signWebhookBody(this.target.secret, body),
        },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (!response.ok) this.logger.warn({ status: response.status }, "webhook refused the notice");
    } catch (error) {
      this.logger.warn({ err: String(error) }, "webhook unreachable");
    }
  }
}
