// The PostgreSQL databases one bench run makes for itself (DBOS's system database, Troupe's, the
// bare commits'): each named for this run (its pid and a random suffix), so two runs at once on
// one server never drop each other's, and all dropped when the run ends, fails or is interrupted.
import { randomBytes } from "node:crypto";
import pg from "pg";

/** A database made for this run: its name (for pg_stat_database) and a URL to connect to it. */
export interface ScratchDatabase {
  readonly name: string;
  readonly url: string;
}

export interface ScratchDatabases {
  /** Creates `troupe_flows_bench_<label>_<pid>_<random>` on the server of the run's URL. */
  create(label: string): Promise<ScratchDatabase>;
}

/** The run's suffix: the pid and 6 random hex digits (names stay under PostgreSQL's 63 bytes). */
const runSuffix = `${process.pid}_${randomBytes(3).toString("hex")}`;

const signalExitCodes = { SIGINT: 130, SIGTERM: 143 } as const;

/** Runs `query` on a connection of its own to `url`'s server. */
async function onServer(url: string, query: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}

/**
 * Runs `body` with a maker of scratch databases on `url`'s server, then drops every database it
 * made: when `body` resolves, when it throws (the error is rethrown), and on SIGINT or SIGTERM
 * (then the process exits 130 or 143 once they are dropped). The drop ends the connections still
 * open to them.
 */
export async function withScratchDatabases<T>(
  url: string,
  body: (databases: ScratchDatabases) => Promise<T>,
): Promise<T> {
  const names: string[] = [];
  let dropping: Promise<void> | undefined;
  const dropAll = () => {
    dropping ??= (async () => {
      for (const name of names) {
        try {
          await onServer(url, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        } catch (error) {
          console.error(`could not drop bench database ${name}: ${String(error)}`);
        }
      }
    })();
    return dropping;
  };
  // Stays registered until the end: a repeated signal (a launcher relaying it) must not end the
  // process before the drop is done.
  let signalled = false;
  const onSignal = (signal: keyof typeof signalExitCodes) => {
    if (signalled) return;
    signalled = true;
    console.error(`${signal}: dropping the bench databases ${names.join(", ") || "(none)"}`);
    void dropAll().finally(() => process.exit(signalExitCodes[signal]));
  };
  for (const signal of Object.keys(signalExitCodes) as (keyof typeof signalExitCodes)[])
    process.on(signal, onSignal);
  try {
    return await body({
      async create(label) {
        if (!/^[a-z0-9_]+$/.test(label)) throw new Error(`database label ${label}: a-z, 0-9, _`);
        const name = `troupe_flows_bench_${label}_${runSuffix}`;
        // Listed before it exists, so an interruption during CREATE still drops it.
        names.push(name);
        await onServer(url, `CREATE DATABASE "${name}"`);
        const at = new URL(url);
        at.pathname = `/${name}`;
        return { name, url: at.toString() };
      },
    });
  } finally {
    await dropAll();
    for (const signal of Object.keys(signalExitCodes)) process.off(signal, onSignal);
  }
}
