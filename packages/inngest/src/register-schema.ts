import type { ParseWithOptions } from "@troupe/core";
import { z } from "zod";

/** A trigger as an SDK sends it: an event (with an optional CEL `expression`) or a cron. */
const triggerSchema = z.union([
  z.looseObject({ event: z.string().min(1), expression: z.string().optional() }),
  z.looseObject({ cron: z.string().min(1), jitter: z.string().optional() }),
]);

const concurrencyItem = z.looseObject({
  limit: z.number().int().min(0),
  key: z.string().optional(),
  scope: z.enum(["fn", "env", "account"]).optional(),
});

/**
 * One function of an app, as the SDKs describe it in `POST /fn/register` (unknown keys are
 * accepted: newer SDKs add fields).
 */
export const sdkFunctionSchema = z.looseObject({
  id: z.string().min(1).max(256),
  name: z.string().optional(),
  triggers: z.array(triggerSchema).default([]),
  steps: z
    .record(
      z.string(),
      z.looseObject({
        id: z.string().optional(),
        name: z.string().optional(),
        runtime: z.looseObject({
          type: z.string(),
          url: z.url().optional(),
        }),
        retries: z.looseObject({ attempts: z.number().int().min(0).max(20).optional() }).optional(),
      }),
    )
    .refine((steps) => Object.keys(steps).length > 0, "expected at least one step entry"),
  idempotency: z.string().optional(),
  concurrency: z
    .union([z.number().int().min(0), concurrencyItem, z.array(concurrencyItem)])
    .optional(),
  throttle: z
    .looseObject({
      limit: z.number().int().min(1),
      period: z.string(),
      key: z.string().optional(),
      burst: z.number().int().min(0).optional(),
    })
    .optional(),
  rateLimit: z
    .looseObject({ limit: z.number().int().min(1), period: z.string(), key: z.string().optional() })
    .optional(),
  debounce: z
    .looseObject({ period: z.string(), key: z.string().optional(), timeout: z.string().optional() })
    .optional(),
  batchEvents: z
    .looseObject({
      maxSize: z.number().int().min(1),
      timeout: z.string(),
      key: z.string().optional(),
      if: z.string().optional(),
    })
    .optional(),
  priority: z.looseObject({ run: z.string().optional() }).optional(),
  singleton: z
    .looseObject({ key: z.string().optional(), mode: z.enum(["skip", "cancel"]) })
    .optional(),
  cancel: z
    .array(
      z.looseObject({
        event: z.string().min(1),
        if: z.string().optional(),
        timeout: z.string().optional(),
      }),
    )
    .optional(),
  timeouts: z
    .looseObject({ start: z.string().optional(), finish: z.string().optional() })
    .optional(),
});

/** A function config as sent by an SDK. */
export type SdkFunction = z.infer<typeof sdkFunctionSchema>;

/** The body of `POST /fn/register`. */
export const registerSchema = z.looseObject({
  url: z.url(),
  appName: z.string().min(1).max(256),
  deployType: z.string().optional(),
  framework: z.string().optional(),
  sdk: z.string().optional(),
  v: z.string().optional(),
  appVersion: z.string().optional(),
  functions: z.array(sdkFunctionSchema).max(1000),
});

/** A validated register request. */
export type RegisterRequest = z.infer<typeof registerSchema>;

/** How the Inngest API names a field in its errors: `body.functions[0].steps`, as Inngest does. */
export const BRACKETS: ParseWithOptions = { pathStyle: "brackets" };
