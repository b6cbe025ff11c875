import { fuzzConnections, seededRandom } from "@troupe/testkit";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPgServer } from "./support.js";

let running: Awaited<ReturnType<typeof startPgServer>>;
beforeAll(async () => {
  running = await startPgServer({ maxMessageBytes: 4096 });
});
afterAll(() => running.close());

function startup(): Buffer {
  const params = Buffer.from("user\0fuzz\0database\0troupe\0\0", "utf8");
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + params.length, 0);
  head.writeInt32BE(196_608, 4);
  return Buffer.concat([head, params]);
}

function message(type: string, body: Buffer, length = body.length + 4): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(length, 1);
  return Buffer.concat([head, body]);
}

function randomMessages(random: () => number): Buffer {
  const types = ["Q", "P", "B", "D", "E", "S", "H", "C", "d", "Z", "?"];
  const parts: Buffer[] = [];
  const count = 1 + Math.floor(random() * 4);
  for (let index = 0; index < count; index++) {
    const type = types[Math.floor(random() * types.length)] as string;
    const body = Buffer.from(
      Array.from({ length: Math.floor(random() * 40) }, () =>
        random() < 0.5
          ? Math.floor(random() * 256)
          : "SELECT 1\0$1\0".charCodeAt(Math.floor(random() * 12)),
      ),
    );
    const lie = random() < 0.1 ? Math.floor(random() * 10_000) - 10 : undefined;
    const bytes = message(type, body, lie);
    parts.push(random() < 0.2 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes);
  }
  return Buffer.concat(parts);
}

describe("fuzzing the PostgreSQL wire server", () => {
  it("survives 2,000 seeded random and truncated messages and keeps serving", async () => {
    const random = seededRandom(5433);
    const replies = await fuzzConnections({
      port: running.port,
      rounds: 20,
      perRound: 100,
      payload: () => {
        const noise = randomMessages(random);
        return random() < 0.9 ? Buffer.concat([startup(), noise]) : noise;
      },
      endAfterMs: 30,
    });
    // An ErrorResponse ('E') somewhere after the startup answer.
    const errorsSeen = replies.filter(
      (received) =>
        received.includes(Buffer.from("SERROR")) || received.includes(Buffer.from("SFATAL")),
    ).length;
    expect(errorsSeen).toBeGreaterThan(100);
    const client = new pg.Client({ host: "127.0.0.1", port: running.port, user: "after" });
    await client.connect();
    expect((await client.query("SELECT count(*) AS n FROM actors")).rows).toEqual([{ n: "100" }]);
    await client.end();
  });
});
