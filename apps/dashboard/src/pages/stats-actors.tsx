import { useState } from "preact/hooks";
import { api, type RegistryStatus, type StatsActor } from "../api.js";
import { ErrorBox, Json, useLoad } from "../ui.js";

/** A per-actor snapshot as `GET /stats/actors/:id` answers it. */
interface ActorSnapshot {
  readonly actor_id: string;
  readonly version: number;
  readonly epoch: number;
  readonly primary: Readonly<Record<string, number>>;
  readonly derived: Readonly<Record<string, number>>;
  readonly caps_used: Readonly<Record<string, { readonly min: number; readonly max: number }>>;
}

interface ActorList {
  readonly actors: readonly StatsActor[];
  readonly registry: RegistryStatus;
}

const BASE = "/stats/actors";

async function loadActors(): Promise<ActorList | null> {
  const answer = await api<Partial<ActorList>>("?limit=100", { base: BASE });
  // Without a stats service the path is the dashboard's own page, not a JSON list.
  return Array.isArray(answer.actors) ? (answer as ActorList) : null;
}

function ActorSnapshotTable(props: { snapshot: ActorSnapshot }) {
  const { snapshot } = props;
  const dimensions = [
    ...new Set([
      ...Object.keys(snapshot.primary),
      ...Object.keys(snapshot.derived),
      ...Object.keys(snapshot.caps_used),
    ]),
  ].sort();
  return (
    <table data-testid="actor-snapshot" data-actor={snapshot.actor_id}>
      <thead>
        <tr>
          <th>Dimension</th>
          <th>Primary</th>
          <th>Derived</th>
          <th>Min</th>
          <th>Max</th>
        </tr>
      </thead>
      <tbody>
        {dimensions.map((dimension) => (
          <tr key={dimension}>
            <td>{dimension}</td>
            <td class="num">{snapshot.primary[dimension] ?? "—"}</td>
            <td class="num">{snapshot.derived[dimension] ?? "—"}</td>
            <td class="num">{snapshot.caps_used[dimension]?.min ?? "—"}</td>
            <td class="num">{snapshot.caps_used[dimension]?.max ?? "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The actors the stats service holds outputs for, live, and the snapshot of the one picked. */
export function StatsActors() {
  const list = useLoad(loadActors, [], 2000);
  const [picked, setPicked] = useState<string | undefined>(undefined);
  const snapshot = useLoad(
    async () =>
      picked === undefined
        ? undefined
        : api<ActorSnapshot>(`/${encodeURIComponent(picked)}`, { base: BASE }),
    [picked],
    2000,
  );
  if (list.value === null) {
    return (
      <p class="muted" data-testid="stats-actors-off">
        This runtime has no stats service (set <code>stats</code> in its config to hold per-actor
        snapshots).
      </p>
    );
  }
  const actors = list.value?.actors ?? [];
  return (
    <div class="card" data-testid="stats-actors">
      <h2>Actors</h2>
      <ErrorBox error={list.error} />
      {list.value ? (
        <p class="muted">
          Registry epoch {list.value.registry.epoch}
          {list.value.registry.lastError
            ? ` — last reload refused: ${list.value.registry.lastError}`
            : ""}
        </p>
      ) : null}
      <table>
        <thead>
          <tr>
            <th>Actor</th>
            <th>Version</th>
            <th>Subsystems</th>
          </tr>
        </thead>
        <tbody>
          {actors.map((actor) => (
            <tr key={actor.actorId} data-stats-actor={actor.actorId}>
              <td>
                <button type="button" class="link" onClick={() => setPicked(actor.actorId)}>
                  {actor.actorId}
                </button>
              </td>
              <td class="num">{actor.version}</td>
              <td>{actor.systems.join(", ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {picked !== undefined ? (
        <>
          <h3>
            Snapshot of <span class="mono">{picked}</span>
            {snapshot.value
              ? ` (version ${snapshot.value.version}, epoch ${snapshot.value.epoch})`
              : ""}
          </h3>
          <ErrorBox error={snapshot.error} />
          {snapshot.value ? (
            <>
              <ActorSnapshotTable snapshot={snapshot.value} />
              <details>
                <summary>JSON</summary>
                <Json value={snapshot.value} />
              </details>
            </>
          ) : null}
        </>
      ) : null}
    </div>
  );
}
