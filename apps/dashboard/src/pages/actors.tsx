import { ApiError, api } from "../api.js";
import { ErrorBox, Json, useLoad } from "../ui.js";

/**
 * Actors: what the runtime's actor system reports. Until `@troupe/actors` is composed into the
 * runtime, the API answers 501 and this page shows why.
 */
export function ActorsPage() {
  const actors = useLoad(() => api<unknown>("/actors"), []);
  const notConfigured = actors.error instanceof ApiError && actors.error.status === 501;
  return (
    <section>
      <h1>Actors</h1>
      {notConfigured ? (
        <div class="placeholder" data-testid="actors-unavailable">
          <p>
            <strong>Not available (501).</strong> {(actors.error as ApiError).message}
          </p>
          <p class="hint">
            Activations by type and node, their state and calling an action will appear here.
          </p>
        </div>
      ) : (
        <ErrorBox error={actors.error} />
      )}
      {actors.value !== undefined ? <Json value={actors.value} /> : null}
    </section>
  );
}
