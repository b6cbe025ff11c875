import { describe, expect, it } from "vitest";
import { encodeReply } from "./reply-writer.js";

describe("reply encoding", () => {
  it("writes RESP2 and RESP3 forms", () => {
    expect(encodeReply(null, 2)).toBe("$-1\r\n");
    expect(encodeReply(null, 3)).toBe("_\r\n");
    expect(encodeReply("héllo", 2)).toBe("$6\r\nhéllo\r\n");
    expect(encodeReply(42, 2)).toBe(":42\r\n");
    expect(encodeReply(2n ** 62n, 2)).toBe(":4611686018427387904\r\n");
    expect(encodeReply({ simple: "OK" }, 3)).toBe("+OK\r\n");
    expect(encodeReply({ error: "ERR bad\r\nline" }, 2)).toBe("-ERR bad line\r\n");
    expect(encodeReply({ map: ["a", "1"] }, 2)).toBe("*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    expect(encodeReply({ map: ["a", "1"] }, 3)).toBe("%1\r\n$1\r\na\r\n$1\r\n1\r\n");
    expect(encodeReply({ set: ["a"] }, 3)).toBe("~1\r\n$1\r\na\r\n");
    expect(encodeReply({ push: ["message", "c", "m"] }, 3)).toBe(
      ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n",
    );
    expect(encodeReply({ nullArray: true }, 2)).toBe("*-1\r\n");
    expect(encodeReply({ verbatim: "a:1" }, 3)).toBe("=7\r\ntxt:a:1\r\n");
    expect(encodeReply([1, ["x"]], 2)).toBe("*2\r\n:1\r\n*1\r\n$1\r\nx\r\n");
  });
});
