import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { photoLike, sharpOf, tmpDir } from '../../test/fixtures/images/make.ts';
import { CacheKeeper, cacheMaxBytesFromEnv, DEFAULT_CACHE_MB, pruneCache } from './cache.ts';
import { createEngine } from './index.ts';
import { FIXTURE_MODELS } from '../../test/fixtures/images/make.ts';

const KB = 1024;
const HOUR = 3600e3;
let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups) c();
  cleanups = [];
});

function tmp(): string {
  const t = tmpDir('restora-cache-');
  cleanups.push(t.cleanup);
  return t.dir;
}

/** A file of `kb` KB last used `agoMs` before `now`. */
function put(file: string, kb: number, agoMs: number, now = Date.now()): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.alloc(kb * KB, 7));
  const t = new Date(now - agoMs);
  fs.utimesSync(file, t, t);
  return file;
}

const exists = (f: string) => fs.existsSync(f);

describe('pruneCache', () => {
  it('leaves a folder under its cap alone', async () => {
    const d = tmp();
    const a = put(path.join(d, 'display/a.jpg'), 40, 5 * HOUR);
    const r = await pruneCache(d, { maxBytes: 100 * KB });
    expect(r).toMatchObject({ files: 1, bytes: 40 * KB, removed: 0 });
    expect(exists(a)).toBe(true);
  });

  it('removes the files used longest ago until the folder is under 80 % of the cap', async () => {
    const d = tmp();
    const now = Date.now();
    // 10 files of 100 KB, file i last used i hours ago, spread over both cache folders
    const files = Array.from({ length: 10 }, (_, i) => put(path.join(d, i % 2 ? 'preview' : 'display', `f${i}.png`), 100, (i + 1) * HOUR, now));
    const r = await pruneCache(d, { maxBytes: 500 * KB, now });
    // 1000 KB -> at most 400 KB: the six oldest go, the four most recently used stay
    expect(r).toMatchObject({ files: 10, bytes: 1000 * KB, removed: 6, freed: 600 * KB });
    expect(files.map(exists)).toEqual([true, true, true, true, false, false, false, false, false, false]);
  });

  it('keeps files younger than the minimum age, even over the cap', async () => {
    const d = tmp();
    const now = Date.now();
    const old = put(path.join(d, 'preview/old.png'), 100, 2 * HOUR, now);
    const fresh = [1, 2, 3].map((i) => put(path.join(d, `preview/new${i}.png`), 100, i * 60e3, now));
    const r = await pruneCache(d, { maxBytes: 150 * KB, now }); // default minimum age: 10 minutes
    expect(r.removed).toBe(1);
    expect(exists(old)).toBe(false);
    expect(fresh.every(exists)).toBe(true);
  });

  it('keeps files used since keepSince, however old the cap says they are', async () => {
    const d = tmp();
    const now = Date.now();
    const before = put(path.join(d, 'display/before.jpg'), 100, 3 * HOUR, now);
    const during = [1, 2].map((i) => put(path.join(d, `display/during${i}.jpg`), 100, i * HOUR, now));
    const r = await pruneCache(d, { maxBytes: 100 * KB, now, keepSince: now - 2.5 * HOUR });
    expect(r.removed).toBe(1);
    expect(exists(before)).toBe(false);
    expect(during.every(exists)).toBe(true);
  });

  it('never follows a symbolic link out of the cache', async () => {
    const d = tmp();
    const outside = put(path.join(tmp(), 'keeper.jpg'), 300, 10 * HOUR);
    fs.mkdirSync(path.join(d, 'display'), { recursive: true });
    fs.symlinkSync(outside, path.join(d, 'display/link.jpg'));
    fs.symlinkSync(path.dirname(outside), path.join(d, 'linked-folder'));
    put(path.join(d, 'display/a.jpg'), 100, HOUR);
    const r = await pruneCache(d, { maxBytes: 50 * KB });
    expect(r.files).toBe(1);
    expect(exists(outside)).toBe(true);
  });

  it('treats a missing folder as empty', async () => {
    expect(await pruneCache(path.join(tmp(), 'nope'), { maxBytes: 1 })).toMatchObject({ files: 0, removed: 0 });
  });
});

describe('cacheMaxBytesFromEnv', () => {
  it('reads RESTORA_CACHE_MB, defaults when unset and refuses nonsense with E_USAGE', () => {
    expect(cacheMaxBytesFromEnv({})).toBe(DEFAULT_CACHE_MB * 1024 * 1024);
    expect(cacheMaxBytesFromEnv({ RESTORA_CACHE_MB: '1.5' })).toBe(Math.round(1.5 * 1024 * 1024));
    for (const bad of ['0', '-3', 'lots', 'NaN']) {
      expect(() => cacheMaxBytesFromEnv({ RESTORA_CACHE_MB: bad })).toThrow(expect.objectContaining({ code: 'E_USAGE', message: expect.stringContaining('RESTORA_CACHE_MB') }));
    }
  });
});

describe('CacheKeeper', () => {
  it('prunes again once a tenth of the cap has been written, one prune at a time', async () => {
    const d = tmp();
    const k = new CacheKeeper(d, 1000 * KB, () => undefined, 0);
    for (let i = 0; i < 15; i++) put(path.join(d, `preview/p${i}.png`), 100, (20 - i) * HOUR);
    k.added(50 * KB); // under a tenth: no prune yet
    await k.idle();
    expect(fs.readdirSync(path.join(d, 'preview'))).toHaveLength(15);
    k.added(60 * KB);
    k.added(100 * KB); // while the first prune runs: queued, not doubled
    await k.idle();
    const left = fs.readdirSync(path.join(d, 'preview')).sort();
    expect(left).toHaveLength(8); // 1500 KB -> 800 KB, oldest (p0 ...) first
    expect(left).not.toContain('p0.png');
    expect(left).toContain('p14.png');
  });

  it('never removes what was used after it started', async () => {
    const d = tmp();
    const k = new CacheKeeper(d, 100 * KB, () => undefined, 0);
    const old = put(path.join(d, 'display/old.jpg'), 100, HOUR);
    await new Promise((r) => setTimeout(r, 20));
    const fresh = [1, 2, 3].map((i) => put(path.join(d, `display/new${i}.jpg`), 100, 0));
    await k.prune();
    expect(exists(old)).toBe(false);
    expect(fresh.every(exists)).toBe(true);
  });
});

describe('the engine keeps its cache under the cap', () => {
  it('prunes old display copies and previews when the window uses the cache, and keeps the one just made', async () => {
    const d = tmp();
    const cache = path.join(d, 'data/cache');
    const stale = Array.from({ length: 6 }, (_, i) => put(path.join(cache, i % 2 ? 'preview' : 'display', `stale${i}.png`), 100, (i + 2) * 24 * HOUR));
    await sharpOf(photoLike(300, 200, 3)).jpeg({ quality: 90 }).toFile(path.join(d, 'photo.jpg'));
    const engine = await createEngine({ modelsDir: FIXTURE_MODELS, userModelsDir: path.join(d, 'models'), dataDir: path.join(d, 'data'), cacheMaxBytes: 250 * KB });
    // nothing is pruned before the cache is used (the CLI never uses it)
    expect(stale.every(exists)).toBe(true);
    const info = await engine.imageInfo(path.join(d, 'photo.jpg'));
    await engine.close(); // waits for the prune
    expect(exists(info.displayPath)).toBe(true);
    // 600 KB of stale files under a 250 KB cap: the oldest go until at most 200 KB are left
    expect(stale.map(exists)).toEqual([true, false, false, false, false, false]);
  });

  it('refuses a cap that is not a positive number', async () => {
    await expect(createEngine({ modelsDir: FIXTURE_MODELS, dataDir: tmp(), cacheMaxBytes: 0 })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
