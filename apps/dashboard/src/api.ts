// The dashboard talks to the runtime only through its public HTTP API under /api.

const TOKEN_KEY = "troupe.token";

/** The bearer token of this browser tab (sessionStorage: gone when the tab closes). */
export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Stores (or, with null, forgets) the token. */
export function setToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** A failed API call: the HTTP status and the runtime's message (which names the field). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called whenever the runtime answers 401, so the app can show the login page. */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/** Calls `/api<path>` with the stored token; JSON in and out. */
export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`/api${path}`, {
    method: init.method ?? "GET",
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = text === "" ? {} : JSON.parse(text);
  } catch {
    body = { message: text };
  }
  if (response.status === 401) {
    for (const listener of unauthorizedListeners) listener();
    throw new ApiError(401, "Unauthorized: log in with the runtime's token");
  }
  if (!response.ok && !(response.status === 502 && path === "/apps/sync")) {
    const error = (
      body as { error?: { message?: string; field?: string } | string; message?: string }
    ).error;
    const message =
      typeof error === "string"
        ? error
        : (error?.message ?? (body as { message?: string }).message ?? `HTTP ${response.status}`);
    throw new ApiError(
      response.status,
      message,
      typeof error === "object" ? error?.field : undefined,
    );
  }
  return body as T;
}

/** Where a run stands. */
export type RunStatus = "queued" | "running" | "completed" | "failed" | "cancelled";

/** A run in a listing. */
export interface RunSummary {
  readonly id: string;
  readonly functionId: string;
  readonly status: RunStatus;
  readonly createdAt: number;
  readonly endedAt?: number;
}

/** An error as the engine records it. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

/** One step of a run's timeline. */
export interface Step {
  readonly hash: string;
  readonly id: string;
  readonly op: string;
  readonly status: string;
  readonly attempts: number;
  readonly startedAt?: number;
  readonly endedAt?: number;
  readonly durationMs: number | null;
  readonly input?: unknown;
  readonly output?: unknown;
  readonly error?: SerializedError;
  readonly errors?: readonly SerializedError[];
  readonly at?: number;
}

/** An event as stored. */
export interface FlowEvent {
  readonly id: string;
  readonly name: string;
  readonly data: Record<string, unknown>;
  readonly user?: Record<string, unknown>;
  readonly ts: number;
}

/** A run with its steps. */
export interface RunDetail extends RunSummary {
  readonly startedAt?: number;
  readonly durationMs: number | null;
  readonly output?: unknown;
  readonly error?: SerializedError;
  readonly events: readonly FlowEvent[];
  readonly steps: readonly Step[];
  readonly rerunOf?: string;
  readonly parentRunId?: string;
}

/** A page of a listing. */
export interface Page<T> {
  readonly data: T[];
  readonly nextCursor: string | null;
}

/** A function as the API lists it. */
export interface DashboardFunction {
  readonly id: string;
  readonly name: string;
  readonly source: "in-process" | "app";
  readonly appName?: string;
  readonly triggers: readonly {
    readonly event?: string;
    readonly if?: string;
    readonly cron?: string;
  }[];
  readonly config: unknown;
}

/** What `/api/info` reports. */
export interface Info {
  readonly mode: string;
  readonly storage: string;
  readonly auth: boolean;
  readonly inngest: boolean;
  readonly stats: boolean;
  readonly actors: boolean;
}
