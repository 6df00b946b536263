import { type FormEvent, useEffect, useRef, useState } from 'react';
import { Api, ApiError } from '../api.ts';
import { formatBytes } from '../format.ts';
import { selectProject, signOut } from '../session.ts';
import { appStore, useStore } from '../store.ts';
import { Icon } from './icons.tsx';

export function TopBar() {
  const me = useStore(appStore, (s) => s.me);
  const socket = useStore(appStore, (s) => s.socket);
  return (
    <header className="topbar">
      <div className="brand">
        <span className="logo" aria-hidden="true">
          ▶
        </span>
        Clipdock
      </div>
      <ProjectSwitcher />
      <div className="spacer" />
      <ConnectionBadge state={socket} />
      {me && (
        <section className="account" aria-label="Account">
          <div className="meter" title="Credits: each video reserves credits while it uploads and processes">
            <span className="meter-label">Credits</span>
            <strong data-testid="credits-balance">{me.credits.balance}</strong>
            {me.credits.reserved > 0 && (
              <span className="muted small"> ({me.credits.reserved} reserved)</span>
            )}
          </div>
          <div className="meter" title="Storage: every stored byte, originals and their converted outputs">
            <span className="meter-label">Storage</span>
            <span className="small" data-testid="storage-used">
              {formatBytes(me.storage.usedBytes)} of {formatBytes(me.storage.quotaBytes)}
            </span>
            <progress
              className="storage-bar"
              max={me.storage.quotaBytes}
              value={me.storage.usedBytes}
              aria-label="Storage used"
            />
          </div>
          <span className="user small muted" title={me.user.email}>
            {me.user.email}
          </span>
          <button
            type="button"
            className="btn ghost icon-only"
            onClick={() => void signOut()}
            aria-label="Sign out"
            title="Sign out"
          >
            <Icon name="logout" />
          </button>
        </section>
      )}
    </header>
  );
}

function ConnectionBadge({ state }: { state: string }) {
  if (state === 'open') {
    return (
      <span className="conn ok" title="Live: status changes arrive as they happen">
        <span className="dot" /> Live
      </span>
    );
  }
  return (
    <span className="conn warn" role="status">
      <Icon name="spinner" spin size={14} /> {state === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
    </span>
  );
}

function ProjectSwitcher() {
  const projects = useStore(appStore, (s) => s.projects);
  const projectId = useStore(appStore, (s) => s.projectId);
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const nameRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (creating) nameRef.current?.focus();
  }, [creating]);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const { project } = await Api.createProject(name);
      appStore.set((s) => ({ projects: [...s.projects, project] }));
      selectProject(project.id);
      setCreating(false);
      setName('');
      setError(null);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'Could not create the project.');
    }
  };

  if (creating) {
    return (
      <form className="project-new" onSubmit={create}>
        <input
          aria-label="New project name"
          placeholder="Project name"
          value={name}
          maxLength={200}
          required
          ref={nameRef}
          onChange={(e) => setName(e.target.value)}
          onKeyDown={(e) => e.key === 'Escape' && setCreating(false)}
        />
        <button type="submit" className="btn primary small">
          Create
        </button>
        <button type="button" className="btn ghost small" onClick={() => setCreating(false)}>
          Cancel
        </button>
        {error && <span className="form-error small">{error}</span>}
      </form>
    );
  }
  return (
    <div className="project-switcher">
      <label className="sr-only" htmlFor="project-select">
        Project
      </label>
      <select id="project-select" value={projectId ?? ''} onChange={(e) => selectProject(e.target.value)}>
        {projects.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
      </select>
      <button type="button" className="btn ghost small" onClick={() => setCreating(true)}>
        <Icon name="plus" size={14} /> New project
      </button>
    </div>
  );
}
