import { randomBytes } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import { redactUrl } from "../log/redact-url.ts";
import type { StoredEvent } from "../protocol/event.ts";
import type { OmoiEvent } from "../protocol/events.ts";
import type { Bus, Unsubscribe } from "./bus.ts";
import { FanOut } from "./fan-out.ts";
import { type BusErrorHandler, logBusError } from "./report.ts";
import { decodeMessage, encodeMessage } from "./wire.ts";

export const DEFAULT_REDIS_CHANNEL = "omoi:events";

export interface RedisBusOptions {
  /** The pub/sub channel; replicas sharing one set of viewers must use the same one. */
  channel?: string;
  /** Names the connections (`<name>:pub`, `<name>:sub`) in Redis's CLIENT LIST. */
  connectionName?: string;
  onError?: BusErrorHandler;
  /**
   * Called each time the subscription is confirmed: once in start(), then after every
   * reconnect. Events published while the subscriber was away are not replayed by Redis;
   * consumers fill such gaps from the store by seq.
   */
  onSubscribed?: () => void;
}

/** Reconnect quickly: every moment disconnected is events the subscriber misses. */
const retryStrategy = (times: number) => Math.min(times * 100, 2000);

/**
 * The scaled-out bus on Redis pub/sub: one connection publishes, another subscribes (a
 * subscribed Redis connection can do nothing else). Every replica subscribes to the same
 * channel. A replica hands its own events to its local subscribers at once, in publish
 * order, and skips their echo from Redis by its origin tag (without parsing it), so its own
 * viewers do not wait for the round trip; other replicas' events arrive in the order Redis
 * delivers them.
 */
export class RedisBus implements Bus {
  readonly kind = "redis";
  readonly channel: string;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly fanOut: FanOut;
  private readonly onError: BusErrorHandler;
  private readonly onSubscribed: (() => void) | undefined;
  /** Tags this bus's messages on the channel, so it can skip their echo. */
  private readonly origin = randomBytes(8).toString("hex");
  private started = false;
  private closed = false;

  constructor(
    private readonly url: string,
    options: RedisBusOptions = {},
  ) {
    this.channel = options.channel ?? DEFAULT_REDIS_CHANNEL;
    this.onError = options.onError ?? logBusError;
    this.onSubscribed = options.onSubscribed;
    this.fanOut = new FanOut(this.onError);
    const common: RedisOptions = {
      lazyConnect: true,
      retryStrategy,
      // ioredis arms this timer even when the socket is already gone (a failed start), which
      // would hold the process open for its full length at shutdown.
      disconnectTimeout: 500,
    };
    const name = options.connectionName;
    this.publisher = new Redis(url, {
      ...common,
      connectionName: name && `${name}:pub`,
      // A publish is retried through a short blip, then given up (and reported).
      maxRetriesPerRequest: 2,
      // Publishes issued in one tick (a batch's events) leave in one socket write.
      enableAutoPipelining: true,
    });
    this.subscriber = new Redis(url, {
      ...common,
      connectionName: name && `${name}:sub`,
      // We resubscribe ourselves on `ready`, so we know when the subscription is live again.
      autoResubscribe: false,
    });
    this.subscriber.on("message", (channel: string, text: string) => this.receive(channel, text));
    this.subscriber.on("ready", () => this.resubscribe());
    this.publisher.on("error", (error) => this.reportConnection(error, "publisher"));
    this.subscriber.on("error", (error) => this.reportConnection(error, "subscriber"));
  }

  async start(): Promise<void> {
    if (this.started) return;
    try {
      await Promise.all([this.publisher.connect(), this.subscriber.connect()]);
      await this.subscriber.subscribe(this.channel);
    } catch (error) {
      // Stop the background reconnect loops a failed connect leaves behind.
      this.publisher.disconnect();
      this.subscriber.disconnect();
      throw new Error(
        `could not connect to Redis at ${redactUrl(this.url)}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    this.started = true;
    this.onSubscribed?.();
  }

  async publish(event: StoredEvent): Promise<void> {
    if (this.closed) return;
    if (!this.started) throw new Error("RedisBus.publish() called before start()");
    this.fanOut.deliver(event);
    // Queued on the publisher connection in call order, which is the order other replicas
    // hear; Redis's reply is not waited for, so a producer's acknowledgement (and its next
    // batch) never waits a Redis round trip. A failed publish is reported: the event is
    // already stored and local viewers have it, and a viewer on another replica that misses
    // it fills the gap from the store.
    this.publisher.publish(this.channel, encodeMessage(this.origin, event)).catch((error) => {
      if (!this.closed)
        this.onError(error, `redis publish of ${event.event_type} ${event.id} failed`);
    });
  }

  subscribe(handler: (event: OmoiEvent) => void): Unsubscribe {
    return this.fanOut.add(handler);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fanOut.clear();
    await Promise.all([quit(this.publisher), quit(this.subscriber)]);
  }

  private receive(channel: string, text: string): void {
    if (channel !== this.channel || this.closed) return;
    const decoded = decodeMessage(text, this.origin);
    if (decoded.ok && decoded.own) return;
    if (!decoded.ok) {
      this.onError(new Error(decoded.error), `ignored a malformed message on ${channel}`);
      return;
    }
    this.fanOut.deliver(decoded.event);
  }

  /** After a reconnect (not the first connect, which start() handles). */
  private resubscribe(): void {
    if (!this.started || this.closed) return;
    this.subscriber.subscribe(this.channel).then(
      () => this.onSubscribed?.(),
      (error: unknown) => this.onError(error, `redis resubscribe to ${this.channel} failed`),
    );
  }

  private reportConnection(error: Error, role: string): void {
    if (this.closed) return;
    this.onError(error, `redis ${role} connection error (reconnecting)`);
  }
}

async function quit(connection: Redis): Promise<void> {
  if (connection.status === "wait" || connection.status === "end") {
    connection.disconnect();
    return;
  }
  try {
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}
