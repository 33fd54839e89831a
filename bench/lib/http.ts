import http from "node:http";
import { ApiClient } from "../../src/client/api.ts";
import { safeJsonParse } from "../../src/protocol/json.ts";

/** The typed client every Omoi client uses, for calls outside what a part measures. */
export const apiClient = (base: string) => new ApiClient({ baseUrl: base, clientName: "bench" });

/** Keep-alive connections, as a long-running seed worker would hold them. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

export interface Response {
  status: number;
  body: unknown;
}

/** One JSON request to the server under test. */
export function request(base: string, method: string, route: string, body?: unknown) {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<Response>((resolve, reject) => {
    const outgoing = http.request(
      `${base}${route}`,
      {
        method,
        agent,
        // Even without a body: Omoi refuses a POST a web page could send.
        headers: method === "GET" ? {} : { "content-type": "application/json" },
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
        incoming.on("end", () => {
          const raw = Buffer.concat(chunks).toString();
          const parsed = raw ? safeJsonParse(raw) : { ok: true as const, value: undefined };
          resolve({ status: incoming.statusCode ?? 0, body: parsed.ok ? parsed.value : raw });
        });
        incoming.on("error", reject);
      },
    );
    outgoing.on("error", reject);
    outgoing.end(text);
  });
}

/** Like request(), but a status other than `expected` is an error naming what came back. */
export async function expectStatus(
  expected: number,
  base: string,
  method: string,
  route: string,
  body?: unknown,
): Promise<unknown> {
  const response = await request(base, method, route, body);
  if (response.status !== expected) {
    throw new Error(
      `${method} ${route}: expected ${expected}, got ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`,
    );
  }
  return response.body;
}

/** A string field of a JSON object body, or an error. */
export function field(body: unknown, name: string): string {
  const value =
    typeof body === "object" && body !== null ? (body as Record<string, unknown>)[name] : undefined;
  if (typeof value !== "string") throw new Error(`response has no string '${name}'`);
  return value;
}

/** Registers an external sandbox (driven by the benchmark as its worker). */
export async function createExternalSandbox(base: string): Promise<string> {
  return field(await expectStatus(201, base, "POST", "/api/v1/sandboxes", {}), "id");
}

export function closeConnections() {
  agent.destroy();
}
