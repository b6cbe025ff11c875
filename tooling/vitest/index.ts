import { defaultServerConditions } from "vite";
import { defineProject, mergeConfig, type UserWorkspaceConfig } from "vitest/config";

/**
 * The vitest project every Troupe package uses: resolves workspace packages to their TypeScript
 * source through the `source` export condition, so tests never wait for a build.
 */
const sharedProject = defineProject({
  resolve: { conditions: ["source", ...defaultServerConditions] },
  ssr: { resolve: { conditions: ["source", ...defaultServerConditions] } },
  test: { environment: "node", testTimeout: 30_000, hookTimeout: 30_000 },
});

/** A package's vitest project: the shared settings plus the package's name and overrides. */
export function troupeProject(name: string, overrides: UserWorkspaceConfig = {}) {
  return mergeConfig(sharedProject, { ...overrides, test: { name, ...overrides.test } });
}
