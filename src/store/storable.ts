/*
 * Text both databases accept. Agent tool output can carry NUL characters (binary output) and
 * lone UTF-16 surrogates (text cut mid-character); Postgres rejects both in jsonb and NUL in
 * text. Both adapters replace them with U+FFFD, so every store keeps the same thing.
 */

// In JSON text, an escape `\u0000` or `\udXXX` (a lone surrogate: JSON.stringify writes
// valid pairs as raw characters) preceded by an even number of backslashes.
const UNSTORABLE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/gi;

/** The payload as JSON text, plus the payload that text reads back as. */
export function storablePayload(payload: Record<string, unknown>): {
  json: string;
  payload: Record<string, unknown>;
} {
  const json = JSON.stringify(payload);
  if (!json.includes("\\u")) return { json, payload };
  const cleaned = json.replace(UNSTORABLE_ESCAPE, "$1\\ufffd");
  if (cleaned === json) return { json, payload };
  return { json: cleaned, payload: JSON.parse(cleaned) as Record<string, unknown> };
}

/** Text with NUL characters replaced. */
export const storableText = (text: string): string =>
  text.includes("\0") ? text.replaceAll("\0", "\ufffd") : text;
