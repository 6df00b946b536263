import { useSyncExternalStore } from 'react';
import type { Me, Project, User, Video } from './api.ts';

/** A tiny external store: one immutable state, replaced on every change, read with useSyncExternalStore. */
export interface Store<T> {
  get(): T;
  set(update: Partial<T> | ((s: T) => Partial<T>)): void;
  subscribe(fn: () => void): () => void;
}

export function createStore<T extends object>(initial: T): Store<T> {
  let state = initial;
  const listeners = new Set<() => void>();
  return {
    get: () => state,
    set(update) {
      const patch = typeof update === 'function' ? update(state) : update;
      state = { ...state, ...patch };
      for (const l of listeners) l();
    },
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}

/** Selectors must return values that are stable between changes (slices of the state, not new objects). */
export function useStore<T, S>(store: Store<T>, select: (s: T) => S): S {
  return useSyncExternalStore(store.subscribe, () => select(store.get()));
}

export type SocketState = 'idle' | 'connecting' | 'open' | 'reconnecting';

export interface AppState {
  user: User | null;
  /** False until the saved session has been checked at start-up. */
  ready: boolean;
  me: Me | null;
  projects: Project[];
  projectId: string | null;
  /** Every video the app has seen, by id: the one source of truth the views render from. */
  videos: Record<string, Video>;
  socket: SocketState;
}

export const appStore = createStore<AppState>({
  user: null,
  ready: false,
  me: null,
  projects: [],
  projectId: null,
  videos: {},
  socket: 'idle',
});

/** Merges what the server said about some videos into the store; later fields win, unknown ones stay. */
export function mergeVideos(videos: Array<Partial<Video> & { id: string }>): void {
  if (!videos.length) return;
  appStore.set((s) => {
    const next = { ...s.videos };
    for (const v of videos) {
      const prev = next[v.id];
      const clean = Object.fromEntries(
        Object.entries(v).filter(([, x]) => x !== undefined),
      ) as Partial<Video>;
      // The socket and the list send the analysis' state only: it updates, never erases, the
      // detail's findings (scenes, storyboard) that the player shows.
      if (clean.analysis && prev?.analysis) clean.analysis = { ...prev.analysis, ...clean.analysis };
      next[v.id] = { ...(prev ?? { name: '', status: 'pending_upload' }), ...clean } as Video;
    }
    return { videos: next };
  });
}

export function forgetVideo(id: string): void {
  appStore.set((s) => {
    const next = { ...s.videos };
    delete next[id];
    return { videos: next };
  });
}
