/**
 * A speech-to-text service. The pipeline hands it an audio file on local disk; it returns the
 * text. Errors a retry may cure (network, 5xx) throw TranscriptionUnavailableError; answers
 * that will not change (bad key, unsupported audio) throw TranscriptionRejectedError.
 */
export interface Transcript {
  providerId: string;
  text: string;
  language: string | null;
  words: Array<{ text: string; start: number; end: number }>;
}

export interface TranscriptionProvider {
  readonly name: string;
  transcribe(
    audioFile: string,
    opts: { signal: AbortSignal; onProgress?: (f: number) => void },
  ): Promise<Transcript>;
}

export class TranscriptionUnavailableError extends Error {
  override name = 'TranscriptionUnavailableError';
}
export class TranscriptionRejectedError extends Error {
  override name = 'TranscriptionRejectedError';
}
