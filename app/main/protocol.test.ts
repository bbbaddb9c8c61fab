import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileUrl } from '../host/file-url.ts';
import { createGrantSet } from '../host/grants.ts';
import { createProtocolHandler } from './protocol.ts';
import { CSP } from './security.ts';

// Layout (all under a temp root):
//   ui/index.html, ui/assets/app.js      the built UI
//   ui/leak -> ../secret                 a symlink inside the UI pointing out
//   jobs/photo.jpg                       granted
//   jobs/other.jpg                       not granted (same folder)
//   jobs/link.jpg                        granted as a plain file, later swapped for a symlink out
//   tree/                                granted as a tree (a chosen folder); tree/out -> ../secret
//   jobs-evil/photo.jpg                  sibling whose name starts like the granted folder
//   secret/key.txt                       never served
//   %2e%2e/x.jpg                         a folder literally named "%2e%2e"
let root: string;
let handler: (req: Request) => Promise<Response>;
const grants = createGrantSet();

const get = (url: string, method = 'GET') => handler(new Request(url, { method }));
const fileReq = (p: string) => get(fileUrl(p));

beforeAll(() => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'restora-proto-')));
  const w = (rel: string, data: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data);
  };
  w('ui/index.html', '<!doctype html><title>Restora</title>');
  w('ui/assets/app.js', 'console.log(1)');
  w('jobs/photo.jpg', 'JPEGDATA');
  w('jobs/other.jpg', 'OTHER');
  w('jobs-evil/photo.jpg', 'EVIL');
  w('secret/key.txt', 'CANARY');
  w('%2e%2e/x.jpg', 'ODD');
  w('jobs/link.jpg', 'LINK');
  w('tree/a.jpg', 'TREE');
  w('tree-evil/a.jpg', 'EVIL');
  fs.symlinkSync(path.join(root, 'secret'), path.join(root, 'ui', 'leak'));
  fs.symlinkSync(path.join(root, 'secret'), path.join(root, 'tree', 'out'));
  grants.grant(path.join(root, 'jobs', 'photo.jpg'));
  grants.grant(path.join(root, 'jobs', 'link.jpg'));
  grants.grant(path.join(root, 'tree'), { tree: true });
  handler = createProtocolHandler({ appRoot: path.join(root, 'ui'), grants });
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('restora://app/files (files of the current jobs)', () => {
  it('serves a granted file, read-only, not cached', async () => {
    const r = await fileReq(path.join(root, 'jobs', 'photo.jpg'));
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('JPEGDATA');
    expect(r.headers.get('content-type')).toBe('image/jpeg');
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await handler(new Request(fileUrl(path.join(root, 'jobs', 'photo.jpg')), { method: 'HEAD' }))).status).toBe(200);
  });

  it('refuses writes', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) expect((await get(fileUrl(path.join(root, 'jobs', 'photo.jpg')), method)).status).toBe(405);
  });

  it('refuses a file beside a granted one, and a sibling folder with the same prefix', async () => {
    expect((await fileReq(path.join(root, 'jobs', 'other.jpg'))).status).toBe(403);
    expect((await fileReq(path.join(root, 'jobs-evil', 'photo.jpg'))).status).toBe(403);
    expect((await fileReq(path.join(root, 'secret', 'key.txt'))).status).toBe(403);
  });

  it('refuses `..` that climbs out of a granted path', async () => {
    const r = await fileReq(`${root}/jobs/photo.jpg/../../secret/key.txt`);
    expect(r.status).toBe(403);
    const r2 = await fileReq(`${root}/jobs/../secret/key.txt`);
    expect(r2.status).toBe(403);
    expect(await r2.text()).not.toContain('CANARY');
  });

  it('decodes the path exactly once: %2e%2e and %252e%252e stay literal', async () => {
    const once = `restora://app/files?path=${encodeURIComponent(`${root}/jobs/`)}%252e%252e%252fsecret%252fkey.txt`;
    expect((await get(once)).status).toBe(403);
    const raw = `restora://app/files?path=${root}/jobs/%2e%2e/secret/key.txt`; // decodes to /jobs/../secret -> resolved, not granted
    expect((await get(raw)).status).toBe(403);
    // a folder really named "%2e%2e" is just another ungranted folder
    expect((await fileReq(path.join(root, '%2e%2e', 'x.jpg'))).status).toBe(403);
    grants.grant(path.join(root, '%2e%2e', 'x.jpg'));
    const ok = await fileReq(path.join(root, '%2e%2e', 'x.jpg'));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('ODD');
  });

  it('follows symlinks before deciding: a granted name swapped for a link out is refused', async () => {
    const link = path.join(root, 'jobs', 'link.jpg');
    expect((await fileReq(link)).status).toBe(200);
    fs.unlinkSync(link);
    fs.symlinkSync(path.join(root, 'secret', 'key.txt'), link);
    const r = await fileReq(link);
    expect(r.status).toBe(403);
    expect(await r.text()).not.toContain('CANARY');
  });

  it('a symlink inside a granted folder does not reach outside it', async () => {
    expect((await fileReq(path.join(root, 'tree', 'a.jpg'))).status).toBe(200);
    expect((await fileReq(path.join(root, 'tree-evil', 'a.jpg'))).status).toBe(403); // prefix is not containment
    const r = await fileReq(path.join(root, 'tree', 'out', 'key.txt'));
    expect(r.status).toBe(403);
    expect(await r.text()).not.toContain('CANARY');
  });

  it('refuses relative paths, NUL bytes, missing paths and other hosts', async () => {
    expect((await get('restora://app/files?path=jobs%2Fphoto.jpg')).status).toBe(400);
    expect((await get(`restora://app/files?path=${encodeURIComponent(path.join(root, 'jobs', 'photo.jpg'))}%00.png`)).status).toBe(400);
    expect((await get('restora://app/files')).status).toBe(400);
    expect((await get(`restora://other/files?path=${encodeURIComponent(path.join(root, 'jobs', 'photo.jpg'))}`)).status).toBe(404);
  });

  it('404s a granted file that has gone', async () => {
    const p = path.join(root, 'jobs', 'gone.jpg');
    fs.writeFileSync(p, 'x');
    grants.grant(p);
    fs.unlinkSync(p);
    expect((await fileReq(p)).status).toBe(404);
  });
});

describe('restora://app/ (the UI)', () => {
  it('serves index.html with the CSP header', async () => {
    const r = await get('restora://app/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toBe(CSP);
    expect(await r.text()).toContain('<title>Restora</title>');
    expect((await get('restora://app/assets/app.js')).headers.get('content-type')).toContain('text/javascript');
  });

  it('keeps `..`, encoded `..` and symlinks inside the UI folder', async () => {
    // WHATWG URL parsing already folds ../ and %2e%2e/ in the path; whatever survives is contained by real path
    for (const u of ['restora://app/../secret/key.txt', 'restora://app/%2e%2e/secret/key.txt', 'restora://app/assets/..%2f..%2fsecret%2fkey.txt', 'restora://app/%252e%252e/secret/key.txt']) {
      const r = await get(u);
      expect([403, 404], u).toContain(r.status);
      expect(await r.text()).not.toContain('CANARY');
    }
    const leak = await get('restora://app/leak/key.txt');
    expect(leak.status).toBe(403);
    expect(await leak.text()).not.toContain('CANARY');
  });
});
