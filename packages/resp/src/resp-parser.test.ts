import { describe, expect, it } from "vitest";
import {
  createRespParser,
  DEFAULT_PARSER_LIMITS,
  RespBinaryArgument,
  RespProtocolError,
  splitInline,
} from "./resp-parser.js";

const frame = (...args: string[]) =>
  `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join("")}`;

describe("RESP request parser", () => {
  it("parses pipelined commands, however the bytes are split", () => {
    const bytes = Buffer.from(`${frame("SET", "k", "héllo") + frame("GET", "k")}PING\r\n`);
    for (let size = 1; size <= bytes.length; size++) {
      const parser = createRespParser();
      const requests = [];
      for (let at = 0; at < bytes.length; at += size) {
        requests.push(...parser.feed(bytes.subarray(at, at + size)));
      }
      expect(requests).toEqual([["SET", "k", "héllo"], ["GET", "k"], ["PING"]]);
      expect(parser.buffered()).toBe(0);
    }
  });

  it("splits inline commands with quotes", () => {
    expect(splitInline(`set "a b" 'c d' e\\n`)).toEqual(["set", "a b", "c d", "e\\n"]);
    expect(splitInline(`echo "x\\ny"`)).toEqual(["echo", "x\ny"]);
    expect(() => splitInline(`echo "open`)).toThrow(RespProtocolError);
  });

  it("marks a command whose argument is not UTF-8", () => {
    const parser = createRespParser();
    const bytes = Buffer.concat([
      Buffer.from("*2\r\n$3\r\nGET\r\n$2\r\n"),
      Buffer.from([0xff, 0xfe]),
      Buffer.from("\r\n"),
    ]);
    expect(parser.feed(bytes)).toEqual([new RespBinaryArgument(1)]);
  });

  it("refuses malformed frames and frames over the limits", () => {
    const limits = { ...DEFAULT_PARSER_LIMITS, maxBulkBytes: 10, maxArgs: 3 };
    const cases = [
      "*1\r\n$x\r\nGET\r\n",
      "*1\r\n+GET\r\n",
      "*1\r\n$3\r\nGETxx",
      "*1\r\n$11\r\n",
      "*4\r\n",
      "*abc\r\n",
      `*1\r\n$${"9".repeat(40)}`,
    ];
    for (const text of cases) {
      expect(() => createRespParser(limits).feed(Buffer.from(text)), text).toThrow(
        RespProtocolError,
      );
    }
  });

  it("waits for a large value without parsing it again for every chunk", () => {
    const parser = createRespParser();
    const value = "x".repeat(100_000);
    const bytes = Buffer.from(frame("SET", "k", value));
    let requests: unknown[] = [];
    for (let at = 0; at < bytes.length; at += 1000) {
      requests = requests.concat(parser.feed(bytes.subarray(at, at + 1000)));
    }
    expect(requests).toEqual([["SET", "k", value]]);
  });

  it("throws nothing but protocol errors on 5,000 seeded random and truncated inputs", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const alphabet = ["*", "$", "\r\n", "1", "3", "-", "0", "9", "GET", "\r", "\n", "x", " ", '"'];
    for (let round = 0; round < 5000; round++) {
      const parts: string[] = [];
      if (random() < 0.5) parts.push(frame("SET", "k", "v").slice(0, Math.floor(random() * 20)));
      const length = Math.floor(random() * 12);
      for (let index = 0; index < length; index++) {
        parts.push(alphabet[Math.floor(random() * alphabet.length)] as string);
      }
      const parser = createRespParser({ ...DEFAULT_PARSER_LIMITS, maxBulkBytes: 1000 });
      try {
        parser.feed(Buffer.from(parts.join("")));
      } catch (error) {
        expect(error).toBeInstanceOf(RespProtocolError);
      }
    }
  });
});
