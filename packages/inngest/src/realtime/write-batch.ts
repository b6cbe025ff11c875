/** What {@link createWriteBatch} needs of a socket: Node's `cork` and `uncork`. */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * Holds a socket's writes from the first one until the event loop's check phase
 * (`setImmediate`), then lets them out together. The frames that one read from the PubSub, or one
 * turn of the event loop, delivers to a subscriber then reach the kernel in one system call
 * instead of one each; a lone frame waits only for the I/O callbacks already due in the same
 * turn. Returns the function to call before each write.
 */
export function createWriteBatch(socket: Corkable): () => void {
  let held = false;
  const release = () => {
    held = false;
    socket.uncork();
  };
  return () => {
    if (held) return;
    held = true;
    socket.cork();
    setImmediate(release);
  };
}
