// Web mode under attack: a loopback server is reachable by every page the user's browser opens,
// so wrong Host (DNS rebinding), foreign Origin, missing or wrong token, path traversal in every
// encoding, symlinks out of a chosen folder and ungranted paths in calls must all be refused,
// and no byte of a file outside what the user chose may come back. Each case also checks that
// the legitimate request still works, so a server that refuses everything would fail.
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { Engine } from '../../../app/engine/api.ts';
import { makeImage } from '../fixtures.ts';
import { check, listAll, REPO, skip, type Ctx } from '../harness.ts';
import type { Case, SuiteEnv } from './common.ts';

interface Web {
  port: number;
  token: string;
  root: string; // fixture tree
  granted: string; // the folder the "user" added
  photo: string; // a granted image
  secret: string; // canary outside every grant
  secretBytes: Buffer;
  outside: string; // a folder outside every grant
  close(): Promise<void>;
}

let shared: Promise<Web> | undefined;

const TOKEN = 'reliability-suite-token-0123456789abcdef';

/** One server for all web cases (engine start-up is the slow part). */
function web(env: SuiteEnv): Promise<Web> {
  shared ??= (async () => {
    if (!existsSync(join(REPO, 'app/server/index.ts')) || !existsSync(join(REPO, 'app/engine/index.ts'))) skip('web mode (app/server, app/engine) is not built yet');
    const { startServer } = await import('../../../app/server/index.ts');
    const { createEngine } = (await import('../../../app/engine/index.ts')) as { createEngine: (o: object) => Promise<Engine> };
    const root = join(env.root, 'web');
    const granted = join(root, 'granted');
    const photo = await makeImage(join(granted, 'photo.jpg'));
    await makeImage(join(granted, 'sub', 'inner.png'), 24, 16, 2);
    const secret = join(root, 'secret.txt');
    const secretBytes = Buffer.from('CANARY-7f3a9c-do-not-serve\n'.repeat(4));
    writeFileSync(secret, secretBytes);
    mkdirSync(join(root, 'granted-evil'), { recursive: true });
    writeFileSync(join(root, 'granted-evil', 'secret.txt'), secretBytes);
    writeFileSync(join(root, 'granted-evil', 'photo.jpg'), secretBytes);
    symlinkSync(secret, join(granted, 'evil.jpg'));
    const outside = join(root, 'outside');
    mkdirSync(outside);
    symlinkSync(outside, join(granted, 'link-out'));
    const dataDir = join(env.root, 'web-data');
    const engine = await createEngine({ modelsDir: env.modelsDir, dataDir, userModelsDir: join(dataDir, 'models') });
    const s = await startServer({ port: 0, engine, dataDir, token: TOKEN });
    const w: Web = {
      port: s.port,
      token: s.token,
      root,
      granted,
      photo,
      secret,
      secretBytes,
      outside,
      async close() {
        await s.close();
        await engine.close();
      },
    };
    // the user adds the folder, as a drop would
    const added = await call(w, 'files.add', { paths: [granted], recursive: true });
    check(added.status === 200, `files.add failed: ${added.status} ${added.body.toString().slice(0, 200)}`);
    return w;
  })();
  return shared;
}

export async function closeWeb(): Promise<void> {
  if (!shared) return;
  try {
    await (await shared).close();
  } catch {
    /* never started */
  }
  shared = undefined;
}

interface Resp {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A raw HTTP request: the path goes out byte for byte and Host is whatever we say. */
function request(w: Web, o: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer; host?: string | null }): Promise<Resp> {
  return new Promise((res, rej) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.host !== null) headers.Host = o.host ?? `127.0.0.1:${w.port}`;
    const req = http.request({ host: '127.0.0.1', port: w.port, method: o.method ?? 'GET', path: o.path, headers, setHost: false }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }));
      r.on('error', rej);
    });
    req.on('error', rej);
    req.setTimeout(15_000, () => req.destroy(new Error('request timed out')));
    if (o.body) req.write(o.body);
    req.end();
  });
}

/** Send raw bytes on a fresh connection; resolves with the status line's code (0: closed without one). */
function rawStatus(w: Web, head: string, body: Buffer, timeoutMs = 10_000): Promise<{ status: number; ms: number }> {
  return new Promise((res) => {
    const t0 = Date.now();
    const sock = net.connect(w.port, '127.0.0.1');
    let got = '';
    const done = (status: number) => {
      sock.destroy();
      res({ status, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => done(0), timeoutMs);
    sock.on('connect', () => {
      sock.write(head);
      sock.write(body);
    });
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      if (m) {
        clearTimeout(timer);
        done(Number(m[1]));
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      done(0);
    });
  });
}

/** Listening sockets on `port` from /proc/net/tcp{,6}: hex local addresses. */
function listeners(port: number): string[] {
  const out: string[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '0A') continue; // 0A = LISTEN
      const [addr, portHex] = cols[1].split(':');
      if (parseInt(portHex, 16) === port) out.push(`${f.endsWith('6') ? 'tcp6' : 'tcp'} ${addr}`);
    }
  }
  return out;
}

function call(w: Web, name: string, args: unknown, headers: Record<string, string> = {}, host?: string): Promise<Resp> {
  return request(w, {
    method: 'POST',
    path: `/api/call/${name}`,
    headers: { 'Content-Type': 'application/json', 'X-Restora-Token': w.token, ...headers },
    body: JSON.stringify(args),
    host,
  });
}

function leaks(w: Web, r: Resp): boolean {
  return r.body.includes(w.secretBytes.subarray(0, 20)) || r.body.includes(Buffer.from(w.token));
}

function protectWeb(ctx: Ctx, w: Web): void {
  ctx.protect(w.root);
  ctx.seal();
}

/** Every attempt must be refused (4xx) and leak neither canary bytes nor the token. */
function allRefused(w: Web, tries: [string, Resp][]): string[] {
  const bad: string[] = [];
  for (const [what, r] of tries) {
    if (r.status < 400 || r.status >= 500) bad.push(`${what}: HTTP ${r.status}`);
    if (leaks(w, r)) bad.push(`${what}: response leaks the canary or the token`);
    if (r.headers['access-control-allow-origin'] === '*') bad.push(`${what}: Access-Control-Allow-Origin: *`);
  }
  return bad;
}

function filesUrl(w: Web, rawPathParam: string, token = true): string {
  return `/files?path=${rawPathParam}${token ? `&token=${w.token}` : ''}`;
}

export const webCases: Case[] = [
  {
    id: 'web-host-header',
    title: 'web mode: wrong Host headers (DNS rebinding) refused; the right one works',
    plan: [39],
    async run(ctx, env) {
      const w = await web(env);
      protectWeb(ctx, w);
      const ok = await call(w, 'models.list', {});
      check(ok.status === 200, `control: models.list with the right Host gave ${ok.status}`);
      const hosts = ['evil.test', `evil.test:${w.port}`, `127.0.0.1.nip.io:${w.port}`, `localhost.evil.test:${w.port}`, `127.0.0.1:${w.port + 1}`, `[::1]:${w.port}`, `0.0.0.0:${w.port}`, ''];
      const tries: [string, Resp][] = [];
      for (const h of hosts) {
        tries.push([`Host "${h}" call`, await call(w, 'models.list', {}, {}, h)]);
        tries.push([`Host "${h}" file`, await request(w, { path: filesUrl(w, encodeURIComponent(w.photo)), host: h })]);
      }
      tries.push(['no Host header', await request(w, { path: filesUrl(w, encodeURIComponent(w.photo)), host: null })]);
      const bad = allRefused(w, tries);
      check(bad.length === 0, bad.join('; '));
      return `${tries.length}/${tries.length} refused (${[...new Set(tries.map(([, r]) => r.status))].join('/')}); right Host: 200`;
    },
  },
  {
    id: 'web-cross-origin',
    title: 'web mode: foreign Origin, null Origin, cross-site fetch and a form-style POST refused',
    plan: [40],
    async run(ctx, env) {
      const w = await web(env);
      protectWeb(ctx, w);
      const own = await call(w, 'models.list', {}, { Origin: `http://127.0.0.1:${w.port}` });
      check(own.status === 200, `control: own Origin gave ${own.status}`);
      const tries: [string, Resp][] = [
        ['Origin evil.test', await call(w, 'models.list', {}, { Origin: 'http://evil.test' })],
        ['Origin null', await call(w, 'models.list', {}, { Origin: 'null' })],
        ['Origin other port', await call(w, 'models.list', {}, { Origin: `http://127.0.0.1:${w.port + 1}` })],
        ['Origin https same host', await call(w, 'models.list', {}, { Origin: `https://127.0.0.1:${w.port}` })],
        ['Sec-Fetch-Site cross-site', await call(w, 'models.list', {}, { 'Sec-Fetch-Site': 'cross-site' })],
        [
          'form POST (text/plain, token only in query)',
          await request(w, { method: 'POST', path: `/api/call/files.add?token=${w.token}`, headers: { 'Content-Type': 'text/plain', Origin: 'http://evil.test' }, body: JSON.stringify({ paths: ['/etc'] }) }),
        ],
        [
          'multipart form with cookie token',
          await request(w, {
            method: 'POST',
            path: '/api/call/files.add',
            headers: { 'Content-Type': 'multipart/form-data; boundary=x', Cookie: `restora_token_${w.port}=${w.token}` },
            body: '--x\r\nContent-Disposition: form-data; name="paths"\r\n\r\n/etc\r\n--x--\r\n',
          }),
        ],
        ['file with foreign Origin', await request(w, { path: filesUrl(w, encodeURIComponent(w.photo)), headers: { Origin: 'http://evil.test' } })],
      ];
      const bad = allRefused(w, tries);
      check(bad.length === 0, bad.join('; '));
      return `${tries.length}/${tries.length} refused; own Origin: 200`;
    },
  },
  {
    id: 'web-token',
    title: 'web mode: no token, a wrong token, a token of the wrong length, token outside the header for calls',
    plan: [40],
    async run(ctx, env) {
      const w = await web(env);
      protectWeb(ctx, w);
      const wrong = w.token.slice(0, -1) + (w.token.endsWith('a') ? 'b' : 'a');
      const noTok = (extra: Record<string, string>) =>
        request(w, { method: 'POST', path: '/api/call/models.list', headers: { 'Content-Type': 'application/json', ...extra }, body: '{}' });
      const tries: [string, Resp][] = [
        ['call without token', await noTok({})],
        ['call with wrong token', await noTok({ 'X-Restora-Token': wrong })],
        ['call with short token', await noTok({ 'X-Restora-Token': w.token.slice(0, 8) })],
        ['call with empty token', await noTok({ 'X-Restora-Token': '' })],
        ['call with token in query only', await request(w, { method: 'POST', path: `/api/call/models.list?token=${w.token}`, headers: { 'Content-Type': 'application/json' }, body: '{}' })],
        ['call with cookie only', await noTok({ Cookie: `restora_token_${w.port}=${w.token}` })],
        ['file without token', await request(w, { path: filesUrl(w, encodeURIComponent(w.photo), false) })],
        ['file with wrong token', await request(w, { path: `/files?path=${encodeURIComponent(w.photo)}&token=${wrong}` })],
        ['upload without token', await request(w, { method: 'POST', path: '/upload?name=a.png', body: 'x' })],
      ];
      const bad = allRefused(w, tries);
      check(bad.length === 0, bad.join('; '));
      const good = await request(w, { path: filesUrl(w, encodeURIComponent(w.photo)) });
      check(good.status === 200 && good.body.equals(readFileSync(w.photo)), `control: granted file with token gave ${good.status}`);
      return `${tries.length}/${tries.length} refused (${[...new Set(tries.map(([, r]) => r.status))].join('/')}); valid token: 200`;
    },
  },
  {
    id: 'web-websocket-origin',
    title: 'web mode: WebSocket from a foreign Origin, without or with a wrong token refused',
    plan: [40],
    async run(ctx, env) {
      const w = await web(env);
      protectWeb(ctx, w);
      const tryWs = (path: string, origin?: string, protocols?: string[]): Promise<string> =>
        new Promise((res) => {
          const ws = new WebSocket(`ws://127.0.0.1:${w.port}${path}`, protocols, { headers: origin ? { Origin: origin } : {}, handshakeTimeout: 5000 });
          ws.on('open', () => {
            ws.close();
            res('open');
          });
          ws.on('unexpected-response', (_req, r) => {
            res(`HTTP ${r.statusCode}`);
            ws.terminate();
          });
          ws.on('error', (e) => res(`error ${e.message}`));
        });
      const own = `http://127.0.0.1:${w.port}`;
      const control = await tryWs(`/ws?token=${w.token}`, own);
      check(control === 'open', `control: own Origin + token gave ${control}`);
      const tries: [string, string][] = [
        ['foreign Origin + token', await tryWs(`/ws?token=${w.token}`, 'http://evil.test')],
        ['null Origin + token', await tryWs(`/ws?token=${w.token}`, 'null')],
        ['foreign Origin + protocol token', await tryWs('/ws', 'http://evil.test', [`restora.${w.token}`])],
        ['no token', await tryWs('/ws', own)],
        ['wrong token', await tryWs('/ws?token=nope-nope-nope-nope-nope', own)],
      ];
      const bad = tries.filter(([, v]) => v === 'open').map(([k]) => k);
      check(bad.length === 0, `WebSocket opened for: ${bad.join(', ')}`);
      return `${tries.length}/${tries.length} refused (${[...new Set(tries.map(([, v]) => v))].join(', ')}); own Origin: open`;
    },
  },
  {
    id: 'web-path-traversal',
    title: 'web mode: /files and static paths with .., %2e%2e, double encoding, ..%5c, NUL, absolute, sibling prefix',
    plan: [41],
    async run(ctx, env) {
      const w = await web(env);
      protectWeb(ctx, w);
      const control = await request(w, { path: filesUrl(w, encodeURIComponent(w.photo)) });
      check(control.status === 200 && control.body.equals(readFileSync(w.photo)), `control: granted photo gave ${control.status}`);
      const g = w.granted;
      const params: [string, string][] = [
        ['..', encodeURIComponent(`${g}/../secret.txt`)],
        ['raw ../ in query', `${g}/../secret.txt`],
        ['%2e%2e', `${g}/%2e%2e/secret.txt`],
        ['%2E%2E%2F', `${g}%2F%2E%2E%2Fsecret.txt`],
        ['double encoded %252e%252e', `${g}/%252e%252e/secret.txt`],
        ['..%5c', `${g}/..%5csecret.txt`],
        ['granted file then ..', encodeURIComponent(`${w.photo}/../../secret.txt`)],
        ['absolute canary', encodeURIComponent(w.secret)],
        ['/etc/passwd', encodeURIComponent('/etc/passwd')],
        ['NUL', `${encodeURIComponent(w.photo)}%00.jpg`],
        ['sibling prefix (granted-evil)', encodeURIComponent(`${g}-evil/secret.txt`)],
        ['sibling prefix photo name', encodeURIComponent(`${g}-evil/photo.jpg`)],
        ['relative', 'secret.txt'],
        ['symlink in granted folder to canary', encodeURIComponent(join(g, 'evil.jpg'))],
        ['folder itself', encodeURIComponent(g)],
        ['file:// URL', encodeURIComponent(`file://${w.secret}`)],
      ];
      const tries: [string, Resp][] = [];
      for (const [what, p] of params) tries.push([`/files ${what}`, await request(w, { path: filesUrl(w, p) })]);
      const rel = w.secret.split('/').length;
      for (const p of [`/assets/${'../'.repeat(rel)}${w.secret.slice(1)}`, `/assets/${'%2e%2e/'.repeat(rel)}${w.secret.slice(1)}`, `/assets/..%2f..%2f..%2fetc/passwd`, `/../../../../etc/passwd`]) {
        tries.push([`static ${p.slice(0, 40)}`, await request(w, { path: `${p}?token=${w.token}` })]);
      }
      const bad = allRefused(w, tries);
      check(bad.length === 0, bad.join('; '));
      return `${tries.length}/${tries.length} refused, 0 canary bytes served; the granted photo still served`;
    },
  },
  {
    id: 'web-ungranted-calls',
    title: 'web mode: calls naming files or output folders the user never chose (incl. a symlink out) refused',
    plan: [37, 41],
    timeoutMs: 60_000,
    async run(ctx, env) {
      const w = await web(env);
      protectWeb(ctx, w);
      const info = await call(w, 'image.info', { path: w.photo });
      check(info.status === 200, `control: image.info on the granted photo gave ${info.status}: ${info.body.toString().slice(0, 200)}`);
      const expectForbidden = async (what: string, name: string, args: unknown): Promise<string | undefined> => {
        const r = await call(w, name, args);
        const body = r.body.toString();
        if (r.status < 400) return `${what}: HTTP ${r.status}`;
        if (!body.includes('E_FORBIDDEN')) return `${what}: HTTP ${r.status} without E_FORBIDDEN (${body.slice(0, 120)})`;
        if (leaks(w, r)) return `${what}: leaks the canary`;
        return undefined;
      };
      const recipe = [{ task: 'denoise', sigma: 10, model: env.denoiser }];
      const problems = (
        await Promise.all([
          expectForbidden('image.info on the canary', 'image.info', { path: w.secret }),
          expectForbidden('image.info via the symlink', 'image.info', { path: join(w.granted, 'evil.jpg') }),
          expectForbidden('image.info with ..', 'image.info', { path: `${w.granted}/../secret.txt` }),
          expectForbidden('batch.start on the canary', 'batch.start', { files: [w.secret], recipe }),
          expectForbidden('batch.start output outside', 'batch.start', { files: [w.photo], recipe, output: { dir: w.outside } }),
          expectForbidden('batch.start output via a symlink out of the folder', 'batch.start', { files: [w.photo], recipe, output: { dir: join(w.granted, 'link-out', 'x') } }),
          expectForbidden('settings.set outputDir outside', 'settings.set', { outputDir: w.outside }),
        ])
      ).filter((x): x is string => !!x);
      const png = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 0]);
      const mask = await request(w, {
        method: 'POST',
        path: `/api/call/mask.save?forPath=${encodeURIComponent(w.secret)}`,
        headers: { 'X-Restora-Token': w.token, 'Content-Type': 'application/octet-stream' },
        body: png,
      });
      if (mask.status < 400 || !mask.body.toString().includes('E_FORBIDDEN')) problems.push(`mask.save for the canary: HTTP ${mask.status} ${mask.body.toString().slice(0, 100)}`);
      // whatever was accepted, nothing may appear outside the grants
      await new Promise((r) => setTimeout(r, 1500));
      const written = listAll(w.outside);
      if (written.length) problems.push(`files written outside the chosen folder: ${written.join(', ')}`);
      check(problems.length === 0, problems.join('; '));
      return '8/8 refused with E_FORBIDDEN; nothing written outside';
    },
  },
  {
    id: 'web-upload-names',
    title: 'web mode: upload names with ../, absolute paths and NUL stay inside the upload folder',
    plan: [41],
    async run(ctx, env) {
      const w = await web(env);
      protectWeb(ctx, w);
      const names = ['../../escape.png', '/tmp/abs-escape.png', '..%2f..%2fenc.png', 'a\u0000b.png', '....//....//x.png'];
      const results: string[] = [];
      for (const n of names) {
        const r = await request(w, { method: 'POST', path: `/upload?name=${encodeURIComponent(n)}`, headers: { 'X-Restora-Token': w.token, 'Content-Type': 'application/octet-stream' }, body: 'not really a png' });
        if (r.status === 200) {
          const p = (JSON.parse(r.body.toString()) as { path: string }).path;
          check(p.startsWith(join(env.root, 'web-data', 'uploads')), `upload ${JSON.stringify(n)} stored at ${p}`);
          results.push('kept inside');
        } else results.push(`HTTP ${r.status}`);
      }
      for (const p of ['/tmp/abs-escape.png', join(env.root, 'escape.png'), join(env.root, 'web-data', 'escape.png')]) check(!existsSync(p), `${p} was written`);
      return names.map((n, k) => `${JSON.stringify(n)}: ${results[k]}`).join(', ');
    },
  },
  {
    id: 'web-loopback-only',
    title: 'web mode listens on 127.0.0.1 only: no wildcard or public bind, not reachable on other addresses',
    plan: [39],
    async run(ctx, env) {
      const w = await web(env);
      protectWeb(ctx, w);
      const l = listeners(w.port);
      check(l.length > 0, `no listening socket found for port ${w.port}`);
      const wrong = l.filter((x) => x !== 'tcp 0100007F');
      check(wrong.length === 0, `bound beyond loopback: ${wrong.join(', ')}`);
      const others = Object.values(os.networkInterfaces())
        .flat()
        .filter((i): i is os.NetworkInterfaceInfo => !!i && !i.internal && i.family === 'IPv4')
        .map((i) => i.address);
      const reached: string[] = [];
      for (const a of others) {
        const ok = await new Promise<boolean>((res) => {
          const s = net.connect({ host: a, port: w.port, timeout: 2000 }, () => {
            s.destroy();
            res(true);
          });
          s.on('error', () => res(false));
          s.on('timeout', () => {
            s.destroy();
            res(false);
          });
        });
        if (ok) reached.push(a);
      }
      check(reached.length === 0, `reachable on ${reached.join(', ')}`);
      return `listening only on 127.0.0.1:${w.port}; ${others.length} other address(es) refused`;
    },
  },
  {
    id: 'web-request-limits',
    title: 'web mode limits: a declared 10 GB body and a 40 MB chunked body get 413 early; 200 parallel calls all answered',
    plan: [42],
    async run(ctx, env) {
      const w = await web(env);
      protectWeb(ctx, w);
      const head = (path: string, extra: string) =>
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${w.port}\r\nX-Restora-Token: ${w.token}\r\nContent-Type: application/json\r\n${extra}\r\n`;
      const declared = await rawStatus(w, head('/api/call/files.add', 'Content-Length: 10737418240\r\n'), Buffer.alloc(1024, 0x20));
      check(declared.status === 413, `declared 10 GB call body: HTTP ${declared.status || '(none)'}`);
      const upload = await rawStatus(
        w,
        `POST /upload?name=big.png HTTP/1.1\r\nHost: 127.0.0.1:${w.port}\r\nX-Restora-Token: ${w.token}\r\nContent-Type: application/octet-stream\r\nContent-Length: 10737418240\r\n\r\n`,
        Buffer.alloc(1024),
      );
      check(upload.status === 413, `declared 10 GB upload: HTTP ${upload.status || '(none)'}`);
      // 40 MB of JSON whitespace in chunks, no length declared: refused once past the limit
      const chunk = Buffer.alloc(1 << 20, 0x20);
      const chunks = Buffer.concat(Array.from({ length: 40 }, () => Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')])));
      const streamed = await rawStatus(w, head('/api/call/files.add', 'Transfer-Encoding: chunked\r\n'), Buffer.concat([chunks, Buffer.from('0\r\n\r\n')]), 30_000);
      check(streamed.status === 413, `40 MB chunked body: HTTP ${streamed.status || '(none)'}`);
      const t0 = Date.now();
      const all = await Promise.all(Array.from({ length: 200 }, () => call(w, 'models.list', {})));
      const codes = [...new Set(all.map((r) => r.status))];
      check(codes.length === 1 && codes[0] === 200, `parallel calls answered ${codes.join('/')}`);
      const after = await call(w, 'models.list', {});
      check(after.status === 200, `server unwell after the flood: ${after.status}`);
      return `413 in ${declared.ms} / ${upload.ms} / ${streamed.ms} ms; 200 parallel calls answered 200 in ${Date.now() - t0} ms`;
    },
  },
];
