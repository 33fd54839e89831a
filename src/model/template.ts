/** Values a scenario may use as `{{name}}` in text and tool inputs. */
export type TemplateValues = Readonly<Record<string, string>>;

const placeholder = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

/** Replaces `{{name}}` with its value; unknown names stay as written so mistakes show. */
export function fill(text: string, values: TemplateValues): string {
  return text.replace(placeholder, (whole, name: string) =>
    Object.hasOwn(values, name) ? values[name] : whole,
  );
}

/** Fills every string inside a JSON-like value (keys are left alone). */
export function fillDeep(value: unknown, values: TemplateValues): unknown {
  if (typeof value === "string") return fill(value, values);
  if (Array.isArray(value)) return value.map((item) => fillDeep(item, values));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, fillDeep(item, values)]),
    );
  }
  return value;
}
