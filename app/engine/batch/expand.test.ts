import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expand, rootOf } from './expand.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'restora-expand-'));
  const root = path.join(dir, 'trip');
  const put = async (rel: string, bytes = 'x') => {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), bytes);
  };
  await put('a.jpg', 'aaaa');
  await put('B.JPG');
  await put('notes.txt');
  await put('.hidden.jpg');
  await put('._a.jpg'); // macOS resource fork
  await put('.a.jpg.123-0.tmp'); // a writer temp
  await put('day1/c.png');
  await put('day1/deep/d.tiff');
  await put('restored/a.jpg'); // our own default output folder
  await put('mine/.restora-batch-0123456789abcdef.json', '{}'); // an --out folder of an earlier run
  await put('mine/x.png');
  await put('custom-out/y.png');
  await mkdir(path.join(dir, 'outside'));
  await writeFile(path.join(dir, 'outside', 'secret.png'), 'x');
  await symlink(path.join(dir, 'outside'), path.join(root, 'link-out')); // leads out of the root
  await symlink(path.join(root, 'day1'), path.join(root, 'link-in')); // stays inside (same files)
  await symlink(root, path.join(root, 'day1', 'loop')); // a loop
  await symlink(path.join(root, 'missing'), path.join(root, 'dangling.jpg'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('expand', () => {
  it('walks folders recursively, keeps paths relative to the dropped root and filters images', async () => {
    const root = path.join(dir, 'trip');
    const { files, errors, ignored } = await expand([root], true, { exclude: [path.join(root, 'custom-out')] });
    expect(errors).toEqual([]);
    // left out on purpose, and said: the one non-image (hidden files and our output folders are not counted)
    expect(ignored).toEqual({ files: 1, byExtension: { '.txt': 1 }, folders: 0 });
    expect(files.map((f) => f.rel)).toEqual(['B.JPG', 'a.jpg', path.join('day1', 'c.png'), path.join('day1', 'deep', 'd.tiff')]);
    const a = files.find((f) => f.rel === 'a.jpg')!;
    expect(a.path).toBe(path.join(root, 'a.jpg'));
    expect(a.size).toBe(4);
    for (const f of files) expect(rootOf(f)).toBe(root);
  });

  it('does not walk sub-folders unless recursive', async () => {
    const { files, ignored } = await expand([path.join(dir, 'trip')], false, { exclude: [path.join(dir, 'trip', 'custom-out')] });
    expect(files.map((f) => f.rel)).toEqual(['B.JPG', 'a.jpg']);
    // day1, mine and link-in (a link to day1) were not walked; restored and the excluded folder are not counted
    expect(ignored.folders).toBe(3);
  });

  it('takes named files as given (rel = base name) and reports missing or non-image paths', async () => {
    const missing = path.join(dir, 'nope', 'gone.jpg');
    const { files, errors } = await expand([path.join(dir, 'trip', 'day1', 'c.png'), missing, path.join(dir, 'trip', 'notes.txt')]);
    expect(files).toHaveLength(1);
    expect(files[0].rel).toBe('c.png');
    expect(rootOf(files[0])).toBe(path.join(dir, 'trip', 'day1'));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatchObject({ code: 'E_NOT_FOUND', file: missing });
    expect(errors[0].message).toContain('gone.jpg');
    expect(errors[0].message).toContain('does not exist');
    expect(errors[1]).toMatchObject({ code: 'E_UNSUPPORTED' });
    expect(errors[1].message).toContain('notes.txt');
  });

  it('a name that is not UTF-8 is said as such (E_UNSUPPORTED, rename it), not as a file that "does not exist"; the rest is walked', async () => {
    const old = path.join(dir, 'old-archive');
    await mkdir(old);
    await writeFile(path.join(old, 'good.jpg'), 'x');
    // "café.jpg" saved as Latin-1 (0xE9), as an old Windows or SMB archive has it
    const { writeFileSync } = await import('node:fs');
    writeFileSync(Buffer.concat([Buffer.from(old + '/caf'), Buffer.from([0xe9]), Buffer.from('.jpg')]), 'x');
    writeFileSync(Buffer.concat([Buffer.from(old + '/r'), Buffer.from([0xe9]), Buffer.from('sum')]), 'x'); // not a photo: left out and counted
    const r = await expand([old], true);
    expect(r.files.map((f) => f.rel)).toEqual(['good.jpg']);
    expect(r.ignored).toMatchObject({ files: 1, byExtension: { '(none)': 1 } });
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].code).toBe('E_UNSUPPORTED');
    expect(r.errors[0].message).toMatch(/caf\uFFFD\.jpg cannot be opened: its name is not valid UTF-8 .* rename it and add it again$/);
  });

  it('keeps a file reached twice only once', async () => {
    const root = path.join(dir, 'trip');
    const { files } = await expand([path.join(root, 'a.jpg'), root], false);
    expect(files.filter((f) => f.path.endsWith('a.jpg'))).toHaveLength(1);
  });

  it('never follows a link out of the root, and ends on link loops', async () => {
    const { files } = await expand([path.join(dir, 'trip')], true);
    expect(files.some((f) => f.path.includes('secret'))).toBe(false);
    // link-in points at day1 (inside the root): its files are already there, so they appear once
    expect(files.filter((f) => f.path.endsWith('c.png'))).toHaveLength(1);
  });

  it('a named folder that is our output folder is walked when the user names it', async () => {
    const { files } = await expand([path.join(dir, 'trip', 'mine')]);
    expect(files.map((f) => f.rel)).toEqual(['x.png']);
  });
});
