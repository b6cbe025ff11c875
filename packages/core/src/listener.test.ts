import { createServer, type Server, Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { TroupeError } from "./errors.js";
import { closeListener, listenOn } from "./listener.js";

function server(): { server: Server; sockets: Set<Socket> } {
  const sockets = new Set<Socket>();
  const created = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return { server: created, sockets };
}

describe("listenOn", () => {
  it("resolves to the port bound when asked for any free one", async () => {
    const { server: first } = server();
    const port = await listenOn(first, 0, "127.0.0.1", "test.port");
    expect(port).toBeGreaterThan(0);
    expect(first.listening).toBe(true);
    await closeListener(first, []);
    expect(first.listening).toBe(false);
  });

  it("rejects a port in use with INVALID_ARGUMENT naming the field", async () => {
    const { server: first } = server();
    const port = await listenOn(first, 0, "127.0.0.1", "test.port");
    const { server: second } = server();
    const failure = await listenOn(second, port, "127.0.0.1", "test.port").catch((e) => e);
    expect(TroupeError.isInstance(failure)).toBe(true);
    expect(failure.code).toBe("INVALID_ARGUMENT");
    expect(failure.message).toContain("test.port");
    expect(failure.message).toContain(`port ${port} on 127.0.0.1 is already in use`);
    await closeListener(first, []);
  });

  it("rejects another bind failure with UNAVAILABLE", async () => {
    const { server: first } = server();
    // An address this machine does not have (TEST-NET-1) cannot be bound.
    const failure = await listenOn(first, 0, "192.0.2.1", "test.port").catch((e) => e);
    expect(TroupeError.isInstance(failure)).toBe(true);
    expect(failure.code).toBe("UNAVAILABLE");
  });
});

describe("closeListener", () => {
  it("stops accepting and closes every open connection", async () => {
    const { server: listening, sockets } = server();
    const port = await listenOn(listening, 0, "127.0.0.1", "test.port");
    const client = new Socket();
    const ended = new Promise<void>((resolve) => client.on("close", () => resolve()));
    await new Promise<void>((resolve) => client.connect(port, "127.0.0.1", () => resolve()));
    while (sockets.size === 0) await new Promise((resolve) => setImmediate(resolve));
    const connections = [...sockets].map((socket) => ({ close: () => socket.destroy() }));
    await closeListener(listening, connections);
    await ended;
    expect(listening.listening).toBe(false);
  });
});
