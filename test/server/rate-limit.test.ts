import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { RateLimiter } from "../../src/server/rate-limit.ts";
import { startTestOmoi, type TestOmoi } from "../helpers/omoi.ts";

/** POSTs a task from a chosen loopback address, so the server sees a distinct caller. */
function createFrom(url: string, localAddress: string, prompt: string) {
  return new Promise<{ status: number; retryAfter: string | undefined; body: string }>(
    (resolve, reject) => {
      const payload = JSON.stringify({ prompt });
      const outgoing = request(
        `${url}/api/v1/tasks`,
        {
          method: "POST",
          localAddress,
          headers: { "content-type": "application/json", "content-length": payload.length },
        },
        (response) => {
          let body = "";
          response.on("data", (chunk) => {
            body += chunk;
          });
          response.on("end", () =>
            resolve({
              status: response.statusCode ?? 0,
              retryAfter: response.headers["retry-after"] as string | undefined,
              body,
            }),
          );
        },
      );
      outgoing.on("error", reject);
      outgoing.end(payload);
    },
  );
}

describe("a per-caller rate limit on task creation", () => {
  let omoi: TestOmoi;
  before(async () => {
    omoi = await startTestOmoi({ OMOI_RUN_AGENTS: "0", OMOI_TASK_RATE_LIMIT: "4" });
  });
  after(async () => omoi.stop());

  test("a caller over OMOI_TASK_RATE_LIMIT gets 429 with Retry-After; another caller is not affected", async () => {
    for (let index = 0; index < 4; index++) {
      const created = await createFrom(omoi.url, "127.0.0.1", `task ${index}`);
      assert.equal(created.status, 201, created.body);
    }
    const limited = await createFrom(omoi.url, "127.0.0.1", "one too many");
    assert.equal(limited.status, 429, limited.body);
    assert.ok(Number(limited.retryAfter) >= 1, "says when to come back");
    assert.equal(
      (JSON.parse(limited.body) as { error: { name: string } }).error.name,
      "RateLimited",
    );

    const other = await createFrom(omoi.url, "127.0.0.2", "from someone else");
    assert.equal(other.status, 201, other.body);
    const listed = (await (await fetch(`${omoi.url}/api/v1/tasks`)).json()) as { total: number };
    assert.equal(listed.total, 5, "the limited request stored nothing");
  });

  test("the bucket refills over the minute", () => {
    const limiter = new RateLimiter(60, "tasks");
    for (let index = 0; index < 60; index++) limiter.take("caller", 0);
    assert.throws(() => limiter.take("caller", 0), { name: "RateLimited" });
    limiter.take("caller", 1_000);
    assert.throws(() => limiter.take("caller", 1_000), { name: "RateLimited" });
  });
});
