import { connect, type Socket } from "node:net";

/** A bare TCP client that sends bytes and collects whatever the server answers. */
export async function rawClient(port: number) {
  const socket: Socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  let received = "";
  let closed = false;
  socket.on("data", (chunk) => {
    received += chunk.toString("utf8");
  });
  socket.on("error", () => undefined);
  const ended = new Promise<void>((resolve) =>
    socket.on("close", () => {
      closed = true;
      resolve();
    }),
  );
  return {
    send(bytes: string | Buffer) {
      socket.write(bytes);
    },
    /** Waits until the received text satisfies `done`, or the socket closes. */
    async until(done: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      while (!done(received) && !closed && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return received;
    },
    take(): string {
      const text = received;
      received = "";
      return text;
    },
    isClosed: () => closed,
    ended,
    close() {
      socket.destroy();
    },
  };
}
