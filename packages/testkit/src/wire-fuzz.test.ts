import { createServer, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { fuzzConnections, seededRandom } from "./wire-fuzz.js";

describe("seededRandom", () => {
  it("replays the same sequence in [0, 1) for the same seed", () => {
    const first = seededRandom(7);
    const second = seededRandom(7);
    const a = Array.from({ length: 50 }, () => first());
    const b = Array.from({ length: 50 }, () => second());
    expect(a).toEqual(b);
    expect(a.every((value) => value >= 0 && value < 1)).toBe(true);
    expect(new Set(a).size).toBeGreaterThan(40);
  });
});

describe("fuzzConnections", () => {
  it("sends each connection one payload and returns what each received", async () => {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on("data", (chunk) => socket.write(`echo:${chunk.toString("latin1")}`));
      socket.on("end", () => socket.end());
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    let sent = 0;
    const replies = await fuzzConnections({
      port,
      rounds: 3,
      perRound: 4,
      payload: () => Buffer.from(`p${sent++}`),
      endAfterMs: 5,
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(replies).toHaveLength(12);
    expect(replies.map((reply) => reply.toString("latin1")).sort()).toEqual(
      Array.from({ length: 12 }, (_, index) => `echo:p${index}`).sort(),
    );
  });
});
