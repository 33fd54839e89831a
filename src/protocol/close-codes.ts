/*
 * WebSocket close codes, defined once. No zod here: the web app and the CLI import these
 * values as they are.
 */

/** Close codes the viewer socket uses. */
export const ViewerCloseCode = {
  /** Bad filters or cursors: reconnecting with the same ones cannot help. */
  badRequest: 4400,
  /** A missing or wrong token: reconnecting cannot help. */
  unauthorized: 4401,
  /** The viewer fell behind the live stream: reconnect at once with its cursors. */
  lagged: 4408,
  shuttingDown: 1001,
} as const;

/** Viewer close codes after which reconnecting cannot help. */
export const FATAL_VIEWER_CLOSE_CODES: readonly number[] = [
  ViewerCloseCode.badRequest,
  ViewerCloseCode.unauthorized,
];

export const WorkerCloseCode = {
  badHello: 4400,
  unauthorized: 4401,
  replaced: 4409,
  stopped: 4410,
} as const;
