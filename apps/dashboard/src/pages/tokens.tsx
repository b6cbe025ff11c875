import { useState } from "preact/hooks";
import { api, type Scope, type TokenInfo } from "../api.js";
import { ErrorBox, formatTime, useLoad } from "../ui.js";

// The scopes a token may be given, in the order the runtime documents them.
const SCOPES: readonly Scope[] = [
  "events:send",
  "runs:read",
  "runs:write",
  "actors:call",
  "actors:read",
  "stats:read",
  "stats:write",
  "metrics:read",
  "admin",
];

/** Scoped tokens (`/api/tokens`, admin): list, create (the secret is shown once), revoke. */
export function TokensPage() {
  const tokens = useLoad(() => api<{ data: TokenInfo[] }>("/tokens"), []);
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<readonly Scope[]>(["runs:read"]);
  const [created, setCreated] = useState<string | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);

  const create = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      const answer = await api<{ token: string }>("/tokens", {
        method: "POST",
        body: { name, scopes },
      });
      setCreated(answer.token);
      await tokens.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  const revoke = async (id: string) => {
    setError(undefined);
    try {
      await api(`/tokens/${encodeURIComponent(id)}`, { method: "DELETE" });
      await tokens.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  const toggle = (scope: Scope) =>
    setScopes(scopes.includes(scope) ? scopes.filter((s) => s !== scope) : [...scopes, scope]);

  return (
    <section>
      <h1>Tokens</h1>
      <form class="card" onSubmit={(event) => void create(event)} data-testid="create-token">
        <h2>Create a token</h2>
        <label>
          Name
          <input
            name="token-name"
            placeholder="billing-service"
            value={name}
            onInput={(event) => setName(event.currentTarget.value)}
          />
        </label>
        <fieldset>
          <legend>Scopes</legend>
          {SCOPES.map((scope) => (
            <label key={scope} class="inline">
              <input
                type="checkbox"
                name="token-scope"
                value={scope}
                checked={scopes.includes(scope)}
                onChange={() => toggle(scope)}
              />
              {scope}
            </label>
          ))}
        </fieldset>
        <button type="submit">Create token</button>
        {created ? (
          <p class="notice">
            Copy it now, it is shown once: <code data-testid="created-token">{created}</code>
          </p>
        ) : null}
        <ErrorBox error={error} />
      </form>
      <ErrorBox error={tokens.error} />
      <table data-testid="tokens">
        <thead>
          <tr>
            <th>Name</th>
            <th>Scopes</th>
            <th>Created</th>
            <th>State</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(tokens.value?.data ?? []).map((token) => (
            <tr key={token.id}>
              <td>{token.name}</td>
              <td class="mono">{token.scopes.join(" ")}</td>
              <td>{formatTime(token.createdAt)}</td>
              <td>
                {token.revokedAt === undefined ? "live" : `revoked ${formatTime(token.revokedAt)}`}
              </td>
              <td>
                {token.revokedAt === undefined ? (
                  <button type="button" class="small danger" onClick={() => void revoke(token.id)}>
                    Revoke
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
