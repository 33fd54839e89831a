import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { ResolvedEnvironment } from "../../src/environment/environments.ts";
import { modelSettings } from "../../src/environment/launch.ts";
import { DEFAULT_NETWORK } from "../../src/protocol/environment.ts";
import { OAUTH_BETA, startModelGateway } from "../../src/sandbox/model-gateway.ts";

const server = {
  modelBaseUrl: "http://model.example/",
  modelEnv: { ANTHROPIC_API_KEY: "server-key", ANTHROPIC_MODEL: "m1" },
};

function environment(
  credentials: ResolvedEnvironment["modelCredentials"],
  model: string | null = null,
): ResolvedEnvironment {
  return {
    id: "env_1",
    name: "e",
    secrets: {},
    modelCredentials: credentials,
    spec: {
      description: null,
      setup_script: null,
      network: DEFAULT_NETWORK,
      variables: {},
      secrets: [],
      model,
      model_credentials: null,
      mcp_servers: {},
    },
  };
}

describe("model credentials of an environment", () => {
  test("replace the server's credentials; the model name too; none keeps the server's", () => {
    assert.deepEqual(modelSettings(null, server), server);
    assert.deepEqual(
      modelSettings(environment({ kind: "oauth_token", oauth_token: "oat" }, "m2"), server),
      {
        modelBaseUrl: server.modelBaseUrl,
        modelEnv: { ANTHROPIC_MODEL: "m2", CLAUDE_CODE_OAUTH_TOKEN: "oat" },
      },
    );
    assert.deepEqual(
      modelSettings(
        environment({ kind: "auth_token", auth_token: "tok", base_url: "https://gw.example/v1" }),
        server,
      ),
      {
        modelBaseUrl: "https://gw.example/v1",
        modelEnv: { ANTHROPIC_MODEL: "m1", ANTHROPIC_AUTH_TOKEN: "tok" },
      },
    );
  });

  describe("reach the model as the right header, swapped in by the gateway", () => {
    let upstream: http.Server;
    let url: string;
    const seen: http.IncomingHttpHeaders[] = [];
    before(async () => {
      upstream = http.createServer((request, response) => {
        seen.push(request.headers);
        response.end("{}");
      });
      await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", () => resolve()));
      url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    });
    after(() => upstream.close());

    const cases: [
      string,
      Parameters<typeof startModelGateway>[0] extends infer O
        ? Omit<O & object, "upstreamBaseUrl">
        : never,
      (headers: http.IncomingHttpHeaders) => void,
    ][] = [
      [
        "a subscription token: Bearer plus the OAuth beta flag, no API key",
        { oauthToken: "sk-ant-oat01-sub" },
        (headers) => {
          assert.equal(headers.authorization, "Bearer sk-ant-oat01-sub");
          assert.equal(headers["x-api-key"], undefined);
          assert.equal(headers["anthropic-beta"], `tools-2025,${OAUTH_BETA}`);
        },
      ],
      [
        "an API key: x-api-key, no Authorization",
        { apiKey: "sk-ant-api-key" },
        (headers) => {
          assert.equal(headers["x-api-key"], "sk-ant-api-key");
          assert.equal(headers.authorization, undefined);
          assert.equal(headers["anthropic-beta"], "tools-2025");
        },
      ],
    ];
    for (const [what, credentials, check] of cases) {
      test(what, async () => {
        const gateway = await startModelGateway({ upstreamBaseUrl: url, ...credentials });
        try {
          const response = await fetch(`${gateway.url}/v1/messages`, {
            method: "POST",
            headers: {
              "x-api-key": gateway.accessToken,
              "anthropic-beta": "tools-2025",
              "content-type": "application/json",
            },
            body: "{}",
          });
          assert.equal(response.status, 200);
          const headers = seen.at(-1);
          assert.ok(headers);
          check(headers);
          assert.ok(
            !JSON.stringify(headers).includes(gateway.accessToken),
            "the sandbox's token stays at the gateway",
          );
        } finally {
          await gateway.close();
        }
      });
    }
  });
});
