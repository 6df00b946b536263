import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { createSession, fakeMp4, type SessionFile, tusCreate } from '../uploads/helpers.ts';

/**
 * Bad input is always a 4xx. Every route the OpenAPI description lists (plus the hidden tus
 * endpoint) gets malformed path parameters, query parameters, headers and bodies, as a signed-in
 * user; no answer may be a 5xx. Offenders are collected and reported together.
 */
let server: TestServer;
let user: Awaited<ReturnType<typeof signUp>>;
let videoId: string;
/** A second video, which DELETE probes may remove without taking the first from the others. */
let sacrificialId: string;
beforeAll(async () => {
  server = await startTestServer();
  user = await signUp(server.url);
  const session = await createSession(user.api, [
    { name: 'a.mp4', size: 4000, type: 'video/mp4' },
    { name: 'b.mp4', size: 4000, type: 'video/mp4' },
  ]);
  const [kept, spare] = session.files as [SessionFile, SessionFile];
  videoId = kept.videoId;
  sacrificialId = spare.videoId;
  // Stored bytes behind the first video, so Range probes reach the byte-serving code.
  const created = await tusCreate(kept, user.token, { length: 4000, body: fakeMp4(4000) });
  expect(created.status).toBe(201);
});
afterAll(async () => {
  await server?.stop();
});

/** Values no route expects, already percent-encoded where they go into a URL. */
const MALFORMED_URL_VALUES = [
  '',
  '%20',
  'null',
  '-1',
  '0',
  '1e309',
  'NaN',
  '%E0%A4%A', // a broken percent-escape, left as the client sent it
  '%00',
  '..%2F..%2Fetc%2Fpasswd',
  'x'.repeat(5000),
  '%F0%9F%98%80',
  "'%20OR%201%3D1--",
  '%7B%7D',
  'ffffffff-ffff-ffff-ffff-fffffffffffff',
  '00000000-0000-0000-0000-000000000000',
  encodeURIComponent('2026-13-45 25:61:61'),
  Buffer.from(JSON.stringify(['2026-13-45 25:61:61', '00000000-0000-0000-0000-000000000000'])).toString(
    'base64url',
  ),
  Buffer.from(JSON.stringify(['99999-01-01 00:00:00', '00000000-0000-0000-0000-000000000000'])).toString(
    'base64url',
  ),
  Buffer.from(JSON.stringify(['2026-01-01 00:00:00+99:99', '00000000-0000-0000-0000-000000000000'])).toString(
    'base64url',
  ),
];

const MALFORMED_HEADERS: Array<Record<string, string>> = [
  { cookie: 'clipdock_token=%E0%A4%A' },
  { cookie: 'clipdock_token=' },
  { cookie: '=;;;=;clipdock_token' },
  { cookie: `clipdock_token=${'%41'.repeat(3000)}` },
  { authorization: 'Bearer' },
  { authorization: 'Bearer ' },
  { authorization: `Bearer ${'x'.repeat(6000)}` },
  { authorization: 'Basic Zm9vOmJhcg==' },
  { authorization: 'Bearer %E0%A4%A' },
  { 'content-type': 'application/json; charset=utf-99' },
  { 'content-type': 'multipart/form-data; boundary=' },
  { 'content-type': '*/*' },
  { range: 'bytes=abc' },
  { range: 'bytes=99999999999999999999999-' },
  { range: 'bytes=-0' },
  { range: 'bytes=5-1' },
  { range: 'bytes=0-1,2-3' },
  { range: 'bytes=-99999999999999999999999' },
  { 'if-modified-since': 'yesterday' },
  { 'accept-encoding': 'x'.repeat(2000) },
  { 'x-forwarded-for': 'not-an-ip' },
  { 'x-forwarded-host': '%E0%A4%A' },
  { origin: 'null' },
];

const TUS_HEADERS: Array<Record<string, string>> = [
  { 'tus-resumable': '0.0.1' },
  { 'tus-resumable': '' },
  { 'upload-offset': '-1' },
  { 'upload-offset': 'abc' },
  { 'upload-offset': '99999999999999999999999' },
  { 'upload-offset': '1e3' },
  { 'upload-length': '-5' },
  { 'upload-length': 'abc' },
  { 'upload-length': '99999999999999999999999' },
  { 'upload-defer-length': '2' },
  { 'upload-metadata': 'videoId' },
  { 'upload-metadata': 'videoId !!!notbase64' },
  { 'upload-metadata': `videoId ${Buffer.from('not-a-uuid').toString('base64')}` },
  { 'upload-metadata': 'a b c d,,,' },
  { 'upload-metadata': `videoId ${Buffer.from('x'.repeat(3000)).toString('base64')}` },
  { 'upload-concat': 'final;/api/uploads/a /api/uploads/b' },
  { 'content-type': 'text/plain' },
  { 'x-http-method-override': 'DELETE' },
];

const DEEP = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;

/** Bodies: [content-type or undefined, raw body]. */
const MALFORMED_BODIES: Array<[string | undefined, string]> = [
  ['application/json', ''],
  ['application/json', '{'],
  ['application/json', 'null'],
  ['application/json', '42'],
  ['application/json', '"text"'],
  ['application/json', '[]'],
  ['application/json', '{"__proto__":{"admin":true}}'],
  ['application/json', '{"constructor":{"prototype":{"x":1}}}'],
  ['application/json', DEEP],
  ['application/json', JSON.stringify({ name: 'x'.repeat(200_000), email: 'x'.repeat(200_000) })],
  ['application/json', '\u0000\u0001'],
  ['application/json', '{"a":1}'.repeat(3)],
  ['text/plain', 'hello'],
  ['application/x-www-form-urlencoded', 'email=a&password=b'],
  [undefined, 'no content type'],
];

/** Plausible bodies per route, whose fields then get wrong types one by one. */
const FIELD_VALUES: unknown[] = [
  null,
  -1,
  1e308,
  'x',
  '',
  'x'.repeat(20_000),
  [],
  {},
  true,
  [{}],
  '%E0%A4%A',
  'a\u0000b',
  { 'k\u0000': 1 },
];

type Offender = { method: string; url: string; what: string; status: number | string; body: string };

interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Array<{ in: string; name: string }>;
        requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
      }
    >
  >;
}

interface Probe {
  method: string;
  path: string;
  what: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Runs probes with a few at a time and collects every 5xx (or dropped connection). */
async function runProbes(probes: Probe[], concurrency = 12): Promise<Offender[]> {
  const offenders: Offender[] = [];
  let next = 0;
  const worker = async () => {
    while (next < probes.length) {
      const p = probes[next++]!;
      const url = `${server.url}${p.path}`;
      let res: Response;
      try {
        res = await fetch(url, {
          method: p.method,
          // A probe of the cookie goes without the bearer token, which would be read first.
          headers: { ...(p.headers?.cookie ? {} : { authorization: `Bearer ${user.token}` }), ...p.headers },
          ...(p.body !== undefined ? { body: p.body } : {}),
          redirect: 'manual',
          signal: AbortSignal.timeout(30_000),
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        // The client itself refuses some header values (control characters): not a server answer.
        if (cause?.code === 'UND_ERR_INVALID_ARG' || ((err as Error).name === 'TypeError' && !cause))
          continue;
        offenders.push({
          method: p.method,
          url: p.path.slice(0, 200),
          what: p.what,
          status: `${(err as Error).message} ${cause?.code ?? cause?.message ?? ''}`,
          body: '',
        });
        continue;
      }
      const text = await res.text().catch(() => '');
      if (res.status >= 500 && !(res.status === 503 && text.includes('SERVER_BUSY'))) {
        offenders.push({
          method: p.method,
          url: p.path.slice(0, 200),
          what: p.what,
          status: res.status,
          body: text.slice(0, 300),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return offenders;
}

function probesFor(spec: OpenApi): Probe[] {
  const probes: Probe[] = [];
  const routes: Array<{ method: string; path: string; params: string[]; query: string[]; fields: string[] }> =
    [];
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      const query = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      const fields = Object.keys(op.requestBody?.content?.['application/json']?.schema?.properties ?? {});
      routes.push({ method: method.toUpperCase(), path, params, query, fields });
    }
  }
  // The tus endpoint is hidden from the description; its routes are fuzzed all the same.
  for (const method of ['POST'])
    routes.push({ method, path: '/api/uploads', params: [], query: [], fields: [] });
  for (const method of ['HEAD', 'PATCH', 'DELETE', 'OPTIONS']) {
    routes.push({ method, path: '/api/uploads/{id}', params: ['id'], query: [], fields: [] });
  }

  for (const r of routes) {
    const fill = (override?: [string, string]) =>
      r.path.replace(/\{(\w+)\}/g, (_, name: string) =>
        override?.[0] === name ? override[1] : r.method === 'DELETE' ? sacrificialId : videoId,
      );
    const isWrite = !['GET', 'HEAD', 'OPTIONS', 'DELETE'].includes(r.method);
    const validBody = isWrite ? JSON.stringify(Object.fromEntries(r.fields.map((f) => [f, 'x']))) : undefined;
    const jsonHeaders = isWrite ? { 'content-type': 'application/json' } : undefined;
    const base = { method: r.method, ...(validBody ? { body: validBody, headers: jsonHeaders } : {}) };
    for (const param of r.params) {
      for (const v of MALFORMED_URL_VALUES)
        probes.push({ ...base, path: fill([param, v]), what: `path ${param}=${v.slice(0, 40)}` });
    }
    for (const q of [...r.query, 'token', 'cursor']) {
      for (const v of MALFORMED_URL_VALUES)
        probes.push({ ...base, path: `${fill()}?${q}=${v}`, what: `query ${q}=${v.slice(0, 40)}` });
      probes.push({ ...base, path: `${fill()}?${q}=a&${q}=b&${q}[x]=c`, what: `query ${q} repeated` });
    }
    for (const h of [...MALFORMED_HEADERS, ...(r.path.startsWith('/api/uploads') ? TUS_HEADERS : [])]) {
      const headers = {
        ...(jsonHeaders ?? {}),
        ...(r.path.startsWith('/api/uploads') ? { 'tus-resumable': '1.0.0' } : {}),
        ...h,
      };
      probes.push({ ...base, path: fill(), headers, what: `header ${JSON.stringify(h).slice(0, 60)}` });
    }
    if (r.method !== 'GET' && r.method !== 'HEAD') {
      for (const [type, body] of MALFORMED_BODIES) {
        probes.push({
          method: r.method,
          path: fill(),
          body,
          ...(type ? { headers: { 'content-type': type } } : {}),
          what: `body ${type} ${body.slice(0, 30)}`,
        });
      }
      for (const field of r.fields) {
        for (const v of FIELD_VALUES) {
          const body = JSON.stringify({ ...JSON.parse(validBody ?? '{}'), [field]: v });
          probes.push({
            method: r.method,
            path: fill(),
            body,
            headers: { 'content-type': 'application/json' },
            what: `field ${field}=${JSON.stringify(v).slice(0, 30)}`,
          });
        }
      }
    }
  }
  return probes;
}

describe('bad input is always a 4xx', () => {
  it('a malformed session cookie is a 400, not a 500', async () => {
    const res = await fetch(`${server.url}/api/me`, { headers: { cookie: 'clipdock_token=%E0%A4%A' } });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const body = (await res.json()) as { error: { code: string } };
    expect(body.error.code).toMatch(/BAD_REQUEST|UNAUTHENTICATED/);
  });

  it('a stranger sending a malformed body learns only that they must sign in (401 before 400)', async () => {
    const res = await fetch(`${server.url}/api/upload-sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ files: 'not a list' }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
  });

  it('a cursor that decodes to an impossible timestamp is a 400 INVALID_CURSOR', async () => {
    const cursor = Buffer.from(JSON.stringify(['2026-13-45 25:61:61', videoId])).toString('base64url');
    const res = await user.api(`/api/videos?cursor=${cursor}`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('INVALID_CURSOR');
  });

  it('no malformed path, query, header or body gets a 5xx from any route', async () => {
    const spec = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as OpenApi;
    expect(Object.keys(spec.paths).length).toBeGreaterThan(10);
    // The byte-serving code is reachable: Range probes test it, not a 404.
    const original = await user.api(`/api/videos/${videoId}/original`, { headers: { range: 'bytes=0-9' } });
    expect(original.status).toBe(206);
    await original.arrayBuffer();
    const probes = probesFor(spec);
    expect(probes.length).toBeGreaterThan(500);
    expect(probes.length).toBeLessThan(5000);
    const offenders = await runProbes(probes);
    expect(offenders, `${offenders.length} of ${probes.length} probes got a 5xx`).toEqual([]);
  }, 180_000);
});
