import type { Config } from '../config.ts';
import { AssemblyAiProvider } from './assemblyai.ts';
import type { TranscriptionProvider } from './provider.ts';

/** The configured provider, or undefined when transcription is off (no API key). */
export function createTranscriptionProvider(
  t: Config['transcription'],
  opts: { pollIntervalMs?: number } = {},
): TranscriptionProvider | undefined {
  if (!t.assemblyAiApiKey) return undefined;
  return new AssemblyAiProvider({ apiKey: t.assemblyAiApiKey, baseUrl: t.assemblyAiBaseUrl, ...opts });
}
