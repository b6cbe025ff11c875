import { useState } from "preact/hooks";
import { api } from "../api.js";
import { ErrorBox, formatTime, useLoad } from "../ui.js";

interface PausedRow {
  readonly functionId: string;
  readonly pausedAt: number;
  readonly reason?: string;
}

/** A range field: empty is open-ended; otherwise an ISO date (sent as it is). */
const rangeValue = (text: string) => (text.trim() === "" ? undefined : text.trim());

/**
 * The operations on one function: pause and resume (events while paused are kept but start no
 * run, and are not run on resume), bulk cancel of its unfinished runs and bulk replay of its
 * failed or cancelled runs created in a time range.
 */
export function FunctionOperations(props: { id: string }) {
  const path = `/functions/${encodeURIComponent(props.id)}`;
  const paused = useLoad(() => api<{ data: PausedRow[] }>("/paused"), [props.id], 3000);
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [condition, setCondition] = useState("");
  const [failed, setFailed] = useState(true);
  const [cancelled, setCancelled] = useState(true);
  const [notice, setNotice] = useState<string | undefined>();
  const [error, setError] = useState<unknown>(undefined);
  const mine = paused.value?.data.find((row) => row.functionId === props.id);

  const run = async (action: () => Promise<string>) => {
    setError(undefined);
    setNotice(undefined);
    try {
      setNotice(await action());
      await paused.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  // The range ends now unless given: runs created from here on are left alone.
  const range = () => {
    const start = rangeValue(from);
    return {
      ...(start === undefined ? {} : { from: start }),
      to: rangeValue(to) ?? new Date(Date.now() + 1).toISOString(),
      ...(condition.trim() === "" ? {} : { if: condition.trim() }),
    };
  };

  return (
    <div class="card" data-testid="function-operations">
      <h2>Operations</h2>
      <p data-testid="pause-state">
        {mine
          ? `Paused since ${formatTime(mine.pausedAt)}${mine.reason ? ` (${mine.reason})` : ""}: events are kept but start no run, and are not run on resume.`
          : "Active: events start runs."}
      </p>
      {mine ? (
        <button
          type="button"
          data-testid="resume"
          onClick={() =>
            void run(async () => {
              await api(`${path}/resume`, { method: "POST", body: {} });
              return "Resumed.";
            })
          }
        >
          Resume
        </button>
      ) : (
        <button
          type="button"
          class="danger"
          data-testid="pause"
          onClick={() =>
            void run(async () => {
              await api(`${path}/pause`, {
                method: "POST",
                body: { reason: "paused from the dashboard" },
              });
              return "Paused.";
            })
          }
        >
          Pause
        </button>
      )}
      <h3>Runs created in a range</h3>
      <label>
        From (ISO date; empty: the first run)
        <input
          name="bulk-from"
          value={from}
          onInput={(event) => setFrom(event.currentTarget.value)}
        />
      </label>
      <label>
        To (ISO date; empty: now)
        <input name="bulk-to" value={to} onInput={(event) => setTo(event.currentTarget.value)} />
      </label>
      <label>
        Only if (CEL over the triggering <code>event</code>)
        <input
          name="bulk-if"
          placeholder="event.data.user == 'a'"
          value={condition}
          onInput={(event) => setCondition(event.currentTarget.value)}
        />
      </label>
      <button
        type="button"
        class="danger"
        data-testid="bulk-cancel"
        onClick={() =>
          void run(async () => {
            const result = await api<{ cancelled: number }>(`${path}/bulk-cancel`, {
              method: "POST",
              body: range(),
            });
            return `Cancelled ${result.cancelled} run${result.cancelled === 1 ? "" : "s"}.`;
          })
        }
      >
        Cancel unfinished runs
      </button>
      <label>
        <input
          type="checkbox"
          checked={failed}
          onChange={(event) => setFailed(event.currentTarget.checked)}
        />{" "}
        failed
      </label>
      <label>
        <input
          type="checkbox"
          checked={cancelled}
          onChange={(event) => setCancelled(event.currentTarget.checked)}
        />{" "}
        cancelled
      </label>
      <button
        type="button"
        data-testid="bulk-replay"
        onClick={() =>
          void run(async () => {
            const statuses = [...(failed ? ["failed"] : []), ...(cancelled ? ["cancelled"] : [])];
            const result = await api<{ replays: unknown[] }>(`${path}/bulk-replay`, {
              method: "POST",
              body: { ...range(), statuses },
            });
            const count = result.replays.length;
            return `Replayed ${count} run${count === 1 ? "" : "s"}.`;
          })
        }
      >
        Replay failed / cancelled runs
      </button>
      {notice ? (
        <p class="notice" data-testid="operations-notice">
          {notice}
        </p>
      ) : null}
      <ErrorBox error={error} />
    </div>
  );
}
