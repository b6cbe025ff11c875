import { Resolver } from "node:dns/promises";
import { type Clock, type Logger, noopLogger, systemClock } from "@troupe/core";
import { z } from "zod";
import type { PeerDiscovery } from "./discovery.js";
import { parseClusterOptions } from "./membership.js";

/** The DNS records {@link createDnsDiscovery} reads. */
export const DNS_RECORD_TYPES = ["A", "AAAA", "A+AAAA", "SRV"] as const;

/** Options of {@link createDnsDiscovery}. */
export interface DnsDiscoveryOptions {
  /** The name to resolve, e.g. `troupe-peers.default.svc.cluster.local` (a headless Service). */
  readonly name: string;
  /**
   * Which records: `A`, `AAAA`, `A+AAAA` (both, the default) or `SRV` (each target's name, its
   * `name:port`, and the A/AAAA addresses of the target).
   */
  readonly recordType?: (typeof DNS_RECORD_TYPES)[number];
  /** DNS servers (`ip` or `ip:port`). Default: the system's resolvers. */
  readonly servers?: readonly string[];
  /** How long a listing is reused, in ms. Default 5,000. */
  readonly refreshMs?: number;
  /** Timeout of one query, in ms. Default 2,000. */
  readonly timeoutMs?: number;
  /** Time source of the refresh interval. Default: the system clock. */
  readonly clock?: Clock;
  /** Where failed lookups are reported. Default: discarded. */
  readonly logger?: Logger;
}

const optionsSchema = z.object({
  name: z
    .string()
    .regex(/^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$/, "expected a DNS name like troupe.ns.svc"),
  recordType: z.enum(DNS_RECORD_TYPES).optional(),
  servers: z.array(z.string().min(1)).min(1).optional(),
  refreshMs: z.number().int().nonnegative().optional(),
  timeoutMs: z.number().int().positive().optional(),
});

// Answers that mean "the name has no such records", as opposed to "the lookup failed".
const NO_RECORDS = new Set(["ENODATA", "ENOTFOUND"]);

const lower = (name: string) => name.toLowerCase().replace(/\.$/, "");

/**
 * Lists the cluster's peers from DNS (see {@link PeerDiscovery}): the addresses in the A/AAAA
 * records of `name`, or the targets of its SRV records. A name with no records lists no peers;
 * a failed lookup returns `undefined` and is retried at the next call.
 */
export function createDnsDiscovery(options: DnsDiscoveryOptions): PeerDiscovery {
  parseClusterOptions("createDnsDiscovery", optionsSchema, options);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? noopLogger;
  const recordType = options.recordType ?? "A+AAAA";
  const refreshMs = options.refreshMs ?? 5_000;
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 2_000, tries: 2 });
  if (options.servers !== undefined) resolver.setServers([...options.servers]);

  let cached: { at: number; peers: ReadonlySet<string> } | undefined;
  let pending: Promise<ReadonlySet<string> | undefined> | undefined;
  let closed = false;

  // Resolves one record type; an empty list when the name has none of that type.
  const records = async (lookup: () => Promise<string[]>): Promise<string[]> => {
    try {
      return await lookup();
    } catch (error) {
      if (NO_RECORDS.has((error as { code?: string }).code ?? "")) return [];
      throw error;
    }
  };

  const addresses = async (host: string): Promise<string[]> => {
    if (recordType === "A") return records(() => resolver.resolve4(host));
    if (recordType === "AAAA") return records(() => resolver.resolve6(host));
    const [v4, v6] = await Promise.all([
      records(() => resolver.resolve4(host)),
      records(() => resolver.resolve6(host)),
    ]);
    return [...v4, ...v6];
  };

  const lookUp = async (): Promise<ReadonlySet<string>> => {
    const peers = new Set<string>();
    if (recordType !== "SRV") {
      for (const address of await addresses(options.name)) peers.add(address.toLowerCase());
      return peers;
    }
    const targets = await records(async () =>
      (await resolver.resolveSrv(options.name)).map((srv) => `${lower(srv.name)}:${srv.port}`),
    );
    await Promise.all(
      targets.map(async (target) => {
        const host = target.slice(0, target.lastIndexOf(":"));
        peers.add(target);
        peers.add(host);
        // A target without address records still counts by name.
        const found = await records(async () => [
          ...(await records(() => resolver.resolve4(host))),
          ...(await records(() => resolver.resolve6(host))),
        ]);
        for (const address of found) peers.add(address.toLowerCase());
      }),
    );
    return peers;
  };

  return {
    peers() {
      if (closed) return Promise.resolve(undefined);
      if (cached && clock.now() - cached.at < refreshMs) return Promise.resolve(cached.peers);
      pending ??= lookUp()
        .then(
          (peers) => {
            cached = { at: clock.now(), peers };
            return peers;
          },
          (error: unknown) => {
            logger.warn("cluster: DNS peer discovery failed; placing on every live node", {
              name: options.name,
              error,
            });
            return undefined;
          },
        )
        .finally(() => {
          pending = undefined;
        });
      return pending;
    },
    close() {
      closed = true;
      resolver.cancel();
    },
  };
}
