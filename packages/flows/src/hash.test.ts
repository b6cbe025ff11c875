import { describe, expect, it } from "vitest";
import { stepHash } from "./hash.js";

describe("stepHash", () => {
  it("matches the hashes the Inngest SDK sends (captured traffic)", () => {
    expect(stepHash("first", 0)).toBe("e0996a37c13d44c3b06074939d43fa3759bd32c1");
    expect(stepHash("first", 1)).toBe("d9d1dc81ce73bf438df55e49455dcd449abef74e");
    expect(stepHash("first", 2)).toBe("93e2049edcc10f3e198372242fb9ccd9f24dcec4");
    expect(stepHash("my-step-id", 0)).toBe("e7d8a2f140845095749d60246ff1110c9d01d76a");
  });
});
