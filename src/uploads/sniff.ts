import { type Container, DETECT_BYTES, detectContainer } from '../media/container.ts';

/**
 * Decides from the first bytes of an upload whether it is a video container, with the same
 * detection the worker forces on ffmpeg (src/media/container.ts), so both agree. The name and
 * the declared type are only what the client says; this is what the bytes say. The verdict is
 * checked again on the stored file when the upload finishes (finish.ts).
 */

/** How many leading bytes the verdict looks at: the whole window detection needs. */
export const SNIFF_BYTES = DETECT_BYTES;

export type SniffVerdict =
  | { kind: 'video'; mime: string; ext: string; container: Container }
  | { kind: 'not_video'; looksLike: string }
  | { kind: 'ambiguous'; container: Container; also: string }
  /** Too few bytes to tell, and nothing contradicts a video. */
  | { kind: 'undetermined' };

/**
 * `head` is the start of the file (up to SNIFF_BYTES); `final` says it is all there is of the
 * file, or all the verdict will ever get, so an unknown format is refused rather than deferred.
 */
export async function sniffVideo(head: Uint8Array, final: boolean): Promise<SniffVerdict> {
  const d = await detectContainer(head, final);
  switch (d.kind) {
    case 'video':
      return { kind: 'video', mime: d.container.mime, ext: d.container.id, container: d.container };
    case 'ambiguous':
      return d;
    case 'not_video':
      return { kind: 'not_video', looksLike: d.looksLike };
    default:
      return { kind: 'undetermined' };
  }
}
