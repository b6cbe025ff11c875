import { fromUtf8, type Logger, type PubSub, type Unsubscribe, utf8 } from "@troupe/core";

/** An actor whose outputs changed, and the Store version that changed them. */
export interface ActorChange {
  readonly actorId: string;
  readonly version: number;
}

// PostgreSQL's NOTIFY carries at most 8,000 bytes: batches travel in slices well under that.
const PER_MESSAGE = 40;

/** Encodes changes as the messages that carry them (pure). */
export function encodeChanges(changes: readonly ActorChange[]): Uint8Array[] {
  const messages: Uint8Array[] = [];
  for (let start = 0; start < changes.length; start += PER_MESSAGE) {
    const slice = changes.slice(start, start + PER_MESSAGE);
    messages.push(utf8(JSON.stringify(slice.map((change) => [change.actorId, change.version]))));
  }
  return messages;
}

/** Decodes a message; anything malformed yields no changes (pure). */
export function decodeChanges(message: Uint8Array): ActorChange[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUtf8(message));
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const changes: ActorChange[] = [];
  for (const item of parsed) {
    if (!Array.isArray(item)) continue;
    const [actorId, version] = item as unknown[];
    if (typeof actorId === "string" && Number.isSafeInteger(version)) {
      changes.push({ actorId, version: version as number });
    }
  }
  return changes;
}

/**
 * The newest output version known per actor, from this process's writes and other processes'
 * messages: an L1 snapshot older than it is stale. Bounded: the longest-unchanged actors are
 * forgotten first (their L1 entries then fall back on the TTL).
 */
export class NewestVersions {
  private readonly versions = new Map<string, number>();

  constructor(private readonly maxEntries: number) {}

  /** The newest version seen for `actorId`, if any. */
  get(actorId: string): number | undefined {
    return this.versions.get(actorId);
  }

  /** Records `change`; returns whether it was newer than what was known. */
  note(change: ActorChange): boolean {
    const known = this.versions.get(change.actorId);
    if (known !== undefined && known >= change.version) return false;
    this.versions.delete(change.actorId);
    this.versions.set(change.actorId, change.version);
    if (this.versions.size > this.maxEntries) {
      const oldest = this.versions.keys().next().value;
      if (oldest !== undefined) this.versions.delete(oldest);
    }
    return true;
  }
}

/** Publishes this process's changes and receives the others'. */
export interface InvalidationChannel {
  publish(changes: readonly ActorChange[]): Promise<void>;
  close(): Promise<void>;
}

/** Subscribes to `channel`; `onChanges` receives every decoded message. */
export async function openInvalidationChannel(
  pubsub: PubSub,
  channel: string,
  onChanges: (changes: ActorChange[]) => void,
  logger: Logger,
): Promise<InvalidationChannel> {
  const unsubscribe: Unsubscribe = await pubsub.subscribe(channel, (message) => {
    onChanges(decodeChanges(message));
  });
  return {
    async publish(changes) {
      for (const message of encodeChanges(changes)) {
        try {
          await pubsub.publish(channel, message);
        } catch (error) {
          // The write is committed; other processes then see it when their L1 entry expires.
          logger.warn("stats invalidation not published", { channel, error });
        }
      }
    },
    close: () => unsubscribe(),
  };
}
