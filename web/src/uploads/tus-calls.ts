/**
 * The two tus calls the app makes outside tus-js-client: asking how many bytes the server holds
 * (HEAD) and terminating an unfinished upload (DELETE). Authenticated by the session cookie.
 */

/** The URL of the upload of `videoId` (tus names each upload after its video). */
export function uploadUrlOf(endpoint: string, videoId: string): string {
  return `${new URL(endpoint, location.href).href.replace(/\/+$/, '')}/${videoId}`;
}

/** The server's offset for the upload, or null when it has none (not created yet, or gone). */
export async function serverOffset(url: string): Promise<number | null> {
  try {
    const res = await fetch(url, {
      method: 'HEAD',
      headers: { 'tus-resumable': '1.0.0' },
      credentials: 'same-origin',
    });
    if (!res.ok) return null;
    const offset = Number(res.headers.get('upload-offset'));
    return Number.isFinite(offset) ? offset : null;
  } catch {
    return null;
  }
}

export type TerminationOutcome =
  | { ended: true }
  /** The upload had finished: the server keeps its video (deleting it is the library's action). */
  | { ended: false; finished: true; message: string }
  | { ended: false; finished: false; message: string };

/**
 * Ends an unfinished upload with tus termination: the server cancels its video and releases its
 * credits. It never deletes a video whose bytes all arrived; it answers 409
 * UPLOAD_ALREADY_FINISHED instead.
 */
export async function terminateUpload(url: string): Promise<TerminationOutcome> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'DELETE',
      headers: { 'tus-resumable': '1.0.0' },
      credentials: 'same-origin',
    });
  } catch {
    return { ended: false, finished: false, message: 'Cannot reach the server to cancel. Try again.' };
  }
  if (res.ok || res.status === 404 || res.status === 410) return { ended: true };
  let code = '';
  let message = `The upload could not be canceled (${res.status}).`;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? '';
    message = body.error?.message ?? message;
  } catch {
    // Not JSON: keep the generic message.
  }
  if (code === 'UPLOAD_ALREADY_FINISHED') return { ended: false, finished: true, message };
  // Canceled or expired already: nothing left to end.
  if (code === 'VIDEO_NOT_AWAITING_UPLOAD') return { ended: true };
  return { ended: false, finished: false, message };
}
