import { handleShutdownSignals } from "@troupe/runtime";
import { createArena } from "./arena.js";

// `pnpm arena`: the arena on SQLite, with the dashboard; `pnpm --filter @troupe/arena load` drives it.
const arena = createArena({
  ...(process.env.ARENA_STORAGE_URL ? { storageUrl: process.env.ARENA_STORAGE_URL } : {}),
  ...(process.env.ARENA_PORT ? { port: Number(process.env.ARENA_PORT) } : {}),
});
const { url } = await arena.start();
handleShutdownSignals({
  stop: () => arena.stop(),
  exit: (code) => process.exit(code),
  logger: arena.logger,
});
console.log(`arena at ${url}: the dashboard's Stats page lists the players, Runs the matches`);
