import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, type Info, onUnauthorized, setToken } from "./api.js";
import { ActorsPage } from "./pages/actors.js";
import { EventPage, EventsPage } from "./pages/events.js";
import { AppsPage, FunctionPage, FunctionsPage } from "./pages/functions.js";
import { LoginPage } from "./pages/login.js";
import { RunPage, RunsPage } from "./pages/runs.js";
import { StatsPage } from "./pages/stats.js";
import { navigate, useLocation } from "./router.js";
import { Link } from "./ui.js";
import "./style.css";

const NAV: readonly [string, string][] = [
  ["/runs", "Runs"],
  ["/events", "Events"],
  ["/functions", "Functions"],
  ["/apps", "Apps"],
  ["/stats", "Stats"],
  // Not /actors: that path belongs to the actors HTTP API once it is mounted.
  ["/activations", "Actors"],
];

function Page(props: { path: string; query: URLSearchParams }) {
  const { path, query } = props;
  const [, section, id] = path.split("/");
  const decoded = id === undefined ? undefined : decodeURIComponent(id);
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
    default:
      return <RunsPage query={query} />;
  }
}

function App() {
  const { path, query } = useLocation();
  const [needsLogin, setNeedsLogin] = useState(false);
  const [info, setInfo] = useState<Info | undefined>(undefined);
  useEffect(() => onUnauthorized(() => setNeedsLogin(true)), []);
  useEffect(() => {
    if (needsLogin) return;
    api<Info>("/info").then(setInfo, () => {});
  }, [needsLogin]);
  useEffect(() => {
    if (path === "/" || path === "/login") navigate("/runs", true);
  }, [path]);

  if (needsLogin) {
    return <LoginPage onLogin={() => setNeedsLogin(false)} />;
  }
  return (
    <div class="shell">
      <nav class="sidebar">
        <div class="brand">Troupe</div>
        {NAV.map(([href, label]) => (
          <Link
            key={href}
            href={href}
            class={path === href || path.startsWith(`${href}/`) ? "active" : ""}
          >
            {label}
          </Link>
        ))}
        <div class="meta">
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
                setNeedsLogin(true);
              }}
            >
              Log out
            </button>
          ) : null}
        </div>
      </nav>
      <main>
        <Page path={path} query={query} />
      </main>
    </div>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
