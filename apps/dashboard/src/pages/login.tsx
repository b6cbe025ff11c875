import { useState } from "preact/hooks";
import { ApiError, api, setToken } from "../api.js";
import { ErrorBox } from "../ui.js";

/** Token login: the token is checked against the runtime, then kept in sessionStorage. */
export function LoginPage(props: { onLogin: () => void }) {
  const [token, setTokenText] = useState("");
  const [error, setError] = useState<unknown>(undefined);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setToken(token.trim());
    try {
      await api("/info");
      props.onLogin();
    } catch (caught) {
      setToken(null);
      setError(
        caught instanceof ApiError && caught.status === 401
          ? new Error("That token is not accepted by this runtime.")
          : caught,
      );
    }
  };
  return (
    <section class="login">
      <form class="card" onSubmit={(event) => void submit(event)} data-testid="login">
        <h1>Troupe</h1>
        <p>This runtime requires its auth token (TROUPE_AUTH_TOKEN).</p>
        <label>
          Token
          <input
            type="password"
            name="token"
            autoComplete="current-password"
            value={token}
            onInput={(event) => setTokenText(event.currentTarget.value)}
          />
        </label>
        <button type="submit">Log in</button>
        <ErrorBox error={error} />
      </form>
    </section>
  );
}
