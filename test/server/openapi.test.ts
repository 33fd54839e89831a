import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { Validator } from "@seriousme/openapi-schema-validator";
import Fastify from "fastify";
import openapiTS, { astToString } from "openapi-typescript";
import { z } from "zod";
import { registerOpenApi, routeSchema } from "../../src/server/openapi.ts";
import { PROJECT_ROOT, startTestOmoi, type TestOmoi, tempDir } from "../helpers/omoi.ts";

/*
 * The API reference is generated from the zod schemas the routes validate with: a valid
 * OpenAPI 3.1 document covering every route, from which a standard generator builds a client
 * that compiles. A route without a schema stops the server from starting.
 */

const run = promisify(execFile);

type Operation = {
  summary?: string;
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
};
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

let omoi: TestOmoi;
let document: Document;
before(async () => {
  omoi = await startTestOmoi({ OMOI_RUN_AGENTS: "0", OMOI_API_TOKEN: "secret-token" });
  // Open without the token: it describes the API's shape, which holds no data.
  const response = await fetch(`${omoi.url}/api/v1/openapi.json`);
  assert.equal(response.status, 200);
  document = (await response.json()) as Document;
});
after(async () => {
  await omoi?.stop();
});

describe("the OpenAPI description", () => {
  it("validates as OpenAPI 3.1", async () => {
    const validator = new Validator();
    const result = await validator.validate(document as unknown as Record<string, unknown>);
    assert.deepEqual(result.errors ?? [], []);
    assert.equal(result.valid, true);
    assert.equal(validator.version, "3.1");
  });

  it("describes every route with a summary, its answer and its errors", () => {
    const operations = Object.entries(document.paths).flatMap(([route, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ route, method, operation })),
    );
    for (const { route, method, operation } of operations) {
      const where = `${method.toUpperCase()} ${route}`;
      assert.ok(operation.summary, `${where} has no summary`);
      const statuses = Object.keys(operation.responses ?? {});
      const success = statuses.find((status) => status.startsWith("2"));
      assert.ok(success, `${where} documents no success answer`);
      if (success !== "204") {
        assert.ok(operation.responses?.[success]?.content?.["application/json"]?.schema, where);
      }
      assert.ok(statuses.includes("4XX"), `${where} documents no error answer`);
    }
    const documented = new Set(operations.map(({ route, method }) => `${method} ${route}`));
    for (const expected of [
      "post /api/v1/tasks",
      "get /api/v1/tasks/{id}",
      "post /api/v1/tasks/{id}/messages",
      "post /api/v1/sandboxes/{id}/events",
      "get /api/v1/sandboxes/{id}/events",
      "get /api/v1/sandboxes/{id}/messages",
      "delete /api/v1/sandboxes/{id}",
      "get /api/v1/health",
    ]) {
      assert.ok(documented.has(expected), `${expected} is missing`);
    }
  });

  it("describes a remote MCP server's headers in the environment bodies and answers", () => {
    type Schema = { properties?: Record<string, Schema>; anyOf?: Schema[]; oneOf?: Schema[] };
    const operation = document.paths["/api/v1/environments"]?.post as Operation & {
      requestBody?: { content?: Record<string, { schema?: Schema }> };
    };
    /** The MCP server variants under an environment schema's `mcp_servers`. */
    const serverVariants = (schema: Schema | undefined) => {
      const servers = schema?.properties?.mcp_servers as
        | (Schema & { additionalProperties?: Schema })
        | undefined;
      const server = servers?.additionalProperties;
      return server?.oneOf ?? server?.anyOf ?? [];
    };
    for (const [what, schema] of [
      ["the create body", operation.requestBody?.content?.["application/json"]?.schema],
      ["the answer", operation.responses?.["201"]?.content?.["application/json"]?.schema],
    ] as const) {
      const remote = serverVariants(schema as Schema).find((variant) => variant.properties?.url);
      assert.ok(remote?.properties?.headers, `${what} describes no headers`);
    }
  });

  it("refuses an API route without a schema", async () => {
    const app = Fastify();
    await registerOpenApi(app, "0.0.0");
    app.get("/health-of-nothing", async () => ({}));
    const schema = routeSchema({ summary: "ok", response: { 200: z.object({}) } });
    app.get("/api/v1/described", { schema }, async () => ({}));
    await assert.rejects(async () => {
      app.get("/api/v1/undescribed", async () => ({}));
      await app.ready();
    }, /route GET \/api\/v1\/undescribed has no schema/);
    await app.close();
  });

  it("generates a typed client (openapi-typescript) that compiles", async () => {
    const out = tempDir();
    try {
      const types = astToString(await openapiTS(document as never));
      writeFileSync(path.join(out.dir, "omoi-api.d.ts"), types);
      writeFileSync(
        path.join(out.dir, "client.ts"),
        [
          'import type { paths } from "./omoi-api";',
          'type CreateTask = paths["/api/v1/tasks"]["post"]["requestBody"]["content"]["application/json"];',
          'type Created = paths["/api/v1/tasks"]["post"]["responses"]["201"]["content"]["application/json"];',
          'const body: CreateTask = { prompt: "fix the bug", priority: "HIGH" };',
          "// @ts-expect-error: an unknown priority is refused by the types too",
          'const wrong: CreateTask = { prompt: "x", priority: "URGENT" };',
          "export function statusOf(task: Created): string { return task.status; }",
          "export { body, wrong };",
        ].join("\n"),
      );
      writeFileSync(
        path.join(out.dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            target: "ES2022",
            module: "ESNext",
            moduleResolution: "Bundler",
            types: [],
          },
          files: ["client.ts"],
        }),
      );
      const tsc = path.join(PROJECT_ROOT, "node_modules", "typescript", "bin", "tsc");
      await run(process.execPath, [tsc, "-p", out.dir]);
    } finally {
      out.remove();
    }
  });
});
