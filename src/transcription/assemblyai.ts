import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Transcript,
  type TranscriptionProvider,
  TranscriptionRejectedError,
  TranscriptionUnavailableError,
} from './provider.ts';

/**
 * AssemblyAI's REST API (v2): upload the audio (`POST /v2/upload`, raw bytes, answers
 * `{upload_url}`), create a transcript (`POST /v2/transcript {audio_url}`), then poll
 * `GET /v2/transcript/:id` until `status` is `completed` or `error`. The key travels only in the
 * `authorization` header; it is never logged or put in an error message.
 */
export interface AssemblyAiOptions {
  apiKey: string;
  baseUrl: string;
  pollIntervalMs?: number;
  /** Gives up polling after this long. */
  maxWaitMs?: number;
}

interface TranscriptResponse {
  id: string;
  status: 'queued' | 'processing' | 'completed' | 'error';
  text?: string | null;
  error?: string;
  language_code?: string | null;
  words?: Array<{ text: string; start: number; end: number }> | null;
}

export class AssemblyAiProvider implements TranscriptionProvider {
  readonly name = 'assemblyai';
  private readonly apiKey: string;
  private readonly baseUrl: string;
  private readonly pollIntervalMs: number;
  private readonly maxWaitMs: number;

  constructor(opts: AssemblyAiOptions) {
    this.apiKey = opts.apiKey;
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.pollIntervalMs = opts.pollIntervalMs ?? 3000;
    this.maxWaitMs = opts.maxWaitMs ?? 2 * 3600 * 1000;
  }

  private async call<T>(
    method: string,
    path: string,
    signal: AbortSignal,
    body?: RequestInit['body'],
    type?: string,
  ): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { authorization: this.apiKey, ...(type ? { 'content-type': type } : {}) },
        body,
        signal,
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (err) {
      if (signal.aborted) throw err;
      throw new TranscriptionUnavailableError(`AssemblyAI is not reachable: ${(err as Error).message}`);
    }
    const text = await res.text();
    if (res.status >= 500 || res.status === 429) {
      throw new TranscriptionUnavailableError(`AssemblyAI answered ${res.status} to ${method} ${path}`);
    }
    if (!res.ok) {
      let detail = '';
      try {
        detail = (JSON.parse(text) as { error?: string }).error ?? '';
      } catch {
        detail = text.slice(0, 200);
      }
      throw new TranscriptionRejectedError(`AssemblyAI refused ${method} ${path} (${res.status}): ${detail}`);
    }
    return JSON.parse(text) as T;
  }

  async transcribe(
    audioFile: string,
    opts: { signal: AbortSignal; onProgress?: (f: number) => void },
  ): Promise<Transcript> {
    const { signal } = opts;
    const size = (await stat(audioFile)).size;
    // Streamed from disk: the audio never sits whole in memory.
    const body = Readable.toWeb(createReadStream(audioFile)) as ReadableStream;
    const upload = await this.call<{ upload_url: string }>(
      'POST',
      '/v2/upload',
      signal,
      body,
      'application/octet-stream',
    );
    opts.onProgress?.(0.2);
    if (!upload.upload_url)
      throw new TranscriptionUnavailableError(`AssemblyAI's upload of ${size} bytes gave no URL`);
    let t = await this.call<TranscriptResponse>(
      'POST',
      '/v2/transcript',
      signal,
      JSON.stringify({ audio_url: upload.upload_url, language_detection: true }),
      'application/json',
    );
    const deadline = Date.now() + this.maxWaitMs;
    while (t.status === 'queued' || t.status === 'processing') {
      if (Date.now() > deadline) throw new TranscriptionUnavailableError('AssemblyAI did not finish in time');
      opts.onProgress?.(t.status === 'queued' ? 0.3 : 0.6);
      await sleep(this.pollIntervalMs, undefined, { signal });
      t = await this.call<TranscriptResponse>('GET', `/v2/transcript/${encodeURIComponent(t.id)}`, signal);
    }
    if (t.status === 'error')
      throw new TranscriptionRejectedError(
        `AssemblyAI could not transcribe: ${t.error ?? 'no reason given'}`,
      );
    opts.onProgress?.(1);
    return {
      providerId: t.id,
      text: t.text ?? '',
      language: t.language_code ?? null,
      words: (t.words ?? []).map((w) => ({ text: w.text, start: w.start / 1000, end: w.end / 1000 })),
    };
  }
}
