// DBOS Transact doing the same workflows on the same PostgreSQL, for the side-by-side table.
import { DBOS } from "@dbos-inc/dbos-sdk";

let completed = 0;
let gaps: number[] = [];
let lastEnd = 0;

async function threeSteps(n: number): Promise<number> {
  const a = await DBOS.runStep(async () => n + 1, { name: "a" });
  const b = await DBOS.runStep(async () => a * 2, { name: "b" });
  const c = await DBOS.runStep(async () => b + 1, { name: "c" });
  completed++;
  return c;
}

async function tenSteps(): Promise<void> {
  for (let index = 0; index < 10; index++) {
    await DBOS.runStep(
      async () => {
        const now = performance.now();
        if (index > 0) gaps.push(now - lastEnd);
        lastEnd = performance.now();
        return index;
      },
      { name: `s${index}` },
    );
  }
}

const threeWorkflow = DBOS.registerWorkflow(threeSteps, { name: "threeSteps" });
const tenWorkflow = DBOS.registerWorkflow(tenSteps, { name: "tenSteps" });

/** Runs one 3-step workflow through DBOS (registered workflow called in-process) to its result. */
export async function dbosOne(n: number): Promise<void> {
  await threeWorkflow(n);
}

/** Launches DBOS on `url` (its system tables in schema `dbos_bench`). */
export async function launchDbos(url: string): Promise<void> {
  DBOS.setConfig({
    name: "troupe-flows-bench",
    systemDatabaseUrl: url,
    systemDatabaseSchemaName: "dbos_bench",
    logLevel: "error",
  });
  await DBOS.launch();
}

/** Runs `count` 3-step workflows, `concurrency` at a time; resolves to the elapsed ms. */
export async function dbosThroughput(count: number, concurrency: number): Promise<number> {
  completed = 0;
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const n = next++;
      // Calling the registered workflow runs it durably in this process and resolves to its
      // result: DBOS's fastest path (startWorkflow + getResult may poll the database).
      await threeWorkflow(n);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  if (completed !== count) throw new Error(`dbos completed ${completed} of ${count}`);
  return performance.now() - started;
}

/** Runs `runs` 10-step workflows one at a time; resolves to the gaps between steps (ms). */
export async function dbosStepGaps(runs: number): Promise<number[]> {
  gaps = [];
  for (let run = 0; run < runs; run++) await tenWorkflow();
  return gaps;
}

/** Shuts DBOS down. */
export async function shutdownDbos(): Promise<void> {
  await DBOS.shutdown();
}
