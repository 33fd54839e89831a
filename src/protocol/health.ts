import { z } from "zod";

/** `GET /api/v1/health` with the API token (or with none configured): what this server runs on. */
export const HealthDetails = z.object({
  status: z.literal("ok"),
  version: z.string(),
  protocol: z.number().int(),
  store: z.string(),
  bus: z.string(),
  provider: z.string(),
  replica: z.string(),
  model: z.object({
    /** True when no model credentials are configured and the scripted demo model answers. */
    scripted: z.boolean(),
    base_url: z.string(),
    name: z.string().nullable(),
  }),
  /** Which machine the server runs on; the CLI sends a repository as a bundle when it is not its own. */
  machine: z.string().optional(),
  /** The largest git bundle `POST /api/v1/bundles` takes (OMOI_UPLOAD_MAX_BYTES). */
  upload_max_bytes: z.number().int().optional(),
  /** Viewer sockets open on this replica. */
  viewers: z.number().int(),
});
export type HealthDetails = z.infer<typeof HealthDetails>;

/** Without the API token (when one is configured) health answers liveness only. */
export const Liveness = z.object({ status: z.literal("ok") });

export const Health = z.union([HealthDetails, Liveness]);
export type Health = z.infer<typeof Health>;
