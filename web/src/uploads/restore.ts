import { Api, type Video } from '../api.ts';
import { type ResumeRecord, resumeRecords } from './resume-records.ts';
import { uploadUrlOf } from './tus-calls.ts';

/** The tus endpoint, when no upload session of this page named it (they all name the same one). */
export const TUS_ENDPOINT = '/api/uploads';

const UNFINISHED = ['pending_upload', 'uploading'];

/**
 * The uploads a previous page (or another tab) left unfinished: those this browser kept a record
 * of and the server still expects, and those the server knows but this browser has no record of
 * (another browser, cleared storage). tus names each upload after its video, so the latter
 * resume at `<endpoint>/<videoId>`. Records of uploads that ended are dropped here.
 */
export async function unfinishedUploads(): Promise<ResumeRecord[]> {
  let saved = resumeRecords.all();
  let statuses: Array<{ id: string; status: string }> = [];
  let serverOpen: Video[] = [];
  try {
    [statuses, serverOpen] = await Promise.all([
      saved.length ? Api.videoStatus(saved.map((r) => r.videoId)).then((r) => r.videos) : [],
      Api.videos({ status: 'pending_upload,uploading', limit: 50 }).then((r) => r.videos),
    ]);
  } catch {
    return [];
  }
  const open = new Map(statuses.map((v) => [v.id, v.status]));
  for (const rec of saved)
    if (!UNFINISHED.includes(open.get(rec.videoId) ?? '')) resumeRecords.remove(rec.videoId);
  saved = saved.filter((r) => UNFINISHED.includes(open.get(r.videoId) ?? ''));
  const endpoint = saved[0]?.endpoint ?? TUS_ENDPOINT;
  for (const v of serverOpen) {
    if (saved.some((r) => r.videoId === v.id)) continue;
    const rec = recordFromServer(v, endpoint);
    saved.push(rec);
    resumeRecords.put(rec);
  }
  return saved;
}

/** A record for an upload this browser has no record of: only what the server knows. */
export function recordFromServer(
  v: Pick<Video, 'id' | 'name' | 'projectId' | 'size' | 'mimeType' | 'status' | 'progress'>,
  endpoint = TUS_ENDPOINT,
): ResumeRecord {
  return {
    videoId: v.id,
    projectId: v.projectId ?? '',
    name: v.name,
    size: v.size ?? 0,
    lastModified: 0,
    type: v.mimeType ?? '',
    fingerprint: null,
    endpoint,
    metadata: { videoId: v.id, filename: v.name, filetype: v.mimeType ?? '' },
    uploadUrl: v.status === 'uploading' ? uploadUrlOf(endpoint, v.id) : null,
    bytesSent: Math.round(((v.progress ?? 0) / 100) * (v.size ?? 0)),
    savedAt: Date.now(),
  };
}
