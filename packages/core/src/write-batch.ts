/** What {@link holdWritesForTurn} needs of a socket: Node's `cork` and `uncork`. */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/** Sockets corked until the current turn's check phase. */
const held = new WeakSet<Corkable>();

/**
 * Holds `socket`'s writes from this call until the event loop's check phase (`setImmediate`),
 * then lets them out together: the messages one turn of the event loop writes to a socket (frames
 * delivered from one PubSub read, a burst of publishes) reach the kernel in one system call
 * instead of one each; a lone write waits only for the I/O callbacks already due in the same turn.
 * Call it before each write; a socket already held this turn is left as it is.
 */
export function holdWritesForTurn(socket: Corkable): void {
  if (held.has(socket)) return;
  held.add(socket);
  socket.cork();
  setImmediate(() => {
    held.delete(socket);
    socket.uncork();
  });
}
