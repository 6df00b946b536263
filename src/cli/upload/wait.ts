import { type Api, FINAL_STATUSES, type VideoStatus } from './api.ts';
import { CliError, EXIT } from './errors.ts';
import type { FileJob } from './plan.ts';
import type { Reporter } from './progress.ts';

/** Polls this often while the live socket is up (a safety net), and when it is not. */
const POLL_WITH_SOCKET_MS = 5000;
const POLL_WITHOUT_SOCKET_MS = 1500;

/**
 * Waits until every uploaded video is ready, failed, canceled or expired. The live WebSocket
 * (GET /api/ws, authenticated by the same bearer token) says when to look again; the statuses
 * themselves come from GET /api/videos/status, so a missed or reordered message costs nothing.
 * Resolves false when `timeoutSeconds` (0: none) passed first, or `signal` aborted.
 */
export async function waitForVideos(
  api: Api,
  jobs: FileJob[],
  opts: { timeoutSeconds: number; signal: AbortSignal },
  report: Reporter,
): Promise<boolean> {
  const byId = new Map(jobs.filter((j) => j.videoId).map((j) => [j.videoId!, j]));
  if (byId.size === 0) return true;
  const deadline =
    opts.timeoutSeconds > 0 ? Date.now() + opts.timeoutSeconds * 1000 : Number.POSITIVE_INFINITY;
  let wake: (() => void) | undefined;
  let failing = false;
  const socket = openSocket(api, (videoId) => {
    if (byId.has(videoId)) wake?.();
  });
  const onAbort = () => wake?.();
  opts.signal.addEventListener('abort', onAbort);
  try {
    for (;;) {
      const open = [...byId.values()].filter((j) => !FINAL_STATUSES.has(j.status?.status ?? ''));
      if (open.length === 0) return true;
      if (opts.signal.aborted || Date.now() >= deadline) return false;
      try {
        for (const s of await api.statuses(open.map((j) => j.videoId!))) {
          const job = byId.get(s.id);
          if (job) noteChange(job, s, report);
        }
        failing = false;
      } catch (err) {
        // A server restarting or a network blip does not end the wait; a refused token does.
        if (!(err instanceof CliError) || err.exitCode !== EXIT.server) throw err;
        if (!failing) report.note(`Status check failed (${err.message}); trying again.`);
        failing = true;
      }
      if (open.every((j) => FINAL_STATUSES.has(j.status?.status ?? ''))) continue;
      const pause = socket.isOpen() && !failing ? POLL_WITH_SOCKET_MS : POLL_WITHOUT_SOCKET_MS;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(pause, Math.max(0, deadline - Date.now())));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    opts.signal.removeEventListener('abort', onAbort);
    socket.close();
  }
}

function noteChange(job: FileJob, next: VideoStatus, report: Reporter): void {
  const prev = job.status;
  job.status = next;
  if (prev && prev.status === next.status && prev.step === next.step) return;
  // The upload's own line said so already.
  if (next.status === 'uploaded') return;
  const name = job.file.name;
  if (next.status === 'ready') report.note(`★ ${name}: ready`);
  else if (next.status === 'failed') {
    job.error = next.error ?? { code: 'FAILED', message: 'The video failed.' };
    report.note(`✗ ${name}: failed: ${job.error.message}`);
  } else report.note(`… ${name}: ${next.status}${next.step ? ` (${next.step})` : ''}`);
}

/** Node's WebSocket (undici) sends headers, so the bearer token authenticates the upgrade. */
function openSocket(api: Api, onVideo: (videoId: string) => void) {
  let ws: WebSocket | undefined;
  let open = false;
  try {
    const url = `${api.baseUrl.replace(/^http/i, 'ws')}/api/ws`;
    ws = new WebSocket(url, { headers: api.authHeaders } as unknown as string[]);
    ws.onopen = () => {
      open = true;
    };
    ws.onclose = () => {
      open = false;
    };
    ws.onerror = () => {
      open = false;
    };
    ws.onmessage = (event) => {
      try {
        const msg = JSON.parse(String(event.data)) as { type?: string; videoId?: string };
        if (msg.type === 'video.status' && msg.videoId) onVideo(msg.videoId);
      } catch {
        // Not a message for us.
      }
    };
  } catch {
    ws = undefined;
  }
  return {
    isOpen: () => open,
    close: () => ws?.close(),
  };
}
