import { z } from "zod";
import { DEFAULT_LIST_LIMIT_BYTES } from "./list-bounds.js";

/** Default body limit of every route but the event API and the SDK's calls: 1 MiB. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/** Default body limit of `POST /e/:key`: 512 KiB, Inngest's default maximum event size. */
export const DEFAULT_EVENT_BODY_LIMIT_BYTES = 512 * 1024;

/**
 * Default body limit of `/fn/register` and `/v1/checkpoint/…`: 32 MiB, Inngest's cap on a run's
 * whole state (a checkpoint can carry several 4 MB step outputs, a sync hundreds of functions).
 */
export const DEFAULT_SDK_BODY_LIMIT_BYTES = 32 * 1024 * 1024;

const bytes = (fallback: number) =>
  z
    .number({ error: "expected a number of bytes" })
    .int("expected a whole number of bytes")
    .min(1024, "expected at least 1024 bytes")
    .default(fallback);

/** The `security` section of the runtime config: limits, dev-mode request checks, sync allowlist. */
export const securityConfigSchema = z.strictObject({
  /** Largest request body on every route but those below. Default 1 MiB. */
  bodyLimitBytes: bytes(DEFAULT_BODY_LIMIT_BYTES),
  /** Largest body of `POST /e/:key`. Default 512 KiB. */
  eventBodyLimitBytes: bytes(DEFAULT_EVENT_BODY_LIMIT_BYTES),
  /** Largest body of the SDK's `/fn/register` and `/v1/checkpoint/…`. Default 32 MiB. */
  sdkBodyLimitBytes: bytes(DEFAULT_SDK_BODY_LIMIT_BYTES),
  /** Most bytes of one `/api/runs` or `/api/events` page; a fuller page ends early with a cursor. Default 4 MiB. */
  listLimitBytes: bytes(DEFAULT_LIST_LIMIT_BYTES),
  /** Dev mode: host names accepted besides addresses and local names (`*`: any). */
  allowedHosts: z.array(z.string().min(1, "expected a host name")).default([]),
  /** Dev mode: origins accepted on state-changing requests besides the server's own (`*`: any). */
  allowedOrigins: z
    .array(
      z.union([
        z.literal("*"),
        z.url({ protocol: /^https?$/, error: "expected an origin like https://tools.example.com" }),
      ]),
    )
    .default([]),
  /**
   * Start mode: serve URL prefixes `POST /api/apps/sync` may contact besides `apps` (e.g.
   * `https://apps.internal.example.com/`). Anything else answers 403 without a request made.
   */
  appSyncAllowlist: z
    .array(z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" }))
    .default([]),
  /**
   * Start mode: URL prefixes `step.fetch` and `step.ai.infer` may make the server contact (e.g.
   * `https://api.openai.com/`). Anything else fails the step without a request made.
   */
  offloadAllowlist: z
    .array(z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" }))
    .default([]),
});

/** The validated `security` section. */
export type SecurityConfig = z.output<typeof securityConfigSchema>;
