import { invalidArgument, TroupeError } from "./errors.js";

/**
 * The part of a listening server (`node:net`'s `Server`, or an HTTP one) that
 * {@link listenOn} and {@link closeListener} drive. Core imports no network module: the caller
 * creates the server and owns its sockets; these helpers only turn its callbacks into promises
 * and its bind failures into Troupe errors.
 */
export interface Listener {
  listen(port: number, host: string, callback: () => void): unknown;
  once(event: "error", listener: (error: Error & { code?: string }) => void): unknown;
  off(event: "error", listener: (error: Error & { code?: string }) => void): unknown;
  address(): string | { readonly port: number } | null;
  close(callback: () => void): unknown;
  readonly listening: boolean;
}

/**
 * Listens on `port` (0: any free one) and `host`, and resolves to the port bound. A port in use
 * rejects with `INVALID_ARGUMENT` naming `field`; any other bind failure with `UNAVAILABLE`.
 *
 * Why in core: the protocol servers (`@troupe/pgwire`, `@troupe/resp`) share this lifecycle but
 * must not depend on each other, and both already depend on core. The helper is generic and does
 * no I/O of its own (the server is the caller's), so it fits the kernel; what differs per
 * protocol (how a connection is served, refused, counted) stays in each package.
 */
export function listenOn(
  server: Listener,
  port: number,
  host: string,
  field: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error & { code?: string }) =>
      reject(
        error.code === "EADDRINUSE"
          ? invalidArgument(field, `port ${port} on ${host} is already in use`)
          : new TroupeError("UNAVAILABLE", `cannot listen on ${host}:${port}`, { cause: error }),
      );
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}

/**
 * Stops accepting and closes every open connection (each one's `close` ends its socket). It
 * waits for the server's close only while `listening` still reads true after `close()`; Node's
 * servers clear it at once, so for them this does not wait for sockets to drain.
 */
export async function closeListener(
  server: Listener,
  connections: Iterable<{ close(): void }>,
): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const connection of connections) connection.close();
  if (server.listening) await closed;
}
