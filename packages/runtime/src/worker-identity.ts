import { createHash } from "node:crypto";
import path from "node:path";
import { redactUrl } from "./storage.js";

/** What a runtime's derived worker identity is made of. */
export interface WorkerIdentitySource {
  /** The machine's host name. */
  readonly host: string;
  /** The configured HTTP port; 0 (a free port each time) does not count. */
  readonly port: number;
  /** The storage URL (credentials are left out). */
  readonly storageUrl: string;
  /** The working directory, against which a relative SQLite path resolves. */
  readonly cwd: string;
  /** The actors node id in cluster mode, if any. */
  readonly nodeId?: string | undefined;
}

/** Letters, digits and `.`, `_`, `:`, `-`: what a Queue lease owner may hold. */
const sanitize = (text: string) => text.replace(/[^A-Za-z0-9._:-]/g, "-");

/**
 * The worker identity a runtime takes when `flows.workerId` is not configured: the host name and
 * a hash of host, configured port, storage URL, working directory and actors node id. The same
 * server restarted on the same machine with the same configuration gets the same identity, so it
 * can take back the queue leases it held before a crash.
 */
export function deriveWorkerId(source: WorkerIdentitySource): string {
  const storage = redactUrl(source.storageUrl).replace(
    /^sqlite:(?!:memory:)(.+)$/i,
    (_, file) =>
      // A relative database path names a different file from another directory.
      `sqlite:${path.resolve(source.cwd, String(file))}`,
  );
  const digest = createHash("sha256")
    .update(JSON.stringify([source.host, source.port, storage, source.cwd, source.nodeId ?? null]))
    .digest("hex")
    .slice(0, 16);
  return `${sanitize(source.host).slice(0, 48)}-${digest}`;
}

/** The record a live worker keeps (and renews) in the Store under its identity. */
export interface IdentityRecord {
  /** Random per process: tells this process's record from a predecessor's. */
  readonly instance: string;
  /** Host name and process id of the holder, so a restart on the same host can see it died. */
  readonly host: string;
  readonly pid: number;
  /** When the record was last renewed (ms since the epoch) and how long it is good for. */
  readonly renewedAt: number;
  readonly ttlMs: number;
}

/** Who is asking to take an identity. */
export interface IdentityClaimant {
  readonly instance: string;
  readonly host: string;
  readonly pid: number;
  /** Whether a process with `pid` runs on this host. */
  readonly isProcessAlive: (pid: number) => boolean;
  /** The instances that hold an identity in this very process (two runtimes in one process). */
  readonly liveHere: ReadonlySet<string>;
}

/**
 * Whether `claimant` may take an identity whose current record is `record`: `"take"` when there
 * is none, it lapsed, it is the claimant's own, or its holder ran on this host and is gone;
 * `"held"` when a live process (or one on another host whose record is still fresh) holds it.
 * A record with the claimant's own pid on the same host is an earlier incarnation (a container
 * restarted with the same pid) unless another runtime in this process holds it.
 */
export function judgeIdentity(
  record: IdentityRecord | undefined,
  claimant: IdentityClaimant,
  now: number,
): "take" | "held" {
  if (record === undefined || record.instance === claimant.instance) return "take";
  if (record.renewedAt + record.ttlMs <= now) return "take";
  if (record.host !== claimant.host) return "held";
  if (record.pid === claimant.pid) return claimant.liveHere.has(record.instance) ? "held" : "take";
  return claimant.isProcessAlive(record.pid) ? "held" : "take";
}

/** True when a process with `pid` exists on this host (signal 0 probes without sending). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
