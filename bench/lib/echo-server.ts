/**
 * The loopback WebSocket floor's server, run as its own process (as `omoi serve` is): every
 * frame is sent straight back on its socket. Prints its port on stdout.
 */
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";

const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
server.on("connection", (socket) => {
  socket.on("message", (data, binary) => socket.send(data, { binary }));
});
server.on("listening", () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
