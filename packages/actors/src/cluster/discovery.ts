import { isIP } from "node:net";
import type { NodeInfo } from "./membership.js";

/**
 * Where the platform lists the cluster's nodes, apart from their lease records: e.g. the DNS
 * records of a Kubernetes headless Service, which name the pods that are ready. A node record
 * says a process holds a lease; the listing says the platform still routes to it. Placement
 * sends new actors only to nodes that are both (see {@link listedNodes}); ownership of actors
 * already placed follows leases alone, so a listing can never give one actor two owners.
 */
export interface PeerDiscovery {
  /**
   * The addresses the platform lists now (IP addresses, host names, `host:port`), lower case,
   * or `undefined` when the listing cannot be read (then placement uses every live node).
   */
  peers(): Promise<ReadonlySet<string> | undefined>;
  /** Stops any background work. Idempotent. */
  close(): void;
}

/**
 * The host part of a node's published address, lower case, for matching a listing: a URL's
 * host name, `host:port` without the port, `[v6]:port` without brackets and port.
 */
export function addressHost(address: string): string {
  let text = address.trim().toLowerCase();
  if (text.includes("://")) {
    try {
      text = new URL(text).hostname;
    } catch {
      return text;
    }
  }
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    return end === -1 ? text : text.slice(1, end);
  }
  if (isIP(text) === 6) return text;
  const colon = text.lastIndexOf(":");
  const host = colon === -1 ? text : text.slice(0, colon);
  return host.endsWith(".") ? host.slice(0, -1) : host;
}

/**
 * The nodes among `nodes` whose published address the listing names (by full address or by
 * host). A node that publishes no address cannot be matched and is left out.
 */
export function listedNodes(
  nodes: readonly NodeInfo[],
  listed: ReadonlySet<string>,
): readonly NodeInfo[] {
  return nodes.filter((node) => {
    if (node.address === undefined) return false;
    const full = node.address.trim().toLowerCase();
    return listed.has(full) || listed.has(addressHost(full));
  });
}
