import type { Config } from '../../config.ts';
import type { ForcedInput } from '../../media/input-args.ts';
import { detectDemuxer, type MediaInput, type MediaTools } from '../../media/media-tools.ts';
import type { ObjectStore } from '../../storage/object-store.ts';
import type { TranscriptionProvider } from '../../transcription/provider.ts';
import type { StepName, StepOutputs } from '../types.ts';

/**
 * What every step gets. A step is idempotent: it reads the original and earlier steps' outputs,
 * writes its files in its own temp dir, then stores them under deterministic keys, so running it
 * again after a crash overwrites the same objects.
 */
export interface StepContext {
  videoId: string;
  store: ObjectStore;
  media: MediaTools;
  config: Config;
  transcription: TranscriptionProvider | undefined;
  /** The stored original. */
  original: MediaInput;
  /** Outputs of the steps that ran before this one. */
  done: Partial<StepOutputs>;
  signal: AbortSignal;
  /** 0..1 within this step, and the seconds it still needs when ffmpeg tells (its speed). */
  onProgress: (fraction: number, etaSeconds?: number) => void;
  /** A fresh directory, removed after the step. */
  tmpDir: string;
}

export type Step<N extends StepName> = (c: StepContext) => Promise<StepOutputs[N]>;

/** The output of an earlier step; the runner guarantees order, so absence is a bug. */
export function need<N extends StepName>(c: StepContext, name: N): StepOutputs[N] {
  const out = c.done[name];
  if (!out) throw new Error(`step "${name}" has not run before this one`);
  return out as StepOutputs[N];
}

/** The original, opened with the demuxer its probe chose (detected again for older results). */
export async function originalInput(c: StepContext): Promise<ForcedInput> {
  const demuxer = need(c, 'probe').demuxer ?? (await detectDemuxer(c.original));
  return { location: c.original.location, demuxer };
}

/** An MP4 written by an earlier step (normalize), opened as the MP4 it is. */
export async function storedMp4(store: ObjectStore, key: string): Promise<ForcedInput> {
  const info = await store.head(key);
  if (!info) throw new Error(`stored output "${key}" is missing`);
  return { location: await store.localPathOrUrl(key, 6 * 3600), demuxer: 'mov' };
}

export async function readRange(
  store: ObjectStore,
  key: string,
  start: number,
  end: number,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await store.get(key, { start, end })) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
