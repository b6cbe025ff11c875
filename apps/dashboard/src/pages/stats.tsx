import { useState } from "preact/hooks";
import { api, type StatsExplainResult } from "../api.js";
import { ErrorBox, Json } from "../ui.js";
import { StatsActors } from "./stats-actors.js";

type Snapshot = StatsExplainResult["snapshot"];
type Explanation = StatsExplainResult["explanation"];
type Section = NonNullable<Explanation["primary"]>;

function SnapshotTable(props: { snapshot: Snapshot }) {
  const { snapshot } = props;
  const dimensions = [
    ...new Set([
      ...Object.keys(snapshot.Primary),
      ...Object.keys(snapshot.Derived),
      ...Object.keys(snapshot.CapsUsed),
    ]),
  ].sort();
  return (
    <table data-testid="snapshot-table">
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
            <td class="num">{snapshot.Primary[dimension] ?? "—"}</td>
            <td class="num">{snapshot.Derived[dimension] ?? "—"}</td>
            <td class="num">{snapshot.CapsUsed[dimension]?.Min ?? "—"}</td>
            <td class="num">{snapshot.CapsUsed[dimension]?.Max ?? "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SectionTable(props: { title: string; section: Section }) {
  const { section } = props;
  return (
    <>
      <h3>{props.title}</h3>
      <table class="explain">
        <thead>
          <tr>
            <th>System</th>
            <th>Bucket</th>
            <th>Value</th>
            <th>Priority</th>
          </tr>
        </thead>
        <tbody>
          {section.contributions.map((contribution, index) => (
            <tr key={`${contribution.system}-${index}`}>
              <td>{contribution.system}</td>
              <td>{contribution.bucket}</td>
              <td class="num">{contribution.value}</td>
              <td class="num">{contribution.priority ?? 0}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="formula">
        {section.mode === "operator" ? `operator ${section.operator}` : "pipeline"}: F ={" "}
        {section.flat}, M = {section.mult}, P = {section.post} → candidate {section.candidate},
        softened {section.softened} → <strong>{section.value}</strong>
        {section.clampedBy === "none" ? "" : ` (clamped by ${section.clampedBy})`}
      </p>
    </>
  );
}

/** Explain tables: contributions per section, each layer's bounds, the across-layer result. */
function ExplainTables(props: { explanation: Explanation }) {
  const { explanation } = props;
  return (
    <div data-testid="explain">
      <h2>Explain: {explanation.dimension}</h2>
      {explanation.primary ? <SectionTable title="Primary" section={explanation.primary} /> : null}
      {explanation.derived ? <SectionTable title="Derived" section={explanation.derived} /> : null}
      <h3>Layers</h3>
      <table class="explain" data-testid="explain-layers">
        <thead>
          <tr>
            <th>Layer</th>
            <th>Present</th>
            <th>Caps</th>
            <th>Min</th>
            <th>from</th>
            <th>Max</th>
            <th>from</th>
          </tr>
        </thead>
        <tbody>
          {explanation.layers.map((layer) => (
            <tr key={layer.layer}>
              <td>{layer.layer}</td>
              <td>{layer.present ? "yes" : "no"}</td>
              <td>
                {layer.caps.map((cap, index) => (
                  <div key={`${cap.system}-${index}`}>
                    {cap.system} {cap.mode} {cap.kind} {cap.value}
                  </div>
                ))}
              </td>
              <td class="num">{layer.min}</td>
              <td>{layer.minFrom.kind}</td>
              <td class="num">{layer.max}</td>
              <td>{layer.maxFrom.kind}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="formula">
        Across layers ({explanation.across.policy}): Min {explanation.across.min} from{" "}
        {explanation.across.minFrom}, Max {explanation.across.max} from {explanation.across.maxFrom}
      </p>
    </div>
  );
}

/** Stats: paste a registry and subsystem outputs, see the snapshot and the explain tables. */
export function StatsPage() {
  const [registry, setRegistry] = useState("");
  const [layers, setLayers] = useState("");
  const [input, setInput] = useState("");
  const [dimension, setDimension] = useState("");
  const [snapshot, setSnapshot] = useState<Snapshot | undefined>(undefined);
  const [explanation, setExplanation] = useState<Explanation | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const body = () => ({
    ...(registry.trim() ? { registry } : {}),
    ...(layers.trim() ? { layers } : {}),
    input,
  });
  const run = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      if (dimension.trim()) {
        const result = await api<{ snapshot: Snapshot; explanation: Explanation }>(
          "/stats/explain",
          { method: "POST", body: { ...body(), dimension: dimension.trim() } },
        );
        setSnapshot(result.snapshot);
        setExplanation(result.explanation);
      } else {
        const result = await api<{ snapshot: Snapshot }>("/stats/resolve", {
          method: "POST",
          body: body(),
        });
        setSnapshot(result.snapshot);
        setExplanation(undefined);
      }
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <section>
      <h1>Stats</h1>
      <StatsActors />
      <h2>Resolve pasted outputs</h2>
      <form class="card stats-form" onSubmit={(event) => void run(event)}>
        <label>
          Combiner registry (YAML or JSON; empty = the runtime's)
          <textarea
            name="registry"
            rows={6}
            value={registry}
            onInput={(event) => setRegistry(event.currentTarget.value)}
          />
        </label>
        <label>
          Layer registry (optional)
          <textarea
            name="layers"
            rows={3}
            value={layers}
            onInput={(event) => setLayers(event.currentTarget.value)}
          />
        </label>
        <label>
          Subsystem outputs (JSON or YAML array)
          <textarea
            name="input"
            rows={8}
            value={input}
            onInput={(event) => setInput(event.currentTarget.value)}
          />
        </label>
        <label>
          Dimension to explain (optional)
          <input
            name="dimension"
            value={dimension}
            onInput={(event) => setDimension(event.currentTarget.value)}
          />
        </label>
        <button type="submit">Resolve</button>
        <ErrorBox error={error} />
      </form>
      {snapshot ? (
        <>
          <h2>Snapshot (version {snapshot.Version})</h2>
          <SnapshotTable snapshot={snapshot} />
        </>
      ) : null}
      {explanation ? <ExplainTables explanation={explanation} /> : null}
      {snapshot && !explanation ? (
        <details>
          <summary>JSON</summary>
          <Json value={snapshot} />
        </details>
      ) : null}
    </section>
  );
}
