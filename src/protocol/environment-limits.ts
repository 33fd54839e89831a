/* Environment bounds that clients show beside their inputs; free of zod so the web app can import them. */

/** The most started sandboxes an environment may keep waiting for tasks (per server replica). */
export const MAX_WARM_POOL = 4;
