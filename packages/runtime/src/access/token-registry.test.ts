import { createMemoryStore, ManualClock, TroupeError } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createTokenRegistry } from "./token-registry.js";

function setup(cacheMs = 1000) {
  const store = createMemoryStore();
  const clock = new ManualClock(1_700_000_000_000);
  return { store, clock, registry: createTokenRegistry({ store, clock, cacheMs }) };
}

describe("token registry", () => {
  it("creates a token whose secret is stored only as a hash, and verifies it", async () => {
    const { store, registry } = setup();
    const { token, info } = await registry.create({ name: "ci", scopes: ["runs:read"] });
    expect(token).toMatch(/^trp_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$/);
    expect(info).toMatchObject({ name: "ci", scopes: ["runs:read"] });
    expect(info).not.toHaveProperty("hash");
    const stored = await store.list({ prefix: "runtime/tokens/" });
    expect(stored).toHaveLength(1);
    // The secret is everything after `trp_<id>_` (base64url, so it may itself hold `_`).
    const secret = token.slice("trp_".length + 16 + 1);
    expect(secret).toHaveLength(43);
    expect(new TextDecoder().decode(stored[0]?.value)).not.toContain(secret);
    expect(await registry.verify(token)).toMatchObject({ id: info.id, name: "ci" });
  });

  it("refuses a wrong secret, an unknown id and text that is no token", async () => {
    const { registry } = setup();
    const { token } = await registry.create({ name: "ci", scopes: ["admin"] });
    const flipped = `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;
    expect(await registry.verify(flipped)).toBeUndefined();
    expect(await registry.verify(`trp_${"a".repeat(16)}_${"b".repeat(43)}`)).toBeUndefined();
    expect(await registry.verify("x")).toBeUndefined();
  });

  it("names the field of a bad request", async () => {
    const { registry } = setup();
    for (const [input, field] of [
      [{ name: "has space", scopes: ["admin"] }, "name"],
      [{ name: "ok", scopes: [] }, "scopes"],
      [{ name: "ok", scopes: ["runs:delete"] }, "scopes.0"],
    ] as const) {
      const error = await registry.create(input as never).catch((caught: unknown) => caught);
      expect(TroupeError.isInstance(error, "INVALID_ARGUMENT"), String(error)).toBe(true);
      expect((error as TroupeError).details.field).toBe(field);
    }
    expect(await registry.list()).toEqual([]);
  });

  it("a revocation made elsewhere reaches this registry once its cache bound has passed", async () => {
    const { store, clock, registry } = setup(1000);
    const other = createTokenRegistry({ store, clock, cacheMs: 1000 });
    const { token, info } = await registry.create({ name: "svc", scopes: ["events:send"] });
    expect(await registry.verify(token)).toBeDefined(); // cached here now
    await other.revoke(info.id);
    expect(await other.verify(token)).toBeUndefined(); // at once where it was revoked
    await clock.advance(999);
    expect(await registry.verify(token)).toBeDefined(); // still within the bound
    await clock.advance(1);
    expect(await registry.verify(token)).toBeUndefined();
    expect((await registry.list())[0]?.revokedAt).toBe(clock.now() - 1000);
  });

  it("revoking an unknown id is NOT_FOUND; revoking twice is a no-op", async () => {
    const { registry } = setup();
    const error = await registry.revoke("nope").catch((caught: unknown) => caught);
    expect(TroupeError.isInstance(error, "NOT_FOUND")).toBe(true);
    const { info } = await registry.create({ name: "x", scopes: ["admin"] });
    const first = await registry.revoke(info.id);
    expect((await registry.revoke(info.id)).revokedAt).toBe(first.revokedAt);
  });
});
