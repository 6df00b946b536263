import { Api, ApiError, type TimelineItem } from './api.ts';
import { createStore } from './store.ts';

export interface TimelineState {
  projectId: string | null;
  items: TimelineItem[];
  loading: boolean;
  saving: boolean;
  error: string | null;
}

export const timelineStore = createStore<TimelineState>({
  projectId: null,
  items: [],
  loading: false,
  saving: false,
  error: null,
});

/** Counts local edits, so a load that started before an edit does not overwrite it. */
let edits = 0;
let loading: { projectId: string; done: Promise<void> } | null = null;

/** `keepError`: a reload after a failed save keeps saying why the save failed. */
export function loadTimeline(projectId: string, keepError = false): Promise<void> {
  const startedAt = edits;
  timelineStore.set({ projectId, loading: true, ...(keepError ? {} : { error: null }) });
  const done = (async () => {
    try {
      const { items } = await Api.timeline(projectId);
      if (timelineStore.get().projectId === projectId && edits === startedAt) timelineStore.set({ items });
    } catch (err) {
      timelineStore.set({ error: err instanceof ApiError ? err.message : 'Could not load the timeline.' });
    } finally {
      timelineStore.set({ loading: false });
    }
  })();
  loading = { projectId, done };
  return done;
}

let saveChain: Promise<void> = Promise.resolve();

/**
 * Shows `items` at once, then stores them. Saves run one after another so the server ends with the
 * last order the person made; the server's answer (with ids for new items) replaces the list.
 */
export function setTimeline(items: TimelineItem[]): Promise<void> {
  const projectId = timelineStore.get().projectId;
  if (!projectId) return Promise.resolve();
  edits += 1;
  timelineStore.set({ items, saving: true, error: null });
  saveChain = saveChain.then(async () => {
    const at = edits;
    try {
      const saved = await Api.saveTimeline(projectId, timelineStore.get().items);
      // A newer edit is queued behind this save: keep it on screen; its own save answers last.
      if (timelineStore.get().projectId === projectId && edits === at) {
        timelineStore.set({ items: saved.items, saving: false });
      }
    } catch (err) {
      timelineStore.set({
        saving: false,
        error:
          err instanceof ApiError
            ? err.message
            : 'Could not save the timeline. Your last change was not stored.',
      });
      // What the server holds is what is shown, and the error stays until the next edit.
      await loadTimeline(projectId, true);
    }
  });
  return saveChain;
}

/**
 * Appends a clip. `once`: not when the clip is on the timeline already (the dashboard's button,
 * which says "On timeline" from what the server holds, so a second click adds nothing).
 */
export async function addToTimeline(projectId: string, videoId: string, once = false): Promise<void> {
  if (timelineStore.get().projectId !== projectId) await loadTimeline(projectId);
  else if (loading?.projectId === projectId) await loading.done;
  const items = timelineStore.get().items;
  if (once && items.some((i) => i.videoId === videoId)) return;
  await setTimeline([...items, { videoId, inSeconds: 0, outSeconds: null }]);
}
