import type { Bus } from "./bus.ts";
import { MemoryBus } from "./memory.ts";
import { RedisBus } from "./redis.ts";

/**
 * Picks the bus from configuration: Redis for a `redis://` or `rediss://` URL, otherwise the
 * in-process bus. Does no I/O; call `start()` next.
 */
export function createBus(options: {
  redisUrl?: string;
  channel?: string;
  /** Names the Redis connections (`<name>:pub`, `<name>:sub`) for CLIENT LIST. */
  connectionName?: string;
  /** Called each time the subscription is live again after a reconnect (and at start). */
  onSubscribed?: () => void;
}): Bus {
  const url = options.redisUrl?.trim();
  if (!url) return new MemoryBus();
  if (/^rediss?:\/\//i.test(url)) {
    return new RedisBus(url, {
      channel: options.channel,
      connectionName: options.connectionName,
      onSubscribed: options.onSubscribed,
    });
  }
  const scheme = url.split(":")[0];
  throw new Error(
    `unsupported REDIS_URL scheme '${scheme}': use redis://host:6379 (or rediss:// for TLS), or leave REDIS_URL unset for the in-process bus`,
  );
}
