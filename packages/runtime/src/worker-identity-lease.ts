import { randomBytes } from "node:crypto";
import os from "node:os";
import {
  type Clock,
  createJsonCodec,
  type Logger,
  type Store,
  StoreConflictError,
  type Timer,
  type Version,
} from "@troupe/core";
import { type IdentityRecord, isProcessAlive, judgeIdentity } from "./worker-identity.js";

/** How long an identity record is good for without renewal; renewed every third of it. */
export const IDENTITY_TTL_MS = 15_000;
const ATTEMPTS = 3;
const codec = createJsonCodec<IdentityRecord>();
/** Instances holding an identity in this process, so two runtimes in one process never share one. */
const liveHere = new Set<string>();

/** The identity a runtime's flows worker runs under, held in the Store while it lives. */
export interface WorkerIdentityLease {
  /** The identity to hand to `flows.start({ workerId })`. */
  readonly workerId: string;
  /**
   * True when the wanted identity was taken (leases a crashed predecessor held under it come
   * back at once); false when a live process holds it, so a fresh one was made up.
   */
  readonly stable: boolean;
  /**
   * Stops renewing and deletes the record (a graceful stop). With `keepRecord` (work still in
   * hand), the record stays to lapse, so a restart on this host takes the identity and its leases.
   */
  release(options?: { readonly keepRecord?: boolean }): Promise<void>;
}

/** What {@link acquireWorkerIdentity} takes. */
export interface AcquireWorkerIdentityOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The identity wanted (configured, or derived with `deriveWorkerId`). */
  readonly workerId: string;
  /** For tests: this process's host, pid and liveness probe. */
  readonly host?: string;
  readonly pid?: number;
  readonly isProcessAlive?: (pid: number) => boolean;
}

/** The Store key of an identity's record. */
export const identityKey = (workerId: string) => `troupe/workers/${workerId}`;

/**
 * Takes `workerId` unless a live process holds it (see `judgeIdentity`), with a guarded commit so
 * two processes starting at once cannot both take it, and renews the record until released.
 * When the identity is held, a fresh one (`<workerId>.<random>`) is used instead: that process
 * recovers nothing early, but two live workers never share leases.
 */
export async function acquireWorkerIdentity(
  options: AcquireWorkerIdentityOptions,
): Promise<WorkerIdentityLease> {
  const { store, clock, logger, workerId } = options;
  const instance = randomBytes(8).toString("hex");
  const claimant = {
    instance,
    host: options.host ?? os.hostname(),
    pid: options.pid ?? process.pid,
    isProcessAlive: options.isProcessAlive ?? isProcessAlive,
    liveHere,
  };
  const key = identityKey(workerId);
  const recordNow = (): IdentityRecord => ({
    instance,
    host: claimant.host,
    pid: claimant.pid,
    renewedAt: clock.now(),
    ttlMs: IDENTITY_TTL_MS,
  });

  let version: Version | undefined;
  for (let attempt = 0; attempt < ATTEMPTS && version === undefined; attempt++) {
    const entry = await store.get(key);
    let current: IdentityRecord | undefined;
    try {
      current = entry ? codec.decode(entry.value) : undefined;
    } catch {
      current = undefined; // an unreadable record protects nobody
    }
    if (judgeIdentity(current, claimant, clock.now()) === "held") break;
    try {
      const result = await store.commit([
        { type: "set", key, value: codec.encode(recordNow()), expect: entry?.version ?? "absent" },
      ]);
      version = result.version;
    } catch (error) {
      if (!StoreConflictError.isInstance(error)) throw error;
    }
  }
  if (version === undefined) {
    const fresh = `${workerId}.${instance}`;
    logger.warn("worker identity is held by a live process; using a fresh one", {
      workerId,
      fresh,
    });
    return { workerId: fresh, stable: false, release: async () => {} };
  }

  liveHere.add(instance);
  let timer: Timer | undefined;
  let released = false;
  const renew = async () => {
    try {
      const result = await store.commit([
        { type: "set", key, value: codec.encode(recordNow()), expect: version ?? "absent" },
      ]);
      version = result.version;
    } catch (error) {
      if (StoreConflictError.isInstance(error)) {
        logger.error("worker identity was taken by another process; no longer renewing it", {
          workerId,
        });
        return;
      }
      logger.warn("renewing the worker identity failed; trying again", { workerId, error });
    }
    if (!released) timer = clock.setTimer(Math.floor(IDENTITY_TTL_MS / 3), tick);
  };
  const tick = () => {
    void renew();
  };
  timer = clock.setTimer(Math.floor(IDENTITY_TTL_MS / 3), tick);

  return {
    workerId,
    stable: true,
    async release(releaseOptions) {
      released = true;
      liveHere.delete(instance);
      timer?.cancel();
      if (version === undefined || releaseOptions?.keepRecord === true) return;
      await store.commit([{ type: "delete", key, expect: version }]).catch(() => undefined);
    },
  };
}
