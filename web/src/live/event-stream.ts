import {
  type OpenViewerSocket,
  type StreamHandlers,
  type StreamSubscription,
  type ViewerSocket,
  ViewerStream,
} from "../../../src/client/viewer-stream.ts";
import { getToken } from "../api/client.ts";

/*
 * The page's viewer stream: the one viewer-stream client (src/client/viewer-stream.ts:
 * cursors, resume, backoff, close codes) on the browser's WebSocket, to the page's own
 * server, with the token in the query (a browser cannot set headers on a WebSocket).
 */

export type {
  ConnectionPhase,
  ConnectionState,
  StreamHandlers,
  StreamSubscription,
} from "../../../src/client/viewer-stream.ts";

// The browser's WebSocket is a ViewerSocket; its events carry more than the client reads.
const openBrowserSocket: OpenViewerSocket = (url) => new WebSocket(url) as unknown as ViewerSocket;

export class EventStream extends ViewerStream {
  constructor(subscription: StreamSubscription, handlers: StreamHandlers) {
    super(subscription, handlers, {
      baseUrl: location.origin,
      openSocket: openBrowserSocket,
      token: getToken,
    });
  }
}
