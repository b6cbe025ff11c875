import { connect } from "node:net";

/**
 * A seeded pseudo-random generator in [0, 1): the same seed gives the same sequence, so a fuzz
 * failure can be replayed.
 */
export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
}

/** Options of {@link fuzzConnections}. */
export interface FuzzConnectionsOptions {
  /** The server's port. */
  readonly port: number;
  /** The server's host. Default `127.0.0.1`. */
  readonly host?: string;
  /** Rounds; each opens `perRound` connections at once and waits for all to close. */
  readonly rounds: number;
  /** Connections open at once in each round. */
  readonly perRound: number;
  /** The bytes one connection sends once connected. */
  readonly payload: () => Buffer;
  /** How long after sending a connection ends its side, in ms. */
  readonly endAfterMs: number;
}

/**
 * Throws random bytes at a wire-protocol server: `rounds × perRound` connections, each sending
 * one `payload()` and ending `endAfterMs` later. Resolves to what each connection received
 * before it closed (a connection that errored counts with what it had), for the caller to check
 * the server answered with protocol errors rather than crashing.
 */
export async function fuzzConnections(options: FuzzConnectionsOptions): Promise<Buffer[]> {
  const host = options.host ?? "127.0.0.1";
  const replies: Buffer[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const batch = await Promise.all(
      Array.from(
        { length: options.perRound },
        () =>
          new Promise<Buffer>((resolve) => {
            const socket = connect(options.port, host);
            const chunks: Buffer[] = [];
            socket.on("data", (chunk: Buffer) => chunks.push(chunk));
            socket.on("error", () => resolve(Buffer.concat(chunks)));
            socket.on("close", () => resolve(Buffer.concat(chunks)));
            socket.on("connect", () => {
              socket.write(options.payload());
              setTimeout(() => socket.end(), options.endAfterMs);
            });
          }),
      ),
    );
    replies.push(...batch);
  }
  return replies;
}
