import http from 'node:http';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCleanup } from '../../src/cleanup/cleanup.ts';
import { keys } from '../../src/storage/object-store.ts';
import { expireUploads } from '../../src/uploads/expire.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { createSession, fakeMp4, headOffset, sha256, waitFor } from './helpers.ts';

/**
 * The upload store's contract: what any backing store of tus uploads (local disk, S3) must do,
 * seen through real tus requests to a real node. Run by upload-store-fs.test.ts and
 * upload-store-s3.test.ts.
 */
export const PART = 5 * 1024 * 1024;

export interface UploadBackend {
  /** Environment of the node under test (storage settings). */
  env: Record<string, string>;
  /** Checks what is stored between requests for an upload at `offset`. */
  checkBetweenRequests(server: TestServer, videoId: string, offset: number): Promise<void>;
  /** Checks nothing of an ended upload is left anywhere (after the cleanup ran). */
  checkGone(server: TestServer, videoId: string): Promise<void>;
  /**
   * Leaves the store as a crash in the middle of storing the next bytes would (S3: a part
   * uploaded whose row was never written). Returns the offset a client must then resume from.
   */
  crashMidWrite(server: TestServer, videoId: string, body: Buffer, offset: number): Promise<number>;
  close(): Promise<void>;
}

const tusHeaders = (token: string, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${token}`,
  'tus-resumable': '1.0.0',
  ...extra,
});

export function uploadStoreContract(name: string, setup: () => Promise<UploadBackend>): void {
  describe(`upload store contract: ${name}`, () => {
    let backend: UploadBackend;
    let server: TestServer;
    beforeAll(async () => {
      backend = await setup();
      // API only: a finished upload stays `uploaded`; the worker's jobs are run by the tests.
      server = await startTestServer({ CLIPDOCK_ROLE: 'api', ...backend.env });
    });
    afterAll(async () => {
      await server?.stop();
      await backend?.close();
    });

    async function begin(size: number) {
      const u = await signUp(server.url);
      const { files } = await createSession(u.api, [{ name: 'contract.mp4', size }]);
      const file = files[0]!;
      const res = await fetch(`${server.url}/api/uploads`, {
        method: 'POST',
        headers: tusHeaders(u.token, {
          'upload-length': String(size),
          'upload-metadata': `videoId ${Buffer.from(file.videoId).toString('base64')}`,
        }),
      });
      expect(res.status).toBe(201);
      const url = `${server.url}${new URL(res.headers.get('location')!).pathname}`;
      return { u, videoId: file.videoId, url };
    }

    async function patch(url: string, token: string, offset: number, data: Buffer): Promise<number> {
      const res = await fetch(url, {
        method: 'PATCH',
        headers: tusHeaders(token, {
          'upload-offset': String(offset),
          'content-type': 'application/offset+octet-stream',
        }),
        body: new Uint8Array(data),
      });
      expect(res.status, await res.clone().text()).toBe(204);
      return Number(res.headers.get('upload-offset'));
    }

    const video = (id: string) =>
      server.node.ctx.db.selectFrom('videos').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    /** Sends `body` from `from` in requests ending at each of `cuts`, checking HEAD between them. */
    async function uploadInSteps(body: Buffer, cuts: number[]) {
      const up = await begin(body.length);
      let offset = 0;
      for (const cut of [...cuts, body.length]) {
        offset = await patch(up.url, up.u.token, offset, body.subarray(offset, cut));
        expect(offset).toBe(cut);
        if (cut < body.length) {
          expect(await headOffset(up.url, up.u.token)).toBe(cut);
          await backend.checkBetweenRequests(server, up.videoId, cut);
        }
      }
      await expectOriginal(up, body);
      return up;
    }

    async function expectOriginal(
      up: { u: { api: (p: string) => Promise<Response> }; videoId: string },
      body: Buffer,
    ) {
      expect((await video(up.videoId)).status).toBe('uploaded');
      const res = await up.u.api(`/api/videos/${up.videoId}/original`);
      expect(res.status).toBe(200);
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(body));
    }

    it('resumes inside a part', async () => {
      await uploadInSteps(fakeMp4(2 * PART + 333), [PART / 2, PART + 12_345]);
    });

    it('resumes at a part edge', async () => {
      await uploadInSteps(fakeMp4(2 * PART + 4096), [PART, 2 * PART]);
    });

    it('resumes inside the tail, several times, and at the very end of a part', async () => {
      await uploadInSteps(fakeMp4(2 * PART + 50_000), [PART + 10, PART + 70_000, PART + 70_001, 2 * PART]);
    });

    it('stores an upload of exactly one part, and one shorter than a part, sent in pieces', async () => {
      await uploadInSteps(fakeMp4(PART), [1000, PART - 1]);
      await uploadInSteps(fakeMp4(300_000), [100, 200_000]);
    });

    it('keeps what arrived when the client disconnects mid-part, and resumes from there', async () => {
      const body = fakeMp4(2 * PART + 1);
      const up = await begin(body.length);
      const sent = PART + 2 * 1024 * 1024;
      const req = http.request(up.url, {
        method: 'PATCH',
        headers: tusHeaders(up.u.token, {
          'upload-offset': '0',
          'content-type': 'application/offset+octet-stream',
          'content-length': String(body.length),
        }),
      });
      req.on('error', () => {});
      req.write(body.subarray(0, sent));
      // Once the server has taken bytes past the first part, the client goes away.
      await waitFor(async () => Number((await video(up.videoId)).received_bytes) >= PART);
      req.destroy();
      const offset = await waitFor(async () => {
        const o = await headOffset(up.url, up.u.token).catch(() => -1);
        return o >= PART ? o : undefined;
      });
      expect(offset).toBeLessThanOrEqual(sent);
      await backend.checkBetweenRequests(server, up.videoId, offset);
      expect(await patch(up.url, up.u.token, offset, body.subarray(offset))).toBe(body.length);
      await expectOriginal(up, body);
    });

    it('resumes correctly after a crash between storing bytes and recording them', async () => {
      const body = fakeMp4(3 * PART + 99);
      const up = await begin(body.length);
      let offset = await patch(up.url, up.u.token, 0, body.subarray(0, PART + 5000));
      offset = await backend.crashMidWrite(server, up.videoId, body, offset);
      expect(await headOffset(up.url, up.u.token)).toBe(offset);
      expect(await patch(up.url, up.u.token, offset, body.subarray(offset))).toBe(body.length);
      await expectOriginal(up, body);
    });

    it('termination removes every stored byte of the upload', async () => {
      const body = fakeMp4(2 * PART + 10);
      const up = await begin(body.length);
      await patch(up.url, up.u.token, 0, body.subarray(0, PART + 777));
      const res = await fetch(up.url, { method: 'DELETE', headers: tusHeaders(up.u.token) });
      expect(res.status).toBe(204);
      expect((await video(up.videoId)).status).toBe('canceled');
      await runCleanup(server.node.ctx);
      await backend.checkGone(server, up.videoId);
      expect(await server.node.ctx.store.list(keys.videoPrefix(up.videoId))).toEqual([]);
    });

    it('expiry removes every stored byte of the upload', async () => {
      const body = fakeMp4(2 * PART + 10);
      const up = await begin(body.length);
      await patch(up.url, up.u.token, 0, body.subarray(0, PART + 1234));
      await server.node.ctx.db
        .updateTable('videos')
        .set({ upload_started_at: sql`now() - interval '48 hours'` })
        .where('id', '=', up.videoId)
        .execute();
      expect(await expireUploads(server.node.ctx)).toBeGreaterThanOrEqual(1);
      expect((await video(up.videoId)).status).toBe('upload_expired');
      await runCleanup(server.node.ctx);
      await backend.checkGone(server, up.videoId);
      expect(await server.node.ctx.store.list(keys.videoPrefix(up.videoId))).toEqual([]);
    });
  });
}
