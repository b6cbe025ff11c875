import { fuzzConnections, seededRandom } from "@troupe/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawClient } from "./raw-client.js";
import { startServer } from "./support.js";

let running: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  running = await startServer({ maxBulkBytes: 4096 });
});
afterAll(() => running.close());

const COMMANDS = ["GET", "SET", "HSET", "LPUSH", "SCAN", "MULTI", "EXEC", "SUBSCRIBE", "PING"];

function randomFrame(random: () => number): Buffer {
  const kind = random();
  if (kind < 0.3) {
    // A well-formed command with random arguments, possibly cut short.
    const name = COMMANDS[Math.floor(random() * COMMANDS.length)] as string;
    const args = [name, ...Array.from({ length: Math.floor(random() * 4) }, () => `a${random()}`)];
    const text = `*${args.length}\r\n${args.map((arg) => `$${arg.length}\r\n${arg}\r\n`).join("")}`;
    return Buffer.from(random() < 0.5 ? text : text.slice(0, Math.floor(random() * text.length)));
  }
  if (kind < 0.6) {
    // Protocol-looking noise.
    const pieces = ["*", "$", "-1", "2", "\r\n", "99999999", "GET", ":", "+", "\n", "%"];
    return Buffer.from(
      Array.from(
        { length: 1 + Math.floor(random() * 10) },
        () => pieces[Math.floor(random() * pieces.length)],
      ).join(""),
    );
  }
  return Buffer.from(
    Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256)),
  );
}

describe("fuzzing the RESP server", () => {
  it("survives 3,000 seeded random and truncated frames, and still serves", async () => {
    const random = seededRandom(20_261_206);
    // 100 connections at a time, each sent one random frame then closed.
    const replies = await fuzzConnections({
      port: running.port,
      rounds: 30,
      perRound: 100,
      payload: () => randomFrame(random),
      endAfterMs: 20,
    });
    const protocolErrors = replies.filter((received) =>
      received.toString("latin1").includes("Protocol error"),
    ).length;
    expect(protocolErrors).toBeGreaterThan(10);
    expect(running.server.stats().protocolErrorsTotal).toBeGreaterThanOrEqual(protocolErrors);
    const client = await rawClient(running.port);
    client.send("SET after-fuzz ok\r\nGET after-fuzz\r\n");
    expect(await client.until((text) => text.includes("$2"))).toBe("+OK\r\n$2\r\nok\r\n");
    client.close();
  });
});
