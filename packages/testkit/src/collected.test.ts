import { describe, expect, it } from "vitest";
import { collected } from "./index.js";

describe("collected", () => {
  it("tells an object nothing keeps from one something keeps", async () => {
    let kept: object | undefined = { name: "kept" };
    const keptRef = new WeakRef(kept);
    const droppedRef = new WeakRef({ name: "dropped" });
    expect(await collected(droppedRef)).toBe(true);
    expect(await collected(keptRef, 2)).toBe(false);
    expect(kept).toBeDefined();
    kept = undefined;
    expect(await collected(keptRef)).toBe(true);
  });
});
