import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { capFor } from '../../media/input-args.ts';
import { keys } from '../../storage/object-store.ts';
import { TranscriptionRejectedError } from '../../transcription/provider.ts';
import { need, type Step, storedMp4 } from './step.ts';

/**
 * Optional speech-to-text. Off without a provider (no ASSEMBLYAI_API_KEY): the analysis then says
 * "skipped". A provider that refuses the audio is recorded as failed without failing the video;
 * an unreachable provider throws, so the job is retried like any transient error.
 */
export const transcribeStep: Step<'transcribe'> = async (c) => {
  const video = need(c, 'normalize');
  if (!c.transcription) {
    return {
      status: 'skipped',
      reason: 'Transcription is off on this server (set ASSEMBLYAI_API_KEY to turn it on).',
    };
  }
  if (!video.hasAudio) return { status: 'no_audio', reason: 'This video has no sound to transcribe.' };
  const input = await storedMp4(c.store, video.key);
  // Only the audio travels to the provider, copied out of the MP4 without re-encoding.
  const audio = path.join(c.tmpDir, 'audio.m4a');
  await c.media.ffmpeg(
    {
      input,
      cap: capFor(need(c, 'probe')),
      args: ['-map', '0:a:0', '-c', 'copy', '-vn', '-f', 'mp4', audio],
    },
    { signal: c.signal },
  );
  c.onProgress(0.1);
  try {
    const t = await c.transcription.transcribe(audio, {
      signal: c.signal,
      onProgress: (f) => c.onProgress(0.1 + 0.9 * f),
    });
    const file = path.join(c.tmpDir, 'transcript.json');
    await writeFile(file, JSON.stringify(t));
    const key = keys.output(c.videoId, 'transcript.json');
    await c.store.putFile(key, file, { contentType: 'application/json' });
    return {
      status: 'completed',
      provider: c.transcription.name,
      providerId: t.providerId,
      language: t.language,
      words: t.words.length || (t.text ? t.text.split(/\s+/).filter(Boolean).length : 0),
      textPreview: t.text.slice(0, 280),
      key,
    };
  } catch (err) {
    if (err instanceof TranscriptionRejectedError) {
      return { status: 'failed', provider: c.transcription.name, reason: err.message };
    }
    throw err;
  }
};
