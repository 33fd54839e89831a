/** What one look at the model endpoint told us. */
export type ModelProbe =
  | { reachable: true; scripted: boolean }
  | { reachable: false; error: string };

/**
 * One GET of the model endpoint's root, at start: tells whether it is Omoi's scripted
 * model (so viewers can say so) and, when nothing answers at all, lets the worker report
 * it at once instead of after the CLI's retries. Any HTTP answer counts as reachable.
 */
export async function probeModel(baseUrl: string, timeoutMs = 2_000): Promise<ModelProbe> {
  try {
    const response = await fetch(new URL("/", baseUrl), { signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    return { reachable: true, scripted: text.includes('"omoi-scripted-model"') };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return {
      reachable: false,
      error: cause ?? (error instanceof Error ? error.message : String(error)),
    };
  }
}
