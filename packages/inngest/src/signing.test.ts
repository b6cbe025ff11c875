import { describe, expect, it } from "vitest";
import {
  canonicalJson,
  hashSigningKey,
  signBody,
  signingKeySecret,
  verifySignature,
} from "./signing.js";

// The vector from the protocol research, matched against the official SDKs' accept/reject.
const KEY = "signkey-test-12345678abcdef";
const BODY =
  '{"ctx":{"attempt":0,"run_id":"01J0000000000000000000000"},"event":{"data":{},"name":"demo/start"},"events":[{"data":{},"name":"demo/start"}],"steps":{},"version":2}';

describe("request signing", () => {
  it("signs the canonical body plus timestamp with the key's hex part", () => {
    expect(signingKeySecret(KEY)).toBe("12345678abcdef");
    expect(signBody(KEY, BODY, 1_700_000_000)).toBe(
      "t=1700000000&s=73983e5d7d3ef3591791cac8d0afc8730029964c50e6368a462238304ccc27ca",
    );
  });

  it("hashes the key for bearer tokens as the SDKs do", () => {
    expect(hashSigningKey(KEY)).toBe(
      "signkey-test-790477b138b1c953127edeb0229e15bb15983b97cb388a9d357b52dcc2f3627e",
    );
  });

  it("produces RFC 8785 canonical JSON (sorted keys, ES number forms)", () => {
    const body = {
      version: 2,
      steps: {},
      events: [{ name: "demo/start", data: {} }],
      event: { name: "demo/start", data: {} },
      ctx: { run_id: "01J0000000000000000000000", attempt: 0 },
    };
    expect(canonicalJson(body)).toBe(BODY);
    expect(canonicalJson({ b: 1e21, a: 0.1, c: [null, "é"] })).toBe(
      '{"a":0.1,"b":1e+21,"c":[null,"é"]}',
    );
  });

  it("verifies with the main or the fallback key, within the allowed skew only", () => {
    const header = signBody(KEY, BODY, 1_700_000_000);
    const at = 1_700_000_000_000;
    expect(verifySignature(header, BODY, [KEY], at)).toBe(true);
    expect(verifySignature(header, BODY, ["signkey-test-00", KEY], at)).toBe(true);
    expect(verifySignature(header, `${BODY} `, [KEY], at)).toBe(false);
    expect(verifySignature(header, BODY, ["signkey-test-ffff"], at)).toBe(false);
    expect(verifySignature(header, BODY, [KEY], at + 6 * 60_000)).toBe(false);
    expect(verifySignature("garbage", BODY, [KEY], at)).toBe(false);
  });
});
