import { describe, expect, it } from "vitest";
import { executeKeyCommand } from "./key-command-table.js";
import { ABSENT, type KeyState } from "./key-state.js";
import type { Reply } from "./reply.js";

const NOW = 1_000_000;

/** Runs commands in sequence on one key, as its actor would, and returns the replies. */
function run(commands: [string, ...string[]][], start: KeyState = ABSENT, now = NOW) {
  let state = start;
  const replies: Reply[] = [];
  for (const [name, ...args] of commands) {
    const result = executeKeyCommand(state, name, args, now);
    if (result.state !== undefined) state = result.state;
    replies.push(result.reply);
  }
  return { state, replies };
}

describe("one-key commands as pure state transitions", () => {
  it("applies SET's conditions, GET and expiry options", () => {
    const { state, replies } = run([
      ["SET", "v1", "NX"],
      ["SET", "v2", "NX"],
      ["SET", "v3", "XX", "GET", "PX", "500"],
      ["GET"],
      ["PTTL"],
      ["SET", "v4", "KEEPTTL"],
      ["PTTL"],
      ["SET", "v5"],
      ["TTL"],
      ["SET", "v", "EX"],
      ["SET", "v", "NX", "XX"],
    ]);
    expect(replies).toEqual([
      { simple: "OK" },
      null,
      "v1",
      "v3",
      500,
      { simple: "OK" },
      500,
      { simple: "OK" },
      -1,
      { error: "ERR syntax error" },
      { error: "ERR syntax error" },
    ]);
    expect(state).toEqual({ t: "string", v: "v5" });
  });

  it("hides an expired value from readers and drops it on the next write", () => {
    const stored: KeyState = { t: "string", v: "old", x: NOW };
    expect(executeKeyCommand(stored, "GET", [], NOW).reply).toBeNull();
    expect(executeKeyCommand(stored, "GET", [], NOW - 1).reply).toBe("old");
    expect(executeKeyCommand(stored, "TTL", [], NOW).reply).toBe(-2);
    const write = executeKeyCommand(stored, "INCR", [], NOW);
    expect(write).toEqual({ reply: 1, state: { t: "string", v: "1" } });
    expect(executeKeyCommand(stored, "EXISTS", [], NOW + 5)).toEqual({ reply: 0 });
    expect(executeKeyCommand(stored, "PERSIST", [], NOW + 5)).toEqual({ reply: 0, state: ABSENT });
  });

  it("counts within 64 bits and refuses to overflow", () => {
    expect(run([["INCRBY", "9007199254740993"], ["INCR"]]).replies).toEqual([
      9007199254740993n,
      9007199254740994n,
    ]);
    expect(run([["DECRBY", "9223372036854775807"], ["DECR"], ["DECR"]]).replies).toEqual([
      -9223372036854775807n,
      -9223372036854775808n,
      { error: "ERR increment or decrement would overflow" },
    ]);
    expect(run([["INCRBY", "1.5"]]).replies).toEqual([
      { error: "ERR value is not an integer or out of range" },
    ]);
    expect(run([["INCRBY", "01"]]).replies[0]).toEqual({
      error: "ERR value is not an integer or out of range",
    });
  });

  it("sets expiry with NX, XX, GT and LT like Redis", () => {
    const { replies } = run(
      [
        ["EXPIRE", "10", "XX"],
        ["EXPIRE", "10", "NX"],
        ["EXPIRE", "20", "NX"],
        ["EXPIRE", "5", "GT"],
        ["EXPIRE", "30", "GT"],
        ["PEXPIRE", "1000", "LT"],
        ["PTTL"],
        ["EXPIRE", "-1"],
        ["EXISTS"],
      ],
      { t: "string", v: "v" },
    );
    expect(replies).toEqual([0, 1, 0, 0, 1, 1, 1000, 1, 0]);
  });

  it("ranges over lists with negative and out-of-range indexes", () => {
    const list: KeyState = { t: "list", v: ["a", "b", "c", "d"] };
    const range = (start: string, stop: string) =>
      executeKeyCommand(list, "LRANGE", [start, stop], NOW).reply;
    expect(range("0", "-1")).toEqual(["a", "b", "c", "d"]);
    expect(range("-100", "1")).toEqual(["a", "b"]);
    expect(range("2", "100")).toEqual(["c", "d"]);
    expect(range("3", "1")).toEqual([]);
    expect(range("-1", "-1")).toEqual(["d"]);
  });

  it("answers WRONGTYPE across types and checks argument counts", () => {
    const hash: KeyState = { t: "hash", v: Object.assign(Object.create(null), { f: "1" }) };
    for (const [name, ...args] of [["GET"], ["LPUSH", "x"], ["SADD", "x"], ["INCR"]] as const) {
      expect(executeKeyCommand(hash, name, args, NOW).reply, name).toEqual({
        error: "WRONGTYPE Operation against a key holding the wrong kind of value",
      });
    }
    expect(executeKeyCommand(hash, "HSET", ["a"], NOW).reply).toEqual({
      error: "ERR wrong number of arguments for 'hset' command",
    });
    expect(executeKeyCommand(hash, "HSET", ["a", "b", "c"], NOW).reply).toEqual({
      error: "ERR wrong number of arguments for 'hset' command",
    });
  });
});
