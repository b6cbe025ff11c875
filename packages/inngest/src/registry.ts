import { createHash } from "node:crypto";
import {
  type Clock,
  invalidArgument,
  jsonCodec,
  type Logger,
  type Store,
  TroupeError,
} from "@troupe/core";
import type { FlowDriver, Flows, FunctionDefinition } from "@troupe/flows";
import { z } from "zod";
import { type RegisterRequest, type SdkFunction, sdkFunctionSchema } from "./register-schema.js";
import { canonicalJson } from "./signing.js";
import { callUrlOf, toDefinition } from "./translate.js";

/** A synced app as stored (so functions come back after a restart). */
export interface StoredApp {
  /** The app's id (the SDK's `appName`). */
  readonly appName: string;
  /** The serve URL the SDK reported. */
  readonly url: string;
  /** The SDK framework adapter (`nodejs`, `express`, …). */
  readonly framework?: string;
  /** The SDK (`js:v4.24.0`). */
  readonly sdk?: string;
  /** Hash of the synced function configs; an identical re-sync is not a modification. */
  readonly checksum: string;
  /** When it was last synced, ms since the epoch. */
  readonly syncedAt: number;
  /** The function configs as the SDK sent them. */
  readonly functions: readonly SdkFunction[];
}

const storedAppSchema = z.object({
  appName: z.string(),
  url: z.string(),
  framework: z.string().optional(),
  sdk: z.string().optional(),
  checksum: z.string(),
  syncedAt: z.number(),
  functions: z.array(sdkFunctionSchema),
});

/** A function the engine may call now. */
export interface ActiveFunction {
  /** The app it belongs to. */
  readonly appName: string;
  /** The URL call requests go to (`?fnId=…&stepId=step`). */
  readonly callUrl: string;
  /** The SDK's config. */
  readonly config: SdkFunction;
  /** What the engine runs. */
  readonly definition: FunctionDefinition;
}

/** Options of {@link createAppRegistry}. */
export interface AppRegistryOptions {
  readonly flows: Flows;
  readonly store: Store;
  /** Store key prefix for apps. */
  readonly prefix: string;
  /** The driver every synced function runs through. */
  readonly driver: FlowDriver;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** Apps and their functions; keeps the engine's function table in step with syncs. */
export interface AppRegistry {
  /** Loads stored apps and registers their functions with the engine. */
  load(): Promise<void>;
  /** Applies a sync; throws INVALID_ARGUMENT naming the field when a function cannot be run. */
  sync(request: RegisterRequest): Promise<{ modified: boolean; appName: string }>;
  /** The active function with this composite id, if an app currently provides it. */
  get(functionId: string): ActiveFunction | undefined;
  /** Every synced app. */
  apps(): StoredApp[];
}

/** Creates the registry (call `load` before the engine starts its worker). */
export function createAppRegistry(options: AppRegistryOptions): AppRegistry {
  const { flows, store, prefix, driver, clock, logger } = options;
  const apps = new Map<string, StoredApp>();
  const active = new Map<string, ActiveFunction>();
  /** What is registered with the engine, by id (serialized, to skip identical re-syncs). */
  const inEngine = new Map<string, string>();
  let queue: Promise<unknown> = Promise.resolve();

  const appKey = (appName: string) => `${prefix}apps/${encodeURIComponent(appName)}`;

  const activate = (app: StoredApp) => {
    const definitions = app.functions.map((fn, index) => ({
      fn,
      definition: toDefinition(fn, `functions[${index}]`),
      callUrl: callUrlOf(fn, `functions[${index}]`),
    }));
    for (const [id, current] of active) {
      if (current.appName === app.appName && !definitions.some((d) => d.fn.id === id)) {
        // Gone from the app: no new runs; runs in flight fail at their next step
        // (FLOWS_FUNCTION_NOT_FOUND), as the app no longer serves the function.
        active.delete(id);
        inEngine.delete(id);
        flows.unregisterFunction(id);
      }
    }
    for (const { fn, definition, callUrl } of definitions) {
      active.set(fn.id, { appName: app.appName, callUrl, config: fn, definition });
      const serialized = JSON.stringify(definition);
      // A changed function replaces the engine's copy (triggers, retries, cancelOn, timeouts,
      // flow control) for new runs; runs in flight continue with it from their next step.
      if (inEngine.get(fn.id) !== serialized) {
        flows.registerFunction(definition, driver);
        inEngine.set(fn.id, serialized);
      }
    }
    apps.set(app.appName, app);
  };

  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };

  return {
    load: () =>
      serial(async () => {
        const entries = await store.list({ prefix: `${prefix}apps/` });
        for (const entry of entries) {
          const parsed = storedAppSchema.safeParse(jsonCodec.decode(entry.value));
          if (!parsed.success) {
            logger.error("inngest: a stored app is unreadable; skipped", { key: entry.key });
            continue;
          }
          try {
            activate(parsed.data as StoredApp);
          } catch (error) {
            logger.error("inngest: a stored app could not be activated; skipped", {
              key: entry.key,
              error,
            });
          }
        }
      }),
    sync: (request) =>
      serial(async () => {
        request.functions.forEach((fn, index) => {
          toDefinition(fn, `functions[${index}]`);
          const owner = active.get(fn.id);
          if (owner && owner.appName !== request.appName) {
            throw invalidArgument(
              `functions[${index}].id`,
              `function ${JSON.stringify(fn.id)} already belongs to app ${JSON.stringify(owner.appName)}`,
            );
          }
        });
        const ids = new Set<string>();
        request.functions.forEach((fn, index) => {
          if (ids.has(fn.id)) {
            throw invalidArgument(
              `functions[${index}].id`,
              `duplicate function id ${JSON.stringify(fn.id)}`,
            );
          }
          ids.add(fn.id);
        });
        const checksum = createHash("sha256")
          .update(canonicalJson({ url: request.url, functions: request.functions }))
          .digest("hex");
        const previous = apps.get(request.appName);
        const app: StoredApp = {
          appName: request.appName,
          url: request.url,
          ...(request.framework === undefined ? {} : { framework: request.framework }),
          ...(request.sdk === undefined ? {} : { sdk: request.sdk }),
          checksum,
          syncedAt: clock.now(),
          functions: request.functions,
        };
        if (previous?.checksum === checksum) return { modified: false, appName: app.appName };
        // Activate first: a function that cannot be translated then leaves nothing stored that
        // would fail again at the next start.
        activate(app);
        await store.commit([
          { type: "set", key: appKey(app.appName), value: jsonCodec.encode(app) },
        ]);
        return { modified: true, appName: app.appName };
      }),
    get: (functionId) => active.get(functionId),
    apps: () => [...apps.values()],
  };
}

/** True when `error` is a validation error to answer with 400. */
export function isClientError(error: unknown): error is TroupeError {
  return TroupeError.isInstance(error, "INVALID_ARGUMENT");
}
