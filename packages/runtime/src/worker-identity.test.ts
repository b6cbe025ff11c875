import { describe, expect, it } from "vitest";
import { deriveWorkerId, type IdentityRecord, judgeIdentity } from "./worker-identity.js";

const source = {
  host: "box.local",
  port: 8288,
  storageUrl: "postgres://troupe:secret@db:5432/app",
  cwd: "/srv/app",
};

describe("deriveWorkerId", () => {
  it("is stable for the same server and differs when host, port, storage or node differ", () => {
    const id = deriveWorkerId(source);
    expect(id).toBe(deriveWorkerId({ ...source }));
    expect(id).toMatch(/^box\.local-[0-9a-f]{16}$/);
    const others = [
      { ...source, host: "other" },
      { ...source, port: 8289 },
      { ...source, storageUrl: "postgres://troupe:secret@db:5432/other" },
      { ...source, nodeId: "node-2" },
    ].map(deriveWorkerId);
    expect(new Set([id, ...others]).size).toBe(5);
  });

  it("ignores the password and resolves a relative SQLite path against the working directory", () => {
    expect(deriveWorkerId({ ...source, storageUrl: "postgres://troupe:rotated@db:5432/app" })).toBe(
      deriveWorkerId(source),
    );
    const relative = { ...source, storageUrl: "sqlite:.troupe/troupe.db", cwd: "/a" };
    expect(deriveWorkerId(relative)).not.toBe(deriveWorkerId({ ...relative, cwd: "/b" }));
  });

  it("makes a valid lease owner from any host name", () => {
    expect(deriveWorkerId({ ...source, host: "a b/c~d" })).toMatch(/^a-b-c-d-[0-9a-f]{16}$/);
  });
});

describe("judgeIdentity", () => {
  const record: IdentityRecord = {
    instance: "old",
    host: "box",
    pid: 41,
    renewedAt: 1_000,
    ttlMs: 15_000,
  };
  const claimant = (alive: readonly number[]) => ({
    instance: "new",
    host: "box",
    pid: 42,
    isProcessAlive: (pid: number) => alive.includes(pid),
    liveHere: new Set<string>(),
  });

  it("takes an identity nobody holds, one that lapsed, or one whose holder died on this host", () => {
    expect(judgeIdentity(undefined, claimant([41]), 2_000)).toBe("take");
    expect(judgeIdentity(record, claimant([41]), 16_000)).toBe("take");
    expect(judgeIdentity(record, claimant([]), 2_000)).toBe("take");
  });

  it("refuses one a live process holds, or a fresh record of another host", () => {
    expect(judgeIdentity(record, claimant([41]), 2_000)).toBe("held");
    expect(judgeIdentity({ ...record, host: "elsewhere" }, claimant([]), 2_000)).toBe("held");
  });

  it("takes a record left by its own pid (a restarted container) and its own record", () => {
    expect(judgeIdentity({ ...record, pid: 42 }, claimant([42]), 2_000)).toBe("take");
    expect(judgeIdentity({ ...record, instance: "new" }, claimant([41]), 2_000)).toBe("take");
  });

  it("refuses a record of its own pid that another runtime in this process holds", () => {
    const here = { ...claimant([42]), liveHere: new Set(["old"]) };
    expect(judgeIdentity({ ...record, pid: 42 }, here, 2_000)).toBe("held");
  });
});
