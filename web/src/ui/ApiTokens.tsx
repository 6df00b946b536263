import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { Api, ApiError, type ApiToken } from '../api.ts';
import { Icon } from './icons.tsx';

const EXPIRY_CHOICES = [
  { label: '30 days', days: 30 },
  { label: '90 days', days: 90 },
  { label: '1 year', days: 365 },
  { label: 'Never', days: 0 },
] as const;

const when = (iso: string | null, none: string) => (iso ? new Date(iso).toLocaleString() : none);
const messageOf = (err: unknown, fallback: string) => (err instanceof ApiError ? err.message : fallback);

/** Personal API tokens for scripts: create (shown once), list with last use, revoke. */
export function ApiTokens() {
  const [tokens, setTokens] = useState<ApiToken[] | null>(null);
  const [created, setCreated] = useState<(ApiToken & { token: string }) | null>(null);
  const [error, setError] = useState<string | null>(null);

  const reload = useCallback(
    () =>
      Api.apiTokens()
        .then((r) => setTokens(r.tokens))
        .catch((err: unknown) => setError(messageOf(err, 'Could not load your API tokens.'))),
    [],
  );
  useEffect(() => {
    void reload();
  }, [reload]);

  const revoke = async (t: ApiToken) => {
    try {
      await Api.revokeApiToken(t.id);
      if (created?.id === t.id) setCreated(null);
      await reload();
    } catch (err) {
      setError(messageOf(err, 'Could not revoke the token.'));
    }
  };

  return (
    <section className="card" aria-labelledby="tokens-title" data-testid="api-tokens">
      <h2 id="tokens-title">API tokens {tokens && <span className="count">{tokens.length}</span>}</h2>
      <p className="muted small">
        For scripts and the command line: send <code>Authorization: Bearer &lt;token&gt;</code>. A token works
        until it expires or you revoke it; signing out does not revoke it.
      </p>
      <CreateTokenForm
        onCreated={(t) => {
          setCreated(t);
          setError(null);
          void reload();
        }}
        onError={setError}
      />
      {created && <NewToken token={created} onDone={() => setCreated(null)} />}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {tokens?.length === 0 && <p className="empty muted">No API tokens yet.</p>}
      {tokens && tokens.length > 0 && (
        <ul className="token-list">
          {tokens.map((t) => (
            <TokenRow key={t.id} token={t} onRevoke={() => void revoke(t)} />
          ))}
        </ul>
      )}
    </section>
  );
}

function CreateTokenForm({
  onCreated,
  onError,
}: {
  onCreated: (t: ApiToken & { token: string }) => void;
  onError: (message: string) => void;
}) {
  const [name, setName] = useState('');
  const [days, setDays] = useState<number>(90);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      const expiresAt = days ? new Date(Date.now() + days * 86_400_000).toISOString() : null;
      onCreated(await Api.createApiToken(name.trim(), expiresAt));
      setName('');
    } catch (err) {
      onError(messageOf(err, 'Could not create the token.'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="token-new" onSubmit={submit}>
      <label className="field">
        <span>Token name</span>
        <input
          value={name}
          maxLength={100}
          required
          placeholder="e.g. backup script"
          onChange={(e) => setName(e.target.value)}
        />
      </label>
      <label className="field">
        <span>Expires after</span>
        <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
          {EXPIRY_CHOICES.map((c) => (
            <option key={c.days} value={c.days}>
              {c.label}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" className="btn primary" disabled={busy || !name.trim()}>
        <Icon name="plus" size={14} /> Create token
      </button>
    </form>
  );
}

function NewToken({ token, onDone }: { token: ApiToken & { token: string }; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = () =>
    navigator.clipboard?.writeText(token.token).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  return (
    <div className="banner info new-token" role="status">
      <p>
        <strong>{token.name}</strong>: copy this token now. It is shown only once.
      </p>
      <div className="token-value">
        <input readOnly aria-label="New API token" value={token.token} onFocus={(e) => e.target.select()} />
        <button type="button" className="btn small" onClick={() => void copy()}>
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" className="btn ghost small" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}

function TokenRow({ token, onRevoke }: { token: ApiToken; onRevoke: () => void }) {
  return (
    <li className="token-row" data-testid="api-token" data-name={token.name}>
      <div className="video-text">
        <strong>{token.name}</strong>
        <span className="muted small">
          Created {when(token.createdAt, '')} · Last used{' '}
          <span data-testid="token-last-used">{when(token.lastUsedAt, 'never')}</span> · Expires{' '}
          {when(token.expiresAt, 'never')}
        </span>
      </div>
      <button
        type="button"
        className="btn small danger-ghost"
        onClick={onRevoke}
        aria-label={`Revoke ${token.name}`}
      >
        <Icon name="trash" size={14} /> Revoke
      </button>
    </li>
  );
}
