import { ManualClock, TroupeError } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createSigningKeyring } from "../signing-keys.js";
import { createRealtimeTokens } from "./tokens.js";

const KEY = "signkey-prod-0123456789abcdef0123456789abcdef";
const OTHER = "signkey-prod-fedcba9876543210fedcba9876543210";
const scope = { channel: "user:42", topics: ["progress"] };

async function rejection(promise: Promise<unknown>): Promise<TroupeError> {
  try {
    await promise;
  } catch (error) {
    if (TroupeError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

describe("realtime tokens", () => {
  it("grant exactly the channel and topics they were issued for", async () => {
    const tokens = createRealtimeTokens({ signingKeys: [KEY], clock: new ManualClock(0) });
    expect(await tokens.verify(await tokens.issue(scope))).toEqual(scope);
  });

  it("are accepted by another process holding the same key, and by a rotated-in key", async () => {
    const clock = new ManualClock(0);
    const issued = await createRealtimeTokens({ signingKeys: [KEY], clock }).issue(scope);
    const rotated = createRealtimeTokens({ signingKeys: [OTHER, KEY], clock });
    expect(await rotated.verify(issued)).toEqual(scope);
  });

  it("refuse a token signed with another key", async () => {
    const clock = new ManualClock(0);
    const issued = await createRealtimeTokens({ signingKeys: [OTHER], clock }).issue(scope);
    const error = await rejection(
      createRealtimeTokens({ signingKeys: [KEY], clock }).verify(issued),
    );
    expect(error.code).toBe("UNAUTHENTICATED");
    expect(error.details?.field).toBe("token");
  });

  it("refuse an altered token (a topic added to the payload)", async () => {
    const tokens = createRealtimeTokens({ signingKeys: [KEY], clock: new ManualClock(0) });
    const [header, , signature] = (await tokens.issue(scope)).split(".");
    const forged = Buffer.from(
      JSON.stringify({ channel: "user:42", topics: ["progress", "secret"] }),
    ).toString("base64url");
    const error = await rejection(tokens.verify(`${header}.${forged}.${signature}`));
    expect(error.code).toBe("UNAUTHENTICATED");
  });

  it("expire after their time to live, by the clock", async () => {
    const clock = new ManualClock(1_000_000);
    const tokens = createRealtimeTokens({ signingKeys: [KEY], clock, ttlMs: 60_000 });
    const token = await tokens.issue(scope);
    await clock.advance(59_000);
    expect(await tokens.verify(token)).toEqual(scope);
    await clock.advance(2_000);
    const error = await rejection(tokens.verify(token));
    expect(error.message).toContain("expired");
  });

  it("refuse garbage", async () => {
    const tokens = createRealtimeTokens({ signingKeys: [], clock: new ManualClock(0) });
    expect((await rejection(tokens.verify("abc"))).code).toBe("UNAUTHENTICATED");
  });

  it("follow the signing keyring: the previous key verifies only while its window is open, new tokens use the current key", async () => {
    const clock = new ManualClock(1_000_000);
    const beforeRotation = await createRealtimeTokens({ signingKeys: [KEY], clock }).issue(scope);
    const keyring = createSigningKeyring(
      { signingKey: OTHER, signingKeyFallback: KEY, signingKeyFallbackUntil: 1_060_000 },
      clock,
    );
    const tokens = createRealtimeTokens({
      signingKeys: () => keyring.acceptedKeys(),
      clock,
      ttlMs: 3_600_000,
    });
    expect(await tokens.verify(beforeRotation)).toEqual(scope);
    const issued = await tokens.issue(scope);
    // Signed with the current key: a process holding only the new key accepts it, one holding
    // only the old key does not.
    expect(await createRealtimeTokens({ signingKeys: [OTHER], clock }).verify(issued)).toEqual(
      scope,
    );
    const oldOnly = await rejection(
      createRealtimeTokens({ signingKeys: [KEY], clock }).verify(issued),
    );
    expect(oldOnly.code).toBe("UNAUTHENTICATED");

    await clock.advance(59_999);
    expect(await tokens.verify(beforeRotation)).toEqual(scope);
    await clock.advance(1);
    const closed = await rejection(tokens.verify(beforeRotation));
    expect(closed.code).toBe("UNAUTHENTICATED");
    expect(closed.details?.field).toBe("token");
    expect(await tokens.verify(issued)).toEqual(scope);
  });
});
