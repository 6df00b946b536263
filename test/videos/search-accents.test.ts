import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldAccents } from '../../src/videos/repository.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { createSession } from '../uploads/helpers.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ CLIPDOCK_ROLE: 'api' });
});
afterAll(async () => {
  await server?.stop();
});

describe('library search', () => {
  it('ignores accents and case on both sides, and stays literal', async () => {
    const alice = await signUp(server.url);
    // One name is stored decomposed (NFD), as some systems name files.
    const names = [
      'Été à la plage.mp4',
      'ETE 2024.mp4',
      'Łódź by night.mp4',
      'cafe\u0301 talk.mov',
      '100% real.mp4',
    ];
    await createSession(
      alice.api,
      names.map((name) => ({ name, size: 1000 })),
    );
    const search = async (q: string) => {
      const res = await alice.api(`/api/videos?q=${encodeURIComponent(q)}&limit=50`);
      expect(res.status).toBe(200);
      return ((await res.json()) as { videos: Array<{ name: string }> }).videos.map((v) => v.name).sort();
    };
    expect(await search('ete')).toEqual(['ETE 2024.mp4', 'Été à la plage.mp4']);
    expect(await search('ÉTÉ')).toEqual(['ETE 2024.mp4', 'Été à la plage.mp4']);
    expect(await search('lodz')).toEqual(['Łódź by night.mp4']);
    expect(await search('café')).toEqual(['cafe\u0301 talk.mov']);
    expect(await search('cafe')).toEqual(['cafe\u0301 talk.mov']);
    expect(await search('0%')).toEqual(['100% real.mp4']);
    expect(await search('_')).toEqual([]);
    expect(await search('plage')).toEqual(['Été à la plage.mp4']);
  });

  it('folds accented letters one to one', () => {
    expect(foldAccents('Ærø Şişli Ğüzel Ñandú Đorđe')).toBe('Ærø Sisli Guzel Nandu Dorde'.replace('ø', 'o'));
  });
});
