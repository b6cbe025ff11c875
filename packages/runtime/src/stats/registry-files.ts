import { type FSWatcher, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import {
  type CombinerRegistry,
  type LayerRegistry,
  parseCombinerRegistry,
  parseLayerRegistry,
} from "@troupe/stats";

/** The registry files of the stats service. */
export interface RegistryPaths {
  /** The combiner registry file. */
  readonly registry: string;
  /** The layer registry file, when one is configured. */
  readonly layers?: string | undefined;
}

/** Registries read from their files. */
export interface LoadedRegistries {
  readonly combiner: CombinerRegistry;
  readonly layers: LayerRegistry | undefined;
}

/**
 * Reads and validates the registry files. A bad file throws `INVALID_ARGUMENT` naming the file
 * and field (`stats.yaml: field rules.hp.clamp_default: …`); nothing is half-loaded.
 */
export async function loadRegistryFiles(paths: RegistryPaths): Promise<LoadedRegistries> {
  const combiner = parseCombinerRegistry(await readFile(paths.registry, "utf8"), paths.registry);
  const layers =
    paths.layers === undefined
      ? undefined
      : parseLayerRegistry(await readFile(paths.layers, "utf8"), paths.layers);
  return { combiner, layers };
}

/**
 * Calls `onChange` after any registry file changes, once per burst of events (editors write a
 * file in several steps, or replace it by renaming). Directories are watched, not files, so a
 * replaced file keeps being watched. Returns a function that stops watching.
 */
export function watchRegistryFiles(
  paths: RegistryPaths,
  onChange: () => void,
  settleMs = 50,
): () => void {
  const files = [paths.registry, paths.layers]
    .filter((file): file is string => file !== undefined)
    .map((file) => resolve(file));
  const byDirectory = new Map<string, Set<string>>();
  for (const file of files) {
    const names = byDirectory.get(dirname(file)) ?? new Set<string>();
    names.add(basename(file));
    byDirectory.set(dirname(file), names);
  }
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, settleMs);
  };
  const watchers: FSWatcher[] = [];
  for (const [directory, names] of byDirectory) {
    const watcher = watch(directory, (_event, name) => {
      // Some platforms omit the name: then any change in the directory counts.
      if (name === null || names.has(name.toString())) schedule();
    });
    watcher.unref();
    watchers.push(watcher);
  }
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  };
}
