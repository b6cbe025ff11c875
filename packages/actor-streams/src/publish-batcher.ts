import type { Appended, EventLog, StreamEvent } from "./event-log.js";
import type { StreamId } from "./stream-id.js";

/** Most events one commit appends, over all its streams. */
export const MAX_BATCH = 256;

interface Waiter {
  readonly data: unknown;
  readonly resolve: (event: StreamEvent) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit of publishes: while one commit is in flight, the publishes to every stream gather
 * and go together in the next commit (up to {@link MAX_BATCH} events). One commit at a time keeps
 * each stream's events in the order `publish` was called; gathering across streams means a busy
 * process makes few, larger commits instead of one per stream and event, so its rate is not bound
 * by commit latency and the database is not flooded with small transactions.
 */
export class PublishBatcher {
  /** Waiting publishes per stream name, in the order the streams got their first waiting one. */
  private readonly waiting = new Map<string, { readonly id: StreamId; readonly items: Waiter[] }>();
  private committing: Promise<void> | undefined;

  constructor(
    private readonly log: EventLog,
    /** Called once a stream's events are stored, before their publishes resolve; must not throw. */
    private readonly stored: (id: StreamId, appended: Appended[]) => void,
  ) {}

  /** Queues `data` for stream `id`; resolves with the stored event. */
  add(id: StreamId, name: string, data: unknown): Promise<StreamEvent> {
    return new Promise((resolve, reject) => {
      let entry = this.waiting.get(name);
      if (entry === undefined) {
        entry = { id, items: [] };
        this.waiting.set(name, entry);
      }
      entry.items.push({ data, resolve, reject });
      this.committing ??= this.run().finally(() => {
        this.committing = undefined;
      });
    });
  }

  /** Resolves once every publish queued so far has settled. */
  async drain(): Promise<void> {
    while (this.committing !== undefined) await this.committing;
  }

  private async run(): Promise<void> {
    // Let the publishes of the current turn join the first commit.
    await Promise.resolve();
    while (this.waiting.size > 0) {
      const taken = this.take();
      const outcomes = await this.log.appendMany(
        taken.map(({ id, items }) => ({ id, items: items.map((each) => each.data) })),
      );
      taken.forEach(({ id, items }, index) => {
        const outcome = outcomes[index];
        if (outcome === undefined || !outcome.ok) {
          for (const each of items) each.reject(outcome?.error);
          return;
        }
        this.stored(id, outcome.appended);
        items.forEach((each, i) => {
          each.resolve((outcome.appended[i] as Appended).event);
        });
      });
    }
  }

  /** Up to MAX_BATCH waiting events, whole streams first; a stream cut short goes to the back. */
  private take(): { id: StreamId; items: Waiter[] }[] {
    const taken: { id: StreamId; items: Waiter[] }[] = [];
    let room = MAX_BATCH;
    for (const [name, entry] of this.waiting) {
      if (room === 0) break;
      const items = entry.items.splice(0, room);
      room -= items.length;
      taken.push({ id: entry.id, items });
      this.waiting.delete(name);
      if (entry.items.length > 0) this.waiting.set(name, entry);
    }
    return taken;
  }
}
