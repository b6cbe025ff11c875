import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { Scope } from "./api.js";

// The dashboard hides what the caller's token may not do. This is only a courtesy: the runtime
// refuses the request anyway (403 naming the scope).

/** The scopes of the logged-in token, from `GET /api/whoami`; none until it answers. */
export const ScopesContext = createContext<readonly Scope[]>([]);

/** True when `held` covers `needed` (`admin` holds every scope). */
export function grants(held: readonly Scope[], needed: Scope): boolean {
  return held.includes("admin") || held.includes(needed);
}

/** Whether the logged-in token holds `needed`. */
export function useCan(needed: Scope): boolean {
  return grants(useContext(ScopesContext), needed);
}
