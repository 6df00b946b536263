import { type AnalysisState, Api, type Video, type VideoStatus } from './api.ts';
import { checkStillSignedIn, refreshMe } from './session.ts';
import { appStore, forgetVideo, mergeVideos } from './store.ts';

interface StatusMessage {
  type: 'video.status';
  videoId: string;
  projectId?: string;
  sessionId?: string | null;
  status: VideoStatus | 'deleted';
  step: string | null;
  progress: number;
  error: { code: string; message: string } | null;
  updatedAt?: string;
  name?: string;
  /** Enrichment after `ready` (absent from older servers). */
  analysis?: AnalysisState | null;
  etaSeconds?: number | null;
  seq?: number;
}

/**
 * The app's one WebSocket. Every status change of the user's videos arrives here and is merged
 * into the store; nothing polls while it is open. When it drops, the state says "reconnecting"
 * and it reconnects with exponential backoff and jitter; the server resends current state on
 * every (re)connect, and the first page of the library is re-read once to catch anything else.
 */
export function startLiveStatus(): () => void {
  let ws: WebSocket | null = null;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  /** Videos whose detail (analysis, outputs) was fetched after they became ready. */
  const detailed = new Set<string>();

  const fetchDetail = (id: string) => {
    if (detailed.has(id)) return;
    detailed.add(id);
    Api.video(id)
      .then((v) => mergeVideos([v]))
      .catch(() => detailed.delete(id));
  };

  // Credits are captured or released, and storage changes, when a video settles: re-read the
  // account once per burst of such changes.
  let meTimer: ReturnType<typeof setTimeout> | undefined;
  const accountChanged = () => {
    clearTimeout(meTimer);
    meTimer = setTimeout(() => void refreshMe(), 400);
  };

  // The ids in the state the server sends on connect, until its `synced`. Every unfinished video
  // of the user is in that state, so an unfinished one the app holds but the state lacks was
  // deleted while the socket was down (nobody told this tab): drop it rather than show it
  // "processing" forever.
  let snapshotIds: Set<string> | null = null;
  const forgetUnfinishedExcept = (ids: Set<string>) => {
    const unfinished = ['pending_upload', 'uploading', 'uploaded', 'processing'];
    for (const v of Object.values(appStore.get().videos)) {
      if (unfinished.includes(v.status) && !ids.has(v.id)) forgetVideo(v.id);
    }
  };

  const onMessage = (ev: MessageEvent) => {
    let msg: unknown;
    try {
      msg = JSON.parse(String(ev.data));
    } catch {
      return;
    }
    const list: StatusMessage[] = [];
    const m = msg as { type?: string; videos?: StatusMessage[]; watch?: { all?: boolean } };
    if (m.type === 'synced') {
      if (snapshotIds && m.watch?.all) forgetUnfinishedExcept(snapshotIds);
      snapshotIds = null;
      return;
    }
    if (m.type === 'video.status') list.push(msg as StatusMessage);
    else if (Array.isArray(m.videos))
      list.push(...m.videos.map((v) => ({ ...v, type: 'video.status' as const })));
    for (const e of list) {
      const id = e.videoId ?? (e as unknown as { id: string }).id;
      if (!id) continue;
      snapshotIds?.add(id);
      if (e.status === 'deleted') {
        forgetVideo(id);
        accountChanged();
        continue;
      }
      const known = appStore.get().videos[id];
      if (
        known &&
        known.status !== e.status &&
        ['ready', 'failed', 'canceled', 'upload_expired'].includes(e.status)
      ) {
        accountChanged();
      }
      const patch: Partial<Video> & { id: string } = {
        id,
        status: e.status,
        step: e.step,
        progress: e.progress,
        error: e.error,
        updatedAt: e.updatedAt,
        projectId: e.projectId,
        name: e.name,
        analysis: e.analysis ?? undefined,
        etaSeconds: e.etaSeconds,
      };
      mergeVideos([patch]);
      if (!known) fetchDetail(id);
      else if (
        (e.status === 'ready' && !known.outputs?.video) ||
        // An enrichment step finished (analysis moved on, or is done): its scene marks and
        // storyboard go into the player, without a reload.
        (e.analysis?.status === 'ready' && known.analysis?.status !== 'ready') ||
        (!!known.analysis?.step && e.analysis?.step !== known.analysis.step)
      ) {
        detailed.delete(id);
        fetchDetail(id);
      }
    }
  };

  const resync = () => {
    const projectId = appStore.get().projectId;
    if (!projectId) return;
    Api.videos({ projectId, limit: 50 })
      .then((r) => mergeVideos(r.videos))
      .catch(() => {});
  };

  const connect = () => {
    if (stopped) return;
    appStore.set({ socket: attempt === 0 ? 'connecting' : 'reconnecting' });
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    // The session cookie goes with the upgrade; the server checks that it comes from this origin.
    const socket = new WebSocket(`${proto}://${location.host}/api/ws`);
    ws = socket;
    socket.onopen = () => {
      snapshotIds = new Set();
      if (attempt > 0) resync();
      attempt = 0;
      appStore.set({ socket: 'open' });
    };
    socket.onmessage = onMessage;
    socket.onclose = (ev) => {
      if (ws !== socket || stopped) return;
      ws = null;
      attempt += 1;
      // 4401: the server ended this session. A refused reconnect looks like any drop, so after
      // two of those ask too: a session that is over shows the sign-in screen, not "Reconnecting…".
      if (ev.code === 4401 || attempt >= 2) void checkStillSignedIn();
      appStore.set({ socket: 'reconnecting' });
      const base = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
      timer = setTimeout(connect, base / 2 + Math.random() * base);
    };
  };

  const onOnline = () => {
    // The network is back: don't wait out the backoff.
    if (!ws && !stopped) {
      clearTimeout(timer);
      connect();
    }
  };
  window.addEventListener('online', onOnline);
  connect();

  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(meTimer);
    window.removeEventListener('online', onOnline);
    ws?.close();
    ws = null;
    appStore.set({ socket: 'idle' });
  };
}
