import { invalidArgument, TroupeError } from "@troupe/core";
import { noop } from "cockatiel";
import {
  Etcd3,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCInvalidArgumentError,
  GRPCUnavailableError,
  type IOptions,
  isRecoverableError,
} from "etcd3";
import { z } from "zod";

/** How an etcd adapter reaches its cluster: a URL, or a client the caller owns. */
export interface EtcdConnectionOptions {
  /**
   * `etcd://host:port` (or `http://`, `https://`), several hosts separated by commas:
   * `etcd://10.0.0.1:2379,10.0.0.2:2379`. Exactly one of `url` and `client`.
   */
  readonly url?: string;
  /** A client made by the caller; the adapter does not close it. */
  readonly client?: Etcd3;
  /** Deadline of each call, in ms. Default 10,000. */
  readonly callTimeoutMs?: number;
}

/** An open client and what the adapter needs to know about it. */
export interface EtcdConnection {
  readonly client: Etcd3;
  /** The hosts, for error messages. */
  readonly where: string;
  /** Closes the client when the adapter made it. */
  close(): void;
}

const hostsSchema = z
  .string()
  .min(1)
  .transform((url, context) => {
    const hosts: string[] = [];
    for (const part of url.split(",")) {
      const withScheme = part.includes("://") ? part.trim() : `etcd://${part.trim()}`;
      let parsed: URL;
      try {
        parsed = new URL(withScheme);
      } catch {
        context.addIssue({ code: "custom", message: `${JSON.stringify(part)} is not a URL` });
        return z.NEVER;
      }
      if (!["etcd:", "http:", "https:"].includes(parsed.protocol)) {
        context.addIssue({
          code: "custom",
          message: `expected an etcd://, http:// or https:// URL, got ${parsed.protocol}`,
        });
        return z.NEVER;
      }
      const scheme = parsed.protocol === "https:" ? "https" : "http";
      hosts.push(`${scheme}://${parsed.hostname}:${parsed.port || "2379"}`);
    }
    return hosts;
  });

/** The connection fields every etcd adapter's options schema shares. */
export const connectionShape = {
  url: z.string().optional(),
  client: z.custom<Etcd3>((value) => value instanceof Etcd3).optional(),
  callTimeoutMs: z.number().int().positive().optional(),
};

/** Opens (or adopts) the client described by `options`; `owner` names the factory in errors. */
export function openConnection(options: EtcdConnectionOptions, owner: string): EtcdConnection {
  if ((options.url === undefined) === (options.client === undefined)) {
    throw invalidArgument(`${owner}.url`, "give exactly one of url and client");
  }
  const timeout = options.callTimeoutMs ?? 10_000;
  if (options.client) {
    return { client: options.client, where: "the given client", close: () => {} };
  }
  const hosts = hostsSchema.safeParse(options.url);
  if (!hosts.success) {
    throw invalidArgument(`${owner}.url`, hosts.error.issues[0]?.message ?? "invalid URL");
  }
  const clientOptions: IOptions = {
    hosts: hosts.data,
    dialTimeout: timeout,
    // No automatic retries: a commit resent after a lost reply could apply twice or report a
    // false conflict. Reads retry in `runCall`; writes surface the doubt to the caller.
    faultHandling: { host: () => noop, global: noop },
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
    grpcOptions: { "grpc.max_receive_message_length": -1, "grpc.max_send_message_length": -1 },
  };
  const client = new Etcd3(clientOptions);
  return { client, where: hosts.data.join(","), close: () => client.close() };
}

const READ_RETRIES = 2;

function isTransportError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    isRecoverableError(error) ||
    error instanceof GRPCUnavailableError ||
    error instanceof GRPCDeadlineExceededError ||
    error instanceof GRPCCancelledError
  );
}

/**
 * Runs one etcd call. Transport failures become `UNAVAILABLE` (reads are retried first; a write's
 * message says it may or may not have been applied, entirely if at all); anything else etcd
 * refuses becomes `INTERNAL` with etcd's message.
 */
export async function runCall<T>(
  connection: EtcdConnection,
  operation: string,
  kind: "read" | "write",
  call: () => Promise<T>,
): Promise<T> {
  const retries = kind === "read" ? READ_RETRIES : 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (TroupeError.isInstance(error)) throw error;
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof GRPCInvalidArgumentError) {
        throw new TroupeError(
          "INVALID_ARGUMENT",
          `${operation}: etcd refused the request: ${message}`,
          {
            cause: error,
            details: { field: "ops" },
          },
        );
      }
      if (!isTransportError(error)) {
        throw new TroupeError("INTERNAL", `${operation}: etcd refused the request: ${message}`, {
          cause: error,
        });
      }
      if (attempt < retries) continue;
      const outcome =
        kind === "write"
          ? " (the commit may or may not have been applied; if it was, it was applied entirely)"
          : "";
      throw new TroupeError(
        "UNAVAILABLE",
        `${operation}: could not reach etcd at ${connection.where}: ${message}${outcome}`,
        { cause: error, details: { where: connection.where, operation } },
      );
    }
  }
}
