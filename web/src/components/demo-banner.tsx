import { useEffect, useState } from "react";
import { api } from "../api/client.ts";
import type { Health } from "../api/types.ts";

/** Says so when the scripted demo model, not Claude, is answering. */
export function DemoBanner() {
  const [health, setHealth] = useState<Health | null>(null);
  useEffect(() => {
    let cancelled = false;
    api
      .health()
      .then((value) => {
        if (!cancelled) setHealth(value);
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, []);
  if (!(health && "model" in health && health.model.scripted)) return null;
  return (
    <div className="demo-banner" role="note" data-testid="demo-banner">
      A scripted demo model is answering — set <code>ANTHROPIC_API_KEY</code> to use Claude.
    </div>
  );
}
