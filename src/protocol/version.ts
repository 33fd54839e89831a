/** Version of the wire protocol spoken on the worker channel and the viewer WebSocket. */
export const PROTOCOL_VERSION = 1;
