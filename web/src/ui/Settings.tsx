import { useEffect, useRef, useState } from 'react';
import { ApiError } from '../api.ts';
import { signOutEverywhere } from '../session.ts';
import { ApiTokens } from './ApiTokens.tsx';
import { Icon } from './icons.tsx';

/** The account's security settings: API tokens for scripts, and signing out everywhere. */
export function Settings() {
  return (
    <div className="settings">
      <ApiTokens />
      <SignOutEverywhere />
    </div>
  );
}

function SignOutEverywhere() {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  // The safe choice takes focus when the confirmation opens.
  useEffect(() => {
    if (confirming) cancelRef.current?.focus();
  }, [confirming]);
  const run = async () => {
    try {
      await signOutEverywhere();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Could not sign out everywhere. Try again.');
    }
  };
  return (
    <section className="card" aria-labelledby="sessions-title">
      <h2 id="sessions-title">Sessions</h2>
      <p className="muted small">
        Signs this account out in every browser and revokes every login token. API tokens keep working: revoke
        them above.
      </p>
      {confirming ? (
        <fieldset className="confirm" aria-label="Confirm sign out everywhere">
          <span>Sign out everywhere, this browser included?</span>
          <button type="button" className="btn danger small" onClick={() => void run()}>
            Sign out everywhere
          </button>
          <button
            type="button"
            className="btn ghost small"
            onClick={() => setConfirming(false)}
            ref={cancelRef}
          >
            Cancel
          </button>
        </fieldset>
      ) : (
        <button type="button" className="btn" onClick={() => setConfirming(true)}>
          <Icon name="logout" size={16} /> Sign out everywhere
        </button>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
