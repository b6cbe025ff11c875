import { describe, expect, it } from "vitest";
import { channelSubject, decodeSubjectToken, encodeSubjectToken, nodeSubject } from "./subjects.js";

/** Every string of length 0..maxLength over `alphabet`. */
function allStrings(alphabet: string, maxLength: number): string[] {
  let layer = [""];
  const all = [""];
  for (let length = 1; length <= maxLength; length++) {
    layer = layer.flatMap((prefix) => [...alphabet].map((character) => prefix + character));
    all.push(...layer);
  }
  return all;
}

describe("subject encoding", () => {
  // The characters with special meaning to the encoding plus one of each other allowed class.
  const names = allStrings("a_.d:/-", 4).filter((name) => name.length > 0);

  it("never maps two channel names to one subject", () => {
    const subjects = new Set(names.map((name) => channelSubject("p", name)));
    expect(subjects.size).toBe(names.length);
  });

  it("produces one non-empty NATS token without wildcards for every name", () => {
    for (const name of names) {
      const token = encodeSubjectToken(name);
      expect(token).toMatch(/^[A-Za-z0-9_:/-]+$/);
      expect(decodeSubjectToken(token)).toBe(name);
    }
  });

  it("keeps names without . and _ readable", () => {
    expect(channelSubject("troupe", "run:42/wake-up")).toBe("troupe.ps.run:42/wake-up");
    expect(nodeSubject("troupe", "node-7")).toBe("troupe.node.node-7");
    expect(nodeSubject("troupe", "eu.node_1")).toBe("troupe.node.eu_dnode__1");
  });
});
