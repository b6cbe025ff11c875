import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { systemClock } from "@troupe/core";
import { createTokenRegistry, openStorage } from "@troupe/runtime";
import { afterEach, describe, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../bin/troupe.mjs", import.meta.url));
const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function troupe(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  return { status: result.status, out: result.stdout, err: result.stderr };
}

describe("troupe token", () => {
  it("creates a token the server's Store verifies, lists it without its secret, and revokes it", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-token-cli-"));
    scratch.push(dir);
    const storage = `sqlite:${path.join(dir, "troupe.db")}`;
    const created = troupe(
      "token",
      "create",
      "--storage",
      storage,
      "-n",
      "ci",
      "-s",
      "runs:read",
      "-s",
      "events:send",
    );
    expect(created.err).toBe("");
    expect(created.status).toBe(0);
    const token = created.out.split("\n")[0] as string;
    expect(token).toMatch(/^trp_[a-z2-7]{16}_/);
    const id = token.split("_")[1] as string;
    // The secret is everything after the id: it may itself hold "_" (base64url), even first.
    const secret = token.slice(`trp_${id}_`.length);
    expect(secret.length).toBeGreaterThan(0);

    const listed = troupe("token", "list", "--storage", storage);
    expect(listed.status).toBe(0);
    expect(listed.out).toContain(`${id}  ci  runs:read,events:send`);
    expect(listed.out).not.toContain(secret);

    // What a server on the same Store sees.
    const check = async () => {
      const opened = openStorage({
        url: storage,
        schema: undefined,
        prefix: undefined,
        queueName: "troupe",
        clock: systemClock,
      });
      try {
        await opened.ready();
        return await createTokenRegistry({ store: opened.store, clock: systemClock }).verify(token);
      } finally {
        await opened.close();
      }
    };
    expect(await check()).toMatchObject({ name: "ci", scopes: ["runs:read", "events:send"] });
    const revoked = troupe("token", "revoke", id, "--storage", storage);
    expect(revoked.out).toBe(`revoked ${id} (ci)\n`);
    expect(await check()).toBeUndefined();
  });

  it("names the bad scope and exits non-zero", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-token-cli-"));
    scratch.push(dir);
    const result = troupe(
      "token",
      "create",
      "--storage",
      `sqlite:${path.join(dir, "t.db")}`,
      "-n",
      "x",
      "-s",
      "runs:delete",
    );
    expect(result.status).not.toBe(0);
    expect(result.err).toContain("scopes.0");
  });
});
