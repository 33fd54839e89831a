import WebSocket from "ws";
import type { OpenViewerSocket, ViewerSocket } from "./viewer-stream.ts";

/*
 * The viewer stream's socket on Node (the CLI): `ws`, which can send the token as a header
 * and tells the HTTP status of a refused upgrade, so a wrong token fails at once instead of
 * being retried.
 */

export function nodeViewerSocket(options: {
  token?: string;
  handshakeTimeoutMs?: number;
}): OpenViewerSocket {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return (url) => {
    const ws = new WebSocket(url, { headers, handshakeTimeout: options.handshakeTimeoutMs });
    let closed = false;
    let lastError: Error | undefined;
    const socket: ViewerSocket = {
      get readyState() {
        return ws.readyState;
      },
      send: (data) => ws.send(data),
      close: (code, reason) => {
        closed = true;
        ws.on("error", () => {});
        if (ws.readyState === ws.CONNECTING) ws.terminate();
        else ws.close(code, reason);
      },
      onopen: null,
      onmessage: null,
      onclose: null,
      onerror: null,
    };
    const reportClose = (event: { code: number; reason: string; status?: number }) => {
      if (closed) return;
      closed = true;
      socket.onclose?.(event);
    };
    ws.on("open", () => socket.onopen?.({}));
    ws.on("message", (data, isBinary) => {
      if (!isBinary) socket.onmessage?.({ data: data.toString() });
    });
    ws.on("unexpected-response", (_request, response) => {
      const status = response.statusCode ?? 0;
      response.resume();
      ws.on("error", () => {});
      ws.terminate();
      reportClose({ code: 1006, reason: `HTTP ${status}`, status });
    });
    ws.on("error", (error) => {
      lastError = error;
      socket.onerror?.(error);
    });
    ws.on("close", (code, reason) => {
      const text = reason.toString() || (lastError ? describeSocketError(lastError) : "");
      reportClose({ code, reason: text });
    });
    return socket;
  };
}

function describeSocketError(error: Error): string {
  const code = (error as { code?: string }).code;
  if (code === "ECONNREFUSED") return "server not reachable";
  return code ?? error.message;
}
