import { z } from "zod";
import { Backoff } from "../protocol/backoff.ts";
import { formatIssues } from "../protocol/json.ts";
import type { OutgoingEvent } from "./agent-event.ts";
import { log as defaultLog, type Logger } from "./log.ts";
import { Outbox, within } from "./outbox.ts";
import {
  DEFAULT_ORPHAN_TIMEOUT_MS,
  IncomingMessageSchema,
  orphanedReason,
  SeenIds,
  type Transport,
  type TransportHandlers,
} from "./transport.ts";

export interface HttpTransportOptions {
  serverUrl: string;
  sandboxId: string;
  /** Sent as `Authorization: Bearer …`. */
  token: string;
  pollIntervalMs?: number;
  batchSize?: number;
  requestTimeoutMs?: number;
  /** How long the worker keeps trying to reach a server before it stops its agent. */
  orphanTimeoutMs?: number;
  backoff?: Backoff;
  logger?: Logger;
}

const MessageList = z.array(z.unknown());
/** The poll's answers that mean the sandbox is over: unknown, ended (409 SandboxEnded), gone. */
const GONE_STATUSES = new Set([404, 409, 410]);

/**
 * The prototype's transport, kept as a fallback: events by `POST /api/v1/sandboxes/{id}/events`
 * (a JSON array, retried with the same ids until a 2xx), messages by polling
 * `GET /api/v1/sandboxes/{id}/messages` (which consumes them, so there is no `delivered`).
 * One POST at a time, so events are stored in emit order.
 */
export class HttpTransport implements Transport {
  private readonly outbox = new Outbox();
  private readonly seen = new SeenIds();
  private readonly postBackoff: Backoff;
  private readonly pollBackoff: Backoff;
  private readonly log: Logger;
  private handlers: TransportHandlers | null = null;
  private posting = false;
  private closed = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** When the server last answered a request (or the start). */
  private lastAnsweredAt = Date.now();

  constructor(private readonly options: HttpTransportOptions) {
    this.postBackoff = options.backoff ?? new Backoff();
    this.pollBackoff = new Backoff(options.pollIntervalMs ?? 250, 5_000);
    this.log = (options.logger ?? defaultLog).child({ component: "http-transport" });
  }

  start(handlers: TransportHandlers): void {
    this.handlers = handlers;
    void this.poll();
  }

  send(event: OutgoingEvent): void {
    this.outbox.add(event);
    queueMicrotask(() => void this.post());
  }

  delivered(_messageIds: string[]): void {
    // The prototype's poll hands each message out once; nothing to confirm.
  }

  pending(): number {
    return this.outbox.size();
  }

  flush(timeoutMs: number): Promise<boolean> {
    void this.post();
    return within(this.outbox.drained(), timeoutMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  private url(suffix: string): string {
    return new URL(
      `/api/v1/sandboxes/${encodeURIComponent(this.options.sandboxId)}/${suffix}`,
      this.options.serverUrl,
    ).toString();
  }

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.options.token}`, "content-type": "application/json" };
  }

  private async post() {
    if (this.posting || this.closed) return;
    this.posting = true;
    try {
      while (this.outbox.hasUnsent() && !this.closed) {
        const batch = this.outbox.takeBatch(this.options.batchSize ?? 200);
        const ids = batch.map((event) => event.id);
        const response = await this.request("POST", "events", JSON.stringify(batch));
        await response?.arrayBuffer().catch(() => undefined);
        if (!response) {
          this.outbox.release(ids);
          const delayMs = this.postBackoff.next();
          this.retryTimer = setTimeout(() => void this.post(), delayMs);
          return;
        }
        this.postBackoff.reset();
        this.outbox.acknowledge(ids);
      }
    } finally {
      this.posting = false;
    }
  }

  private async request(method: string, suffix: string, body?: string): Promise<Response | null> {
    try {
      const response = await fetch(this.url(suffix), {
        method,
        headers: this.headers(),
        body,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 10_000),
      });
      // A 5xx may be a proxy with no server behind it: only Omoi's own answers count.
      if (response.status < 500) this.lastAnsweredAt = Date.now();
      if (response.ok) return response;
      const text = await response.text().catch(() => "");
      this.log.warn(
        { method, suffix, status: response.status, body: text.slice(0, 300) },
        "server refused",
      );
      if (suffix === "messages" && GONE_STATUSES.has(response.status)) {
        this.handlers?.onStop(
          `sandbox ${this.options.sandboxId} is gone (HTTP ${response.status})`,
        );
      }
      return null;
    } catch (error) {
      this.log.warn({ method, suffix, err: String(error) }, "server unreachable");
      return null;
    }
  }

  private async poll() {
    if (this.closed) return;
    const response = await this.request("GET", "messages");
    let delayMs = this.options.pollIntervalMs ?? 250;
    if (response) {
      this.pollBackoff.reset();
      this.receive(await response.json().catch(() => null));
    } else {
      const silentMs = Date.now() - this.lastAnsweredAt;
      if (silentMs >= (this.options.orphanTimeoutMs ?? DEFAULT_ORPHAN_TIMEOUT_MS)) {
        this.log.error({ silentMs, pending: this.outbox.size() }, "no server reachable; stopping");
        this.handlers?.onStop(orphanedReason(silentMs));
        return;
      }
      delayMs = this.pollBackoff.next();
    }
    if (this.closed) return;
    this.pollTimer = setTimeout(() => void this.poll(), delayMs);
  }

  private receive(body: unknown) {
    const list = MessageList.safeParse(body);
    if (!list.success) {
      this.log.warn({ error: formatIssues(list.error.issues) }, "ignored bad message list");
      return;
    }
    for (const raw of list.data) {
      const parsed = IncomingMessageSchema.safeParse(raw);
      if (!parsed.success) {
        this.log.warn({ error: formatIssues(parsed.error.issues) }, "ignored malformed message");
        continue;
      }
      if (this.seen.add(parsed.data.id)) this.handlers?.onMessage(parsed.data);
    }
  }
}
