import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { grants, ScopesContext, useCan } from "./access.js";
import {
  ApiError,
  api,
  type Info,
  onUnauthorized,
  type Scope,
  setToken,
  type WhoAmI,
} from "./api.js";
import { ActorsPage } from "./pages/actors.js";
import { AuditPage } from "./pages/audit.js";
import { EventPage, EventsPage } from "./pages/events.js";
import { AppsPage, FunctionPage, FunctionsPage } from "./pages/functions.js";
import { LoginPage } from "./pages/login.js";
import { RunPage, RunsPage } from "./pages/runs.js";
import { StatsPage } from "./pages/stats.js";
import { TokensPage } from "./pages/tokens.js";
import { navigate, useLocation } from "./router.js";
import { ErrorBox, Link } from "./ui.js";
import "./style.css";

// Each page and the scope its data needs: the token's scopes decide which are shown.
const NAV: readonly [string, string, Scope][] = [
  ["/runs", "Runs", "runs:read"],
  ["/events", "Events", "runs:read"],
  ["/functions", "Functions", "runs:read"],
  ["/apps", "Apps", "runs:read"],
  ["/stats", "Stats", "stats:read"],
  // Not /actors: that path belongs to the actors HTTP API once it is mounted.
  ["/activations", "Actors", "actors:read"],
  ["/tokens", "Tokens", "admin"],
  ["/audit", "Audit log", "admin"],
];

function Page(props: { path: string; query: URLSearchParams }) {
  const { path, query } = props;
  const [, section, id] = path.split("/");
  const decoded = id === undefined ? undefined : decodeURIComponent(id);
  const needed = NAV.find(([href]) => href === `/${section}`)?.[2] ?? "runs:read";
  if (!useCan(needed)) {
    return (
      <p class="notice" data-testid="missing-scope">
        This token lacks the scope {needed} this page needs.
      </p>
    );
  }
  switch (section) {
    case "runs":
      return decoded ? <RunPage id={decoded} /> : <RunsPage query={query} />;
    case "events":
      return decoded ? <EventPage id={decoded} /> : <EventsPage query={query} />;
    case "functions":
      return decoded ? <FunctionPage id={decoded} /> : <FunctionsPage />;
    case "apps":
      return <AppsPage />;
    case "stats":
      return <StatsPage />;
    case "activations":
      return <ActorsPage />;
    case "tokens":
      return <TokensPage />;
    case "audit":
      return <AuditPage />;
    default:
      return <RunsPage query={query} />;
  }
}

function App() {
  const { path, query } = useLocation();
  const [needsLogin, setNeedsLogin] = useState(false);
  const [info, setInfo] = useState<Info | undefined>(undefined);
  const [whoami, setWhoami] = useState<WhoAmI | undefined>(undefined);
  const [whoamiError, setWhoamiError] = useState<unknown>(undefined);
  useEffect(() => onUnauthorized(() => setNeedsLogin(true)), []);
  useEffect(() => {
    if (needsLogin) return;
    api<Info>("/info").then(setInfo, () => {});
    api<WhoAmI>("/whoami").then(setWhoami, (error: unknown) => {
      // A 401 shows the login page; anything else is shown instead of the pages.
      if (!(error instanceof ApiError && error.status === 401)) setWhoamiError(error);
    });
  }, [needsLogin]);
  useEffect(() => {
    if (path === "/" || path === "/login") navigate("/runs", true);
  }, [path]);

  if (needsLogin) {
    return <LoginPage onLogin={() => setNeedsLogin(false)} />;
  }
  const scopes = whoami?.scopes ?? [];
  return (
    <ScopesContext.Provider value={scopes}>
      <div class="shell">
        <nav class="sidebar">
          <div class="brand">Troupe</div>
          {NAV.filter(([, , scope]) => grants(scopes, scope)).map(([href, label]) => (
            <Link
              key={href}
              href={href}
              class={path === href || path.startsWith(`${href}/`) ? "active" : ""}
            >
              {label}
            </Link>
          ))}
          <div class="meta">
            {whoami?.auth ? <div data-testid="whoami">{whoami.name}</div> : null}
            {info ? (
              <>
                <div>{info.mode}</div>
                <div>{info.storage}</div>
              </>
            ) : null}
            {info?.auth ? (
              <button
                type="button"
                class="small"
                onClick={() => {
                  setToken(null);
                  setWhoami(undefined);
                  setNeedsLogin(true);
                }}
              >
                Log out
              </button>
            ) : null}
          </div>
        </nav>
        <main>
          {whoami ? <Page path={path} query={query} /> : <ErrorBox error={whoamiError} />}
        </main>
      </div>
    </ScopesContext.Provider>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
