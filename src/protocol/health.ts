import { z } from "zod";

/** `GET /api/v1/health`: what this server runs on. */
export const Health = z.object({
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
  /** Viewer sockets open on this replica. */
  viewers: z.number().int(),
});
export type Health = z.infer<typeof Health>;
