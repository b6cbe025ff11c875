// The dashboard talks to the runtime only through its public HTTP API: under /api, and the
// stats service's /stats/actors.

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

/** Calls `/api<path>` (or `<base><path>`) with the stored token; JSON in and out. */
export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; base?: string } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${init.base ?? "/api"}${path}`, {
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

// The API's answers, typed by the runtime that serves them. Type-only: no runtime code reaches
// the browser bundle.
export type {
  ActorSummary as StatsActor,
  AuditEntry,
  DashboardActorsOverview as ActorsOverview,
  DashboardActorType as ActorType,
  DashboardApp as AppRow,
  DashboardFunction,
  DashboardInfo as Info,
  DashboardPage as Page,
  DashboardRunDetail as RunDetail,
  DashboardStep as Step,
  FlowEvent,
  RegistryStatus,
  RunStatus,
  RunSummary,
  Scope,
  SerializedError,
  StatsExplainResult,
  TokenInfo,
  WhoAmI,
} from "@troupe/runtime";
