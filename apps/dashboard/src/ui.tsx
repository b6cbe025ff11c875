import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "./api.js";
import { linkTo } from "./router.js";

/** An in-app link. */
export function Link(props: { href: string; children: ComponentChildren; class?: string }) {
  return (
    <a href={props.href} class={props.class} onClick={linkTo(props.href)}>
      {props.children}
    </a>
  );
}

/** A coloured status label (`data-status` lets tests and styles find it). */
export function Status(props: { status: string }) {
  return (
    <span class={`status status-${props.status}`} data-status={props.status}>
      {props.status}
    </span>
  );
}

/** `2026-12-01 10:20:30.123` in local time. */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined) return "—";
  const date = new Date(ms);
  const pad = (value: number, width = 2) => String(value).padStart(width, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** `850 ms`, `12.3 s`, `4 min 2 s`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** Pretty JSON in a scrollable block. */
export function Json(props: { value: unknown }) {
  return <pre class="json">{JSON.stringify(props.value, null, 2)}</pre>;
}

/** An error message box. */
export function ErrorBox(props: { error: unknown }) {
  if (props.error === undefined || props.error === null) return null;
  const message = props.error instanceof Error ? props.error.message : String(props.error);
  return (
    <div class="error" role="alert">
      {message}
    </div>
  );
}

/** State of an async load: the value, the error, and a reload. */
export interface Loaded<T> {
  readonly value: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  reload(): Promise<void>;
}

/**
 * Loads with `load` whenever `deps` change, and again every `pollMs` while set (live updates).
 * A 401 is left to the app (it shows the login page).
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], pollMs?: number): Loaded<T> {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  // The caller's deps decide when `load` changes (it is a fresh closure on every render).
  const reload = useCallback(async () => {
    const mine = ++generation.current;
    try {
      const next = await load();
      if (mine !== generation.current) return;
      setValue(next);
      setError(undefined);
    } catch (caught) {
      if (mine !== generation.current) return;
      if (!(caught instanceof ApiError && caught.status === 401)) setError(caught);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, deps);
  useEffect(() => {
    setLoading(true);
    void reload();
    if (pollMs === undefined) return;
    const timer = setInterval(() => void reload(), pollMs);
    return () => clearInterval(timer);
  }, [reload, pollMs]);
  return { value, error, loading, reload };
}

/** Parses a JSON text field, naming it in the error. */
export function parseJsonField(text: string, field: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${field}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`${field}: expected a JSON object`);
  }
  return value as Record<string, unknown>;
}
