import type { ServerResponse } from "node:http";

/** Anthropic's error types by HTTP status. */
const errorTypes: Readonly<Record<number, string>> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  405: "invalid_request_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};

export function errorTypeFor(status: number): string {
  return errorTypes[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

export interface AnthropicErrorBody {
  type: "error";
  error: { type: string; message: string };
  request_id?: string;
}

export function errorBody(status: number, message: string, type?: string): AnthropicErrorBody {
  return { type: "error", error: { type: type ?? errorTypeFor(status), message } };
}

/** Sends an error in Anthropic's shape, unless the response is already under way. */
export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  options: { type?: string; retryable?: boolean; requestId?: string } = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const body = { ...errorBody(status, message, options.type), request_id: options.requestId };
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.retryable === false) headers["x-should-retry"] = "false";
  if (options.requestId) headers["request-id"] = options.requestId;
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
}
