/** Query parameters whose values are secrets: Omoi's `token`, and common names elsewhere. */
const SECRET_PARAMETERS = /^(token|access_token|api_key|apikey|key|password|secret|signature)$/i;
const HIDDEN = "***";
const RELATIVE_BASE = "http://relative.invalid";

/**
 * A URL (absolute, or a request path such as `/ws/events?token=…`) fit for a log line or an
 * error message: the password and secret query values replaced by `***`. The one redactor
 * every URL goes through before it is written anywhere a person or another process may read.
 */
export function redactUrl(url: string): string {
  const relative = url.startsWith("/");
  let parsed: URL;
  try {
    parsed = new URL(url, relative ? RELATIVE_BASE : undefined);
  } catch {
    return "(unparseable URL)";
  }
  if (parsed.password) parsed.password = HIDDEN;
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAMETERS.test(name)) parsed.searchParams.set(name, HIDDEN);
  }
  if (!relative) return parsed.toString();
  return `${parsed.pathname}${parsed.search}${parsed.hash}`;
}

/**
 * For a structured logger: redacts a string that could carry a secret (a query or user info);
 * anything else, file paths included, is logged as it is.
 */
export const redactLoggedUrl = (value: unknown): unknown =>
  typeof value === "string" && (value.includes("?") || value.includes("@"))
    ? redactUrl(value)
    : value;
