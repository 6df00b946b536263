import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presentAnalysis } from '../../src/processing/presenter.ts';
import type { Checkpoint } from '../../src/processing/types.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { makeScenes, makeSilence, SCENE_CUTS, SILENCE } from '../media/fixtures.ts';
import { analysisRow, uploadedVideo, waitForAnalysis, waitForStatus } from './helpers.ts';

let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startTestServer({ FFMPEG_THREADS: '1' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-analysis-'));
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function processed(file: string) {
  const user = await signUp(server.url);
  const videoId = await uploadedVideo(server, user.user.id, file);
  const v = await waitForStatus(server.node.ctx.db, videoId, ['ready', 'failed']);
  const first = await analysisRow(server.node.ctx.db, videoId);
  expect(v.status, `${first?.error_code}: ${first?.error_message}`).toBe('ready');
  // Ready means playable; the analysis follows as enrichment.
  const row = await waitForAnalysis(server.node.ctx.db, videoId);
  expect(row.enrichment_status, `${row.enrichment_error_code}: ${row.enrichment_error_message}`).toBe(
    'ready',
  );
  return { user, videoId, row, analysis: presentAnalysis(row, 'ready')! };
}

describe('analysis', () => {
  it('finds the scene cuts of a generated clip within ±0.2 s', { timeout: 120_000 }, async () => {
    const { analysis } = await processed(await makeScenes(dir));
    const starts = analysis.scenes.map((s) => s.start);
    expect(starts).toHaveLength(SCENE_CUTS.length);
    for (const [i, cut] of SCENE_CUTS.entries()) expect(Math.abs(starts[i]! - cut)).toBeLessThanOrEqual(0.2);
    // A steady tone: no silence, a measurable loudness.
    expect(analysis.silences).toEqual([]);
    expect(analysis.loudness?.integratedLufs).toBeLessThan(0);
    expect(analysis.loudness?.integratedLufs).toBeGreaterThan(-40);
  });

  it('finds a generated silence within ±0.2 s, and stores waveform peaks', { timeout: 120_000 }, async () => {
    const { analysis, videoId, row } = await processed(await makeSilence(dir));
    expect(analysis.silences).toHaveLength(1);
    expect(Math.abs(analysis.silences[0]!.start - SILENCE.start)).toBeLessThanOrEqual(0.2);
    expect(Math.abs(analysis.silences[0]!.end - SILENCE.end)).toBeLessThanOrEqual(0.2);
    expect(analysis.durationSeconds).toBeCloseTo(4, 0);
    expect(analysis).toMatchObject({ width: 320, height: 240, videoCodec: 'h264', audioCodec: 'aac' });

    const wf = JSON.parse(
      await readFile(path.join(server.dataDir, 'storage', 'videos', videoId, 'waveform.json'), 'utf8'),
    ) as { peaks: number[]; duration: number };
    expect(wf.peaks.length).toBeGreaterThan(500);
    // Peaks follow the sound: lavfi's sine is at 1/8 of full scale; silence in the middle.
    const at = (t: number) => wf.peaks[Math.floor((t / wf.duration) * wf.peaks.length)]!;
    expect(at(0.5)).toBeCloseTo(0.125, 2);
    expect(at(1.75)).toBeLessThan(0.01);

    // Storyboard and poster exist, with an index that describes the sprite.
    expect(analysis.storyboard).toMatchObject({ columns: 10, tileWidth: 160, tileHeight: 120 });
    expect(analysis.storyboard!.count).toBeGreaterThanOrEqual(4);
    const outputs = row.outputs as Record<string, unknown>;
    expect(outputs).toMatchObject({
      video: `videos/${videoId}/video.mp4`,
      poster: `videos/${videoId}/poster.jpg`,
      storyboard: `videos/${videoId}/storyboard.jpg`,
    });
    // Transcription is off without a key, and the analysis says so.
    expect(analysis.transcript).toMatchObject({ status: 'skipped' });
    // Every step ran exactly once.
    expect((row.checkpoint as unknown as Checkpoint).runs).toEqual({
      probe: 1,
      normalize: 1,
      poster: 1,
      analyze: 1,
      transcribe: 1,
    });
  });
});
