/** Safe reads from loosely typed event payloads. */

export type Payload = Record<string, unknown>;

export function str(payload: Payload, key: string): string | null {
  const value = payload[key];
  return typeof value === "string" ? value : null;
}

export function num(payload: Payload, key: string): number | null {
  const value = payload[key];
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

export function bool(payload: Payload, key: string): boolean {
  return payload[key] === true;
}

export function record(payload: Payload, key: string): Payload | null {
  const value = payload[key];
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Payload) : null;
}

/** The strings of an array field (anything else in it is left out). */
export function strings(payload: Payload | null, key: string): string[] {
  const value = payload?.[key];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}
