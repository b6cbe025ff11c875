import type { ActorAddress } from "../directory.js";
import type { NodeInfo } from "./membership.js";

/**
 * Chooses the node that activates an actor nobody owns. `nodes` are the live nodes that host the
 * actor's type (never empty, sorted by node id); the result must be one of their ids.
 */
export type Placement = (
  address: ActorAddress,
  nodes: readonly NodeInfo[],
  selfNodeId: string,
) => string;

/** Picks any capable node at random (the Orleans and Orbit default): spreads load evenly. */
export function randomPlacement(random: () => number = Math.random): Placement {
  return (_address, nodes) => {
    const index = Math.min(nodes.length - 1, Math.floor(random() * nodes.length));
    return (nodes[index] as NodeInfo).nodeId;
  };
}

/**
 * Activates on the calling node when it hosts the type (no network hop for the first and later
 * calls from there), otherwise falls back to `fallback` (random by default).
 */
export function preferLocalPlacement(fallback: Placement = randomPlacement()): Placement {
  return (address, nodes, selfNodeId) =>
    nodes.some((node) => node.nodeId === selfNodeId)
      ? selfNodeId
      : fallback(address, nodes, selfNodeId);
}

/**
 * Rendezvous (highest-random-weight) hashing: every node scores `hash(node, address)` and the
 * highest wins. Every node computes the same choice from the same node list, and when a node
 * joins or leaves only the actors it wins or held move (about 1/n of them).
 */
export function consistentHashPlacement(): Placement {
  return (address, nodes) => {
    let best = "";
    let bestScore = -1;
    const suffix = `\u0000${address.type}\u0000${address.key}`;
    for (const node of nodes) {
      const score = hash53(`${node.nodeId}${suffix}`);
      if (score > bestScore || (score === bestScore && node.nodeId < best)) {
        best = node.nodeId;
        bestScore = score;
      }
    }
    return best;
  };
}

/** The built-in placements by name, for configuration files. */
export const placements = {
  random: randomPlacement,
  preferLocal: preferLocalPlacement,
  consistentHash: consistentHashPlacement,
} as const;

// A 53-bit string hash: two FNV-1a lanes with different seeds, each finished with a 32-bit
// avalanche mix so similar node ids still score independently. Deterministic in every process,
// which rendezvous hashing needs.
function hash53(text: string): number {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return (avalanche(a) >>> 0) * 2097152 + (avalanche(b) >>> 11);
}

function avalanche(value: number): number {
  let h = value;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}
