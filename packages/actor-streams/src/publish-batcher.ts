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
 * Most commits of publishes in flight at once. The second one lets publishes to other streams go
 * while a slow commit holds the first (a stream is in at most one of them, so its events stay in
 * order); more would take more Store connections for little gain.
 */
export const COMMITS_IN_FLIGHT = 2;

/**
 * Group commit of publishes: the publishes to every stream gather and go together in one commit
 * (up to {@link MAX_BATCH} events), up to {@link COMMITS_IN_FLIGHT} commits at a time. A stream
 * is in at most one commit in flight: its publishes gather until that commit is done, so each
 * stream's events are stored and announced in the order `publish` was called. Gathering across
 * streams means a busy process makes few, larger commits instead of one per stream and event, so
 * its rate is not bound by commit latency and the database is not flooded with small
 * transactions; the second commit in flight means a slow commit holds only its own streams.
 */
export class PublishBatcher {
  /** Waiting publishes per stream name, in the order the streams got their first waiting one. */
  private readonly waiting = new Map<string, { readonly id: StreamId; readonly items: Waiter[] }>();
  /** Streams with a commit in flight. */
  private readonly busy = new Set<string>();
  /** Commits in flight, and the one about to start (at the end of the current turn). */
  private readonly commits = new Set<Promise<void>>();
  /** A commit was started and takes its publishes at the end of the current turn. */
  private starting = false;

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
      this.start();
    });
  }

  /** Resolves once every publish queued so far has settled. */
  async drain(): Promise<void> {
    while (this.commits.size > 0) await Promise.all([...this.commits]);
  }

  /** Starts a commit when a slot is free (one starting already takes this turn's publishes). */
  private start(): void {
    if (this.starting || this.commits.size >= COMMITS_IN_FLIGHT || !this.ready()) return;
    this.starting = true;
    const commit: Promise<void> = this.run().finally(() => {
      this.commits.delete(commit);
      this.start();
    });
    this.commits.add(commit);
  }

  /** Whether a stream without a commit in flight has publishes waiting. */
  private ready(): boolean {
    for (const name of this.waiting.keys()) if (!this.busy.has(name)) return true;
    return false;
  }

  private async run(): Promise<void> {
    // Let the publishes of the current turn join this commit.
    await Promise.resolve();
    this.starting = false;
    for (;;) {
      const taken = this.take();
      if (taken.length === 0) return;
      for (const { name } of taken) this.busy.add(name);
      // Another slot may take what this commit leaves.
      this.start();
      try {
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
      } catch (error) {
        for (const { items } of taken) for (const each of items) each.reject(error);
      } finally {
        for (const { name } of taken) this.busy.delete(name);
      }
    }
  }

  /**
   * Up to MAX_BATCH waiting events of streams without a commit in flight, whole streams first;
   * a stream cut short goes to the back.
   */
  private take(): { name: string; id: StreamId; items: Waiter[] }[] {
    const taken: { name: string; id: StreamId; items: Waiter[] }[] = [];
    let room = MAX_BATCH;
    for (const [name, entry] of this.waiting) {
      if (room === 0) break;
      if (this.busy.has(name)) continue;
      const items = entry.items.splice(0, room);
      room -= items.length;
      taken.push({ name, id: entry.id, items });
      this.waiting.delete(name);
      if (entry.items.length > 0) this.waiting.set(name, entry);
    }
    return taken;
  }
}
