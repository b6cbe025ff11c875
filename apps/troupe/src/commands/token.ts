import { existsSync } from "node:fs";
import path from "node:path";
import { systemClock } from "@troupe/core";
import type { TokenRegistry } from "@troupe/runtime";
// The scope list alone (a small module), so `--help` does not load the runtime.
import { SCOPES } from "@troupe/runtime/scopes";
import type { Command } from "commander";
import { loadRuntime } from "./load-runtime.js";
import { DEFAULT_CONFIG_FILE } from "./start.js";

interface StorageFlags {
  readonly config: string;
  readonly storage?: string;
}

/**
 * Runs `work` on the token registry in the Store the config (or `--storage`) names, the same one
 * the server reads, so a token works on every node as soon as it is made.
 */
async function withRegistry<T>(
  flags: StorageFlags,
  work: (registry: TokenRegistry) => Promise<T>,
): Promise<T> {
  const file = path.resolve(flags.config);
  const { createTokenRegistry, loadRuntimeConfig, openStorage } = await loadRuntime();
  const config = await loadRuntimeConfig({
    file: existsSync(file) ? file : undefined,
    overrides: flags.storage === undefined ? {} : { storage: { url: flags.storage } },
  });
  const storage = openStorage({
    url: config.storage.url,
    schema: config.storage.schema,
    prefix: config.storage.prefix,
    queueName: config.storage.queueName,
    clock: systemClock,
  });
  try {
    await storage.ready();
    return await work(createTokenRegistry({ store: storage.store, clock: systemClock }));
  } finally {
    await storage.close();
  }
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** `troupe token create|list|revoke`: scoped API tokens, kept hashed in the Store. */
export function registerTokenCommands(program: Command): void {
  const token = program
    .command("token")
    .description("create, list and revoke scoped API tokens (stored hashed in the Store)");
  const storageOptions = (command: Command) =>
    command
      .option("-c, --config <file>", "config file naming the storage", DEFAULT_CONFIG_FILE)
      .option("--storage <url>", "storage URL (overrides the config)");

  storageOptions(
    token
      .command("create")
      .description(`make a token; scopes: ${SCOPES.join(", ")}`)
      .requiredOption("-n, --name <name>", "who or what uses it (shown in the audit log)")
      .requiredOption("-s, --scope <scope>", "a scope (repeat for several)", collect, []),
  ).action(async (flags: StorageFlags & { name: string; scope: string[] }) => {
    const created = await withRegistry(flags, (registry) =>
      registry.create({ name: flags.name, scopes: flags.scope }),
    );
    process.stdout.write(
      `${created.token}\n# id ${created.info.id}, name ${created.info.name}, scopes ${created.info.scopes.join(" ")}\n# the token is shown once: store it now\n`,
    );
  });

  storageOptions(token.command("list").description("list tokens (never their secrets)")).action(
    async (flags: StorageFlags) => {
      const tokens = await withRegistry(flags, (registry) => registry.list());
      for (const info of tokens) {
        const state =
          info.revokedAt === undefined
            ? "live"
            : `revoked ${new Date(info.revokedAt).toISOString()}`;
        process.stdout.write(
          `${info.id}  ${info.name}  ${info.scopes.join(",")}  ${new Date(info.createdAt).toISOString()}  ${state}\n`,
        );
      }
      if (tokens.length === 0) process.stdout.write("no tokens\n");
    },
  );

  storageOptions(
    token
      .command("revoke <id>")
      .description("revoke a token; every node refuses it within a second"),
  ).action(async (id: string, flags: StorageFlags) => {
    const info = await withRegistry(flags, (registry) => registry.revoke(id));
    process.stdout.write(`revoked ${info.id} (${info.name})\n`);
  });
}
