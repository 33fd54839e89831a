import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A throwaway Anthropic-compatible upstream for sandbox tests: it records the credentials
 * each request arrived with and plays one tool call (Bash `command`) and then a final text.
 */
export interface StubModel {
  url: string;
  /** x-api-key / authorization of every request received. */
  seenCredentials: string[];
  paths: string[];
  close(): Promise<void>;
}

export async function startStubModel(bashCommand: string): Promise<StubModel> {
  const seenCredentials: string[] = [];
  const paths: string[] = [];
  const server = http.createServer((request, response) => {
    seenCredentials.push(String(request.headers["x-api-key"] ?? request.headers.authorization));
    paths.push(request.url ?? "");
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      if (request.url?.includes("count_tokens")) {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ input_tokens: 10 }));
        return;
      }
      if (!request.url?.startsWith("/v1/messages")) {
        response.writeHead(404, { "content-type": "application/json" });
        response.end(
          JSON.stringify({ type: "error", error: { type: "not_found_error", message: "no" } }),
        );
        return;
      }
      const afterTool = body.includes('"tool_result"');
      response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      const send = (event: string, data: unknown) =>
        response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      send("message_start", {
        type: "message_start",
        message: {
          id: `msg_${Date.now()}`,
          type: "message",
          role: "assistant",
          model: "stub",
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 10, output_tokens: 1 },
        },
      });
      if (afterTool) {
        send("content_block_start", {
          type: "content_block_start",
          index: 0,
          content_block: { type: "text", text: "" },
        });
        send("content_block_delta", {
          type: "content_block_delta",
          index: 0,
          delta: { type: "text_delta", text: "done" },
        });
      } else {
        send("content_block_start", {
          type: "content_block_start",
          index: 0,
          content_block: { type: "tool_use", id: "toolu_stub_1", name: "Bash", input: {} },
        });
        send("content_block_delta", {
          type: "content_block_delta",
          index: 0,
          delta: {
            type: "input_json_delta",
            partial_json: JSON.stringify({ command: bashCommand }),
          },
        });
      }
      send("content_block_stop", { type: "content_block_stop", index: 0 });
      send("message_delta", {
        type: "message_delta",
        delta: { stop_reason: afterTool ? "end_turn" : "tool_use", stop_sequence: null },
        usage: { output_tokens: 5 },
      });
      send("message_stop", { type: "message_stop" });
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seenCredentials,
    paths,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
