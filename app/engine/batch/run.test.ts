import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventPayload, StepUsed } from '../../contract/index.ts';
import { SkipList, type BatchOptions, type EngineCore } from '../api.ts';
import { decode } from '../image/decode.ts';
import { readJournal } from './journal.ts';
import { writerFormat } from './naming.ts';
import { type DirFs, isStaleTemp, makeOutputDir, outputDirProblem, pidAlive, probeOutputDir, procShowsOurPids, runBatch, withRoots } from './run.ts';
import { fakeCore, makeTestImage } from './testing/fake-core.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const recipe: BatchOptions['recipe'] = [{ task: 'denoise', sigma: 10 }];
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'restora-batch-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function snapshot(files: string[]): Promise<string[]> {
  return Promise.all(
    files.map(async (f) => {
      const st = await stat(f);
      const h = createHash('sha256').update(await readFile(f)).digest('hex');
      return `${f} ${h} ${st.size} ${st.mtimeMs} ${st.ino}`;
    }),
  );
}

async function photos(names: string[], sub = 'in'): Promise<string[]> {
  const out: string[] = [];
  let seed = 1;
  for (const n of names) {
    const p = path.join(dir, sub, n);
    await mkdir(path.dirname(p), { recursive: true });
    await makeTestImage(p, seed++);
    out.push(p);
  }
  return out;
}

/** All files under a folder, relative, sorted (hidden ones included). */
async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(path.relative(root, p));
    }
  };
  await walk(root);
  return out.sort();
}

async function maxDiffInverted(input: string, output: string): Promise<number> {
  const a = await sharp(input).removeAlpha().raw().toBuffer();
  const b = await sharp(output).removeAlpha().raw().toBuffer();
  expect(b.length).toBe(a.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(255 - a[i] - b[i]));
  return m;
}

describe('runBatch', () => {
  it('mirrors the input tree under <folder>/restored, with suffix and format, and writes a journal and a report', async () => {
    const inputs = await photos(['a.png', 'sub/b.png', 'sub/deeper/c.jpg']);
    const before = await snapshot(inputs);
    const core = fakeCore();
    const report = await runBatch(core, { files: [path.join(dir, 'in')], recipe, output: { suffix: '-r', format: 'png' } });
    expect(report).toMatchObject({ total: 3, done: 3, failed: 0, skipped: 0, cancelled: false });
    const out = path.join(dir, 'in', 'restored');
    const listed = await tree(out);
    expect(listed.filter((f) => !f.startsWith('.') && !f.startsWith('restora-report'))).toEqual(['a-r.png', 'sub/b-r.png', 'sub/deeper/c-r.png']);
    expect(listed.some((f) => f.startsWith('.restora-batch-') && f.endsWith('.json'))).toBe(true);
    expect(listed.some((f) => f.endsWith('.tmp'))).toBe(false);
    expect(await maxDiffInverted(inputs[0], path.join(out, 'a-r.png'))).toBeLessThanOrEqual(1);
    expect(report.journal).toBeDefined();
    const j = await readJournal(report.journal!, path.basename(report.journal!).slice('.restora-batch-'.length, -'.json'.length));
    expect(j?.entries).toHaveLength(3);
    for (const e of j!.entries) {
      expect(e.status).toBe('done');
      const st = await stat(e.output!);
      expect(e.outputSize).toBe(st.size);
      expect(e.outputHash).toBe('sha256:' + createHash('sha256').update(await readFile(e.output!)).digest('hex'));
    }
    const saved = JSON.parse(await readFile(report.report!, 'utf8'));
    expect(saved.files).toHaveLength(3);
    expect(await snapshot(inputs)).toEqual(before);
  });

  it('files sent one by one with the folder they were added from keep its tree, as a named folder does', async () => {
    // a memory card: the same camera names in two folders, and one photo at the top
    const files = await photos(['100CANON/IMG_0001.png', '101CANON/IMG_0001.png', 'cover.png'], 'card');
    const card = path.join(dir, 'card');
    const out = path.join(dir, 'out');
    const named = await runBatch(fakeCore(), { files: [card], recipe, output: { dir: path.join(dir, 'named') }, resume: false });
    const sent = await runBatch(fakeCore(), { files, roots: [card], recipe, output: { dir: out }, resume: false });
    expect(sent.done).toBe(3);
    expect(sent.files.map((f) => path.relative(out, f.output!)).sort()).toEqual(named.files.map((f) => path.relative(path.join(dir, 'named'), f.output!)).sort());
    expect(sent.files.map((f) => path.relative(out, f.output!)).sort()).toEqual([path.join('100CANON', 'IMG_0001.png'), path.join('101CANON', 'IMG_0001.png'), 'cover.png']);
    // without an output folder: one `restored` folder in the added folder, the tree below it
    const beside = await runBatch(fakeCore(), { files, roots: [card], recipe, output: {}, resume: false });
    expect(beside.files.map((f) => path.relative(card, f.output!)).sort()).toEqual([path.join('restored', '100CANON', 'IMG_0001.png'), path.join('restored', '101CANON', 'IMG_0001.png'), path.join('restored', 'cover.png')]);
    // without roots, as before: flat, and the second IMG_0001 numbered
    const flat = await runBatch(fakeCore(), { files, recipe, output: { dir: path.join(dir, 'flat') }, resume: false });
    expect(flat.files.map((f) => path.basename(f.output!)).sort()).toEqual(['IMG_0001-1.png', 'IMG_0001.png', 'cover.png']);
  });

  it('keeps the format the name says: a JPEG named .png comes out a real PNG named .png', async () => {
    const [jpg] = await photos(['a.jpg']);
    const wrong = path.join(dir, 'in', 'mislabelled.png');
    await writeFile(wrong, await readFile(jpg));
    expect((await sharp(wrong).metadata()).format).toBe('jpeg');
    const r = await runBatch(fakeCore(), { files: [wrong], recipe, output: {}, resume: false });
    expect(r.done).toBe(1);
    expect(path.basename(r.files[0].output!)).toBe('mislabelled.png');
    expect((await sharp(r.files[0].output!).metadata()).format).toBe('png');
    expect(writerFormat('x.HEIC', 'keep', 'heif')).toBe('avif');
    expect(writerFormat('x.JPE', 'keep', 'jpeg')).toBe('jpeg');
    expect(writerFormat('x.tiff', 'keep', 'tiff')).toBe('tiff');
    expect(writerFormat('x.jpg', 'png', 'jpeg')).toBe('png');
  });

  it('says when a JPEG output lost transparency (flattened onto white), and only then', async () => {
    const rgba = Buffer.alloc(32 * 24 * 4, 200);
    for (let i = 0; i < 32 * 24; i++) rgba[4 * i + 3] = i % 2 ? 255 : 0;
    await mkdir(path.join(dir, 'in'), { recursive: true });
    await sharp(rgba, { raw: { width: 32, height: 24, channels: 4 } }).png().toFile(path.join(dir, 'in', 'cut.png'));
    const [plain] = await photos(['plain.png']);
    const core = { ...fakeCore(), readImage: (f: string) => decode(f) };
    const r = await runBatch(core, { files: [path.join(dir, 'in', 'cut.png'), plain], recipe, output: { format: 'jpeg' }, resume: false });
    const byName = new Map(r.files.map((f) => [path.basename(f.input), f]));
    expect(byName.get('cut.png')!.notes).toEqual(['transparency flattened onto white (JPEG has none)']);
    expect(byName.get('plain.png')!.notes).toBeUndefined();
    // as PNG it keeps its transparency: nothing to say
    const png = await runBatch(core, { files: [path.join(dir, 'in', 'cut.png')], recipe, output: { format: 'png', suffix: '-p' }, resume: false });
    expect(png.files[0].notes).toBeUndefined();
  });

  it('withRoots: the nearest root names a file; files outside every root, and look-alike prefixes, keep their rel', () => {
    const e = (p: string) => ({ path: p, rel: path.basename(p), size: 1 });
    const a = path.resolve('/card/100CANON/sub/a.jpg');
    const b = path.resolve('/card-2/b.jpg');
    const c = path.resolve('/card/..dots/c.jpg');
    const got = withRoots([e(a), e(b), e(c)], ['/card', '/card/100CANON']);
    expect(got.map((f) => f.rel)).toEqual([path.join('sub', 'a.jpg'), 'b.jpg', path.join('..dots', 'c.jpg')]);
  });

  it('never overwrites: collisions get -1, -2 unless overwrite is set', async () => {
    const [a, aJpg] = await photos(['a.png', 'a.jpg']);
    const out = path.join(dir, 'out');
    await mkdir(out);
    await writeFile(path.join(out, 'a.png'), 'not ours');
    const report = await runBatch(fakeCore(), { files: [a, aJpg], recipe, output: { dir: out, format: 'png' }, resume: false });
    expect(report.done).toBe(2);
    const outputs = report.files.map((f) => path.basename(f.output!)).sort();
    expect(outputs).toEqual(['a-1.png', 'a-2.png']);
    expect(await readFile(path.join(out, 'a.png'), 'utf8')).toBe('not ours');

    // overwrite replaces Restora's own output (a-1.png, in the first batch's journal), not the file that only shares the name
    const before = (await stat(path.join(out, 'a-1.png'))).ino;
    const again = await runBatch(fakeCore(), { files: [a], recipe, output: { dir: out, format: 'png', overwrite: true }, resume: false });
    expect(again.files[0]).toMatchObject({ output: path.join(out, 'a-1.png'), renamed: true });
    expect((await stat(path.join(out, 'a-1.png'))).ino).not.toBe(before); // written anew
    expect(await maxDiffInverted(a, path.join(out, 'a-1.png'))).toBeLessThanOrEqual(1);
    expect(await readFile(path.join(out, 'a.png'), 'utf8')).toBe('not ours');
  });

  it('overwrite never replaces a photo that only shares the name: it gets a number, and the report says so', async () => {
    // ow/src/IMG_0001.jpg processed into ow/album, where another photo is called IMG_0001.jpg
    const [src] = await photos(['IMG_0001.jpg'], 'ow/src');
    const [album] = await photos(['IMG_0001.jpg', 'IMG_0002.jpg'], 'ow/album');
    const before = await snapshot([album]);
    const r = await runBatch(fakeCore(), { files: [path.join(dir, 'ow', 'src')], recipe, output: { dir: path.join(dir, 'ow', 'album'), overwrite: true } });
    expect(r.done).toBe(1);
    expect(await snapshot([album])).toEqual(before);
    expect(r.files[0]).toMatchObject({ output: path.join(dir, 'ow', 'album', 'IMG_0001-1.jpg'), renamed: true });
    // run again with --overwrite: the output it made is replaced in place, the album photo still kept
    const again = await runBatch(fakeCore(), { files: [src], recipe, output: { dir: path.join(dir, 'ow', 'album'), overwrite: true } });
    expect(again.files[0]).toMatchObject({ output: path.join(dir, 'ow', 'album', 'IMG_0001-1.jpg') });
    expect(await snapshot([album])).toEqual(before);
  });

  it("overwrite replaces another batch's output while it is unchanged; once the user changed it, it is kept", async () => {
    const [a] = await photos(['a.png']);
    const out = path.join(dir, 'out');
    await runBatch(fakeCore(), { files: [a], recipe, output: { dir: out, suffix: '' } });
    // another command (another journal) with the same output name
    const other = { files: [path.join(dir, 'in')], recipe, output: { dir: out, overwrite: true } };
    const r = await runBatch(fakeCore(), other);
    expect(r.files[0]).toMatchObject({ output: path.join(out, 'a.png') });
    expect(r.files[0].renamed).toBeUndefined();
    // the user edits the output and saves over it: no longer Restora's bytes
    await writeFile(path.join(out, 'a.png'), 'retouched by hand');
    const r2 = await runBatch(fakeCore(), { ...other, files: [a] });
    expect(r2.files[0]).toMatchObject({ output: path.join(out, 'a-1.png'), renamed: true });
    expect(await readFile(path.join(out, 'a.png'), 'utf8')).toBe('retouched by hand');
  });

  it('overwrite: a foreign file that takes the name after the batch began is kept too', async () => {
    const [a] = await photos(['a.png']);
    const out = path.join(dir, 'out');
    const r = await runBatch(fakeCore({ onRead: () => writeFileSync(path.join(out, 'a.png'), 'not ours') }), { files: [a], recipe, output: { dir: out, overwrite: true } });
    expect(r.files[0]).toMatchObject({ output: path.join(out, 'a-1.png'), renamed: true });
    expect(await readFile(path.join(out, 'a.png'), 'utf8')).toBe('not ours');
  });

  it('refuses an output that would be an input (same path, hardlink or symlink), even with overwrite', async () => {
    const [a, b, c] = await photos(['a.png', 'b.png', 'c.png']);
    const out = path.join(dir, 'out');
    await mkdir(out);
    await link(b, path.join(out, 'b.png'));
    await symlink(c, path.join(out, 'c.png'));
    const before = await snapshot([a, b, c]);
    const same = await runBatch(fakeCore(), { files: [a], recipe, output: { dir: path.join(dir, 'in'), overwrite: true } });
    expect(same.failed).toBe(1);
    expect(same.files[0].error).toMatchObject({ code: 'E_WRITE', file: a });
    expect(same.files[0].error!.message).toMatch(/a\.png.*replace the original/);
    const linked = await runBatch(fakeCore(), { files: [b, c], recipe, output: { dir: out, overwrite: true } });
    expect(linked.failed).toBe(2);
    expect(linked.files.map((f) => f.error?.code)).toEqual(['E_WRITE', 'E_WRITE']);
    expect(await snapshot([a, b, c])).toEqual(before);
  });

  it("never writes over the recipe's mask, even with overwrite; the mask itself stays writable for the app", async () => {
    const [a] = await photos(['a.png']);
    const out = path.join(dir, 'out');
    await mkdir(out);
    const mask = path.join(out, 'a.png'); // where a's output would go
    await makeTestImage(mask, 9);
    const before = await snapshot([a, mask]);
    const r = await runBatch(fakeCore(), { files: [a], recipe: [{ task: 'inpaint', mask }], output: { dir: out, overwrite: true } });
    expect(r.failed).toBe(1);
    expect(r.files[0].error).toMatchObject({ code: 'E_WRITE' });
    expect(await snapshot([a, mask])).toEqual(before);
    // decoding it as a mask does not make it an original: the app saves a repainted mask over it
    const { decodeMask } = await import('../image/decode.ts');
    const { writeFileAtomic } = await import('../image/writer.ts');
    const m = await decode(mask);
    await expect(decodeMask(mask, m.width, m.height).then(() => writeFileAtomic(mask, Buffer.from('repainted')))).rejects.toThrow(/refusing to write over the original/); // decoded as a photo above: an original
    const other = path.join(dir, 'other-mask.png');
    await makeTestImage(other, 10);
    const o = await decode(other, { markAsInput: false });
    await decodeMask(other, o.width, o.height);
    await writeFileAtomic(other, Buffer.from('repainted'));
    expect(await readFile(other, 'utf8')).toBe('repainted');
  });

  it('a mask painted again at the same path is new work: the rerun renders, beside the first result', async () => {
    const [a] = await photos(['a.png']);
    const mask = path.join(dir, 'mask.png');
    const m = await decode(a, { markAsInput: false });
    await sharp(Buffer.alloc(m.width * m.height, 0), { raw: { width: m.width, height: m.height, channels: 1 } }).png().toFile(mask);
    const inpaint: BatchOptions['recipe'] = [{ task: 'inpaint', mask }];
    const first = await runBatch(fakeCore(), { files: [a], recipe: inpaint, output: { format: 'png' } });
    expect(first.files[0].status).toBe('done');
    const same = await runBatch(fakeCore(), { files: [a], recipe: inpaint, output: { format: 'png' } });
    expect(same.files[0].status).toBe('skipped'); // nothing changed: resumed as finished
    await sharp(Buffer.alloc(m.width * m.height, 255), { raw: { width: m.width, height: m.height, channels: 1 } }).png().toFile(mask);
    const repainted = await runBatch(fakeCore(), { files: [a], recipe: inpaint, output: { format: 'png' } });
    expect(repainted.files[0].status).toBe('done');
    expect(repainted.files[0].output).not.toBe(first.files[0].output);
  });

  it('one bad file does not stop the batch; the report names it with code and reason', async () => {
    const good = await photos(['1.png', '3.png']);
    const bad = path.join(dir, 'in', '2.png');
    await writeFile(bad, Buffer.from('\x89PNG\r\n\x1a\n garbage'));
    const empty = path.join(dir, 'in', '4.jpg');
    await writeFile(empty, '');
    const missing = path.join(dir, 'in', 'missing.png');
    const events: string[] = [];
    const report = await runBatch(fakeCore(), {
      files: [...good, bad, empty, missing],
      recipe,
      output: {},
      onEvent: (name, p) => {
        if (name === 'file.progress') {
          const fp = p as EventPayload<'file.progress'>;
          if (fp.status !== 'running') events.push(`${path.basename(fp.input)}:${fp.status}`);
        }
      },
    });
    expect(report).toMatchObject({ total: 5, done: 2, failed: 3 });
    const byName = new Map(report.files.map((f) => [path.basename(f.input), f]));
    expect(byName.get('2.png')).toMatchObject({ status: 'failed', error: { code: 'E_DECODE' } });
    expect(byName.get('2.png')!.error!.message).toContain('2.png');
    expect(byName.get('4.jpg')).toMatchObject({ status: 'failed', error: { code: 'E_DECODE' } });
    expect(byName.get('missing.png')).toMatchObject({ status: 'failed', error: { code: 'E_NOT_FOUND' } });
    expect(byName.get('3.png')!.status).toBe('done');
    expect(events).toEqual(['1.png:done', '3.png:done', '2.png:failed', '4.jpg:failed']);
    // nothing was written for the bad ones
    const listed = await tree(path.join(dir, 'in', 'restored'));
    expect(listed.filter((f) => f.endsWith('.png') || f.endsWith('.jpg'))).toEqual(['1.png', '3.png']);
  });

  it('resumes: done outputs are verified and skipped; missing or changed ones are redone', async () => {
    const inputs = await photos(['a.png', 'b.png', 'c.png', 'd.png']);
    const opts: BatchOptions = { files: [path.join(dir, 'in')], recipe, output: { suffix: '-r' } };
    const first = await runBatch(fakeCore(), opts);
    expect(first.done).toBe(4);
    const out = path.join(dir, 'in', 'restored');
    await rm(path.join(out, 'b-r.png')); // lost output: redone under its name
    await writeFile(path.join(out, 'c-r.png'), 'edited by someone'); // changed: left alone, redone beside it
    const t = new Date(Date.now() + 5000);
    await utimes(inputs[3], t, t); // input changed since: redone in place
    const core = fakeCore();
    const second = await runBatch(core, opts);
    expect(core.reads.map((f) => path.basename(f)).sort()).toEqual(['b.png', 'c.png', 'd.png']);
    expect(second).toMatchObject({ total: 4, done: 3, skipped: 1, failed: 0 });
    const byName = new Map(second.files.map((f) => [path.basename(f.input), f]));
    expect(byName.get('a.png')).toMatchObject({ status: 'skipped', output: path.join(out, 'a-r.png') });
    expect(byName.get('b.png')!.output).toBe(path.join(out, 'b-r.png'));
    expect(byName.get('c.png')!.output).toBe(path.join(out, 'c-r-1.png'));
    expect(byName.get('d.png')!.output).toBe(path.join(out, 'd-r.png'));
    expect(await readFile(path.join(out, 'c-r.png'), 'utf8')).toBe('edited by someone');
    // and a third run has nothing left to do
    const core3 = fakeCore();
    const third = await runBatch(core3, opts);
    expect(core3.reads).toEqual([]);
    expect(third.skipped).toBe(4);
    // resume: false starts afresh, and never overwrites the earlier outputs
    const fresh = await runBatch(fakeCore(), { ...opts, files: [inputs[0]], resume: false });
    expect(path.basename(fresh.files[0].output!)).toBe('a-r-1.png');
  });

  it('a photo skipped while the batch runs is left untouched (not started, or stopped after its tile), and the batch goes on', async () => {
    const [a, b, c, d] = await photos(['a.png', 'b.png', 'c.png', 'd.png']);
    const skips = new SkipList();
    const onEvent: BatchOptions['onEvent'] = (name, p) => {
      const f = p as EventPayload<'file.progress'>;
      // b is skipped while it runs (its first tile), d before its turn
      if (name === 'file.progress' && f.input === b && f.status === 'running' && f.progress > 0) skips.add(b);
      if (name === 'file.progress' && f.input === a && f.status === 'done') skips.add(d);
    };
    const core = fakeCore({ tileDelayMs: 30 });
    const report = await runBatch(core, { files: [a, b, c, d], recipe, output: { dir: path.join(dir, 'out') }, onEvent, skips });
    expect(report.files.map((f) => [path.basename(f.input), f.status])).toEqual([['a.png', 'done'], ['b.png', 'cancelled'], ['c.png', 'done'], ['d.png', 'cancelled']]);
    expect(report.cancelled).toBe(false);
    expect(core.reads).not.toContain(d); // never started
    expect((await readdir(path.join(dir, 'out'))).filter((f) => f.endsWith('.png')).sort()).toEqual(['a.png', 'c.png']); // with --out the names stay
    // a rerun does the skipped ones
    const again = await runBatch(fakeCore(), { files: [a, b, c, d], recipe, output: { dir: path.join(dir, 'out') } });
    expect(again.files.map((f) => f.status)).toEqual(['skipped', 'done', 'skipped', 'done']);
  });

  it('a photo saved over while it is processed gets its result with a note, and the next run makes it again', async () => {
    const [a, b] = await photos(['a.png', 'b.png']);
    const core = fakeCore({
      onRead: (f) => {
        if (f === b) {
          const later = new Date(Date.now() + 5000);
          utimesSync(b, later, later); // an editor saves it as the batch reads it
        }
      },
    });
    const out = path.join(dir, 'out');
    const first = await runBatch(core, { files: [a, b], recipe, output: { dir: out } });
    expect(first.files.map((f) => f.status)).toEqual(['done', 'done']);
    expect(first.files[0].notes).toBeUndefined();
    expect(first.files[1].notes).toEqual(['the photo changed while it was processed: this result is of the version read before; run it again (Run on selected) for the new one']);
    const again = await runBatch(fakeCore(), { files: [a, b], recipe, output: { dir: out } });
    expect(again.files.map((f) => f.status)).toEqual(['skipped', 'done']);
    // saved over before its turn (while a.png is read): its result is of the new version, no note, and a rerun skips it
    const [c, d] = await photos(['c.png', 'd.png'], 'in2');
    const early = fakeCore({
      onRead: (f) => {
        if (f === c) {
          const later = new Date(Date.now() + 9000);
          utimesSync(d, later, later);
        }
      },
    });
    const out2 = path.join(dir, 'out2');
    const third = await runBatch(early, { files: [c, d], recipe, output: { dir: out2 } });
    expect(third.files.map((f) => f.notes)).toEqual([undefined, undefined]);
    expect((await runBatch(fakeCore(), { files: [c, d], recipe, output: { dir: out2 } })).files.map((f) => f.status)).toEqual(['skipped', 'skipped']);
  });

  it('progress and ETA weigh the photos left by their size: a 256 px photo left is 64 times a 32 px one', async () => {
    const [a] = await photos(['a.png', 'b.png']);
    const c = path.join(dir, 'in', 'c.png');
    await makeTestImage(c, 3, 256);
    const progress: EventPayload<'batch.progress'>[] = [];
    const fileDone: string[] = [];
    const onEvent: BatchOptions['onEvent'] = (name, p) => {
      if (name === 'batch.progress') progress.push({ ...(p as EventPayload<'batch.progress'>), done: fileDone.length });
      if (name === 'file.progress' && (p as EventPayload<'file.progress'>).status === 'done') fileDone.push((p as EventPayload<'file.progress'>).input);
    };
    // 50 ms a tile: the three headers (read beside the work, a few ms) are in long before a.png is done
    const report = await runBatch(fakeCore({ tileDelayMs: 50 }), { files: [path.join(dir, 'in')], recipe, output: { dir: path.join(dir, 'out') }, onEvent });
    expect(report.done).toBe(3);
    expect(fileDone[0]).toBe(a);
    // right after a.png (32 x 32) is done: by count a third of the work, by size 1024 of 67,584 pixels
    const afterA = progress.find((e) => e.done === 1)!;
    expect(afterA.progress).toBeLessThan(0.05);
    // and the time left is for b.png and the 64x larger c.png, not for two more files like a.png
    const aSeconds = report.files.find((f) => f.input === a)!.seconds!;
    expect(afterA.etaSeconds!).toBeGreaterThan(20 * aSeconds);
    expect(progress.map((e) => e.progress)).toEqual([...progress.map((e) => e.progress)].sort((x, y) => x - y)); // never backwards
    expect(progress[progress.length - 1].progress).toBe(1);
  });

  it('a rerun keeps what the skipped files\' earlier run recorded (output, steps, notes): report, report file and events; old journals still read', async () => {
    const [a, b] = await photos(['a.png', 'b.png']);
    const out = path.join(dir, 'out');
    // the real core fills the trace with what each step used; the fake one does not
    const used: StepUsed = { task: 'denoise', model: 'fake', ep: 'cpu', sigma: 12.5, sigmaBy: 'estimator', note: 'retried with smaller tiles' };
    const traced = (core: EngineCore): EngineCore => ({
      ...core,
      run: (img, r, o) => {
        (o as { trace?: StepUsed[] }).trace?.push({ ...used });
        return core.run(img, r, o);
      },
    });
    const opts: BatchOptions = { files: [a, b], recipe, output: { dir: out } };
    const first = await runBatch(traced(fakeCore()), opts);
    expect(first.files.map((f) => f.status)).toEqual(['done', 'done']);
    expect(first.files[0]).toMatchObject({ steps: [used], notes: ['denoise: retried with smaller tiles'] });

    const skippedEvents: EventPayload<'file.progress'>[] = [];
    const onEvent: BatchOptions['onEvent'] = (name, p) => {
      if (name === 'file.progress' && (p as EventPayload<'file.progress'>).status === 'skipped') skippedEvents.push(p as EventPayload<'file.progress'>);
    };
    const core = fakeCore();
    const second = await runBatch(traced(core), { ...opts, onEvent });
    expect(core.reads).toEqual([]);
    expect(second).toMatchObject({ done: 0, skipped: 2 });
    for (const [k, f] of second.files.entries()) {
      expect(f).toMatchObject({ status: 'skipped', output: first.files[k].output, steps: [used], notes: ['denoise: retried with smaller tiles'] });
    }
    expect(skippedEvents.map((e) => [path.basename(e.input), e.output, e.steps, e.notes])).toEqual([
      ['a.png', first.files[0].output, [used], ['denoise: retried with smaller tiles']],
      ['b.png', first.files[1].output, [used], ['denoise: retried with smaller tiles']],
    ]);
    // the report file, rewritten by the rerun, still says it
    expect(second.report).toBe(first.report);
    const saved = JSON.parse(await readFile(second.report!, 'utf8'));
    expect(saved).toMatchObject({ done: 0, skipped: 2 });
    expect(saved.files[0]).toMatchObject({ status: 'skipped', steps: [used], notes: ['denoise: retried with smaller tiles'] });

    // cancelled after its first file (Ctrl-C), then rerun: the file finished before the cancel keeps them too
    const ac = new AbortController();
    const cut: BatchOptions = { files: [a, b], recipe, output: { dir: path.join(dir, 'out2') } };
    const stopped = await runBatch(traced(fakeCore({ tileDelayMs: 5 })), {
      ...cut,
      signal: ac.signal,
      onEvent: (name, p) => {
        if (name === 'file.progress' && (p as EventPayload<'file.progress'>).status === 'done') ac.abort();
      },
    });
    expect(stopped.files.map((f) => f.status)).toEqual(['done', 'cancelled']);
    const resumed = await runBatch(traced(fakeCore()), cut);
    expect(resumed.files.map((f) => f.status)).toEqual(['skipped', 'done']);
    expect(resumed.files[0]).toMatchObject({ steps: [used], notes: ['denoise: retried with smaller tiles'] });

    // a journal from before steps were recorded, or holding what the contract does not allow: still resumed, skipped without them
    const j = JSON.parse(await readFile(second.journal!, 'utf8'));
    delete j.entries[0].steps;
    delete j.entries[0].notes;
    j.entries[1].steps = [{ task: 'sharpen' }];
    j.entries[1].notes = 'not a list';
    await writeFile(second.journal!, JSON.stringify(j));
    const third = await runBatch(fakeCore(), opts);
    expect(third).toMatchObject({ done: 0, skipped: 2, failed: 0 });
    for (const f of third.files) {
      expect(f.steps).toBeUndefined();
      expect(f.notes).toBeUndefined();
    }
  });

  it('a rerun with the outputs inside the input folder skips its own outputs (no recursion)', async () => {
    await photos(['a.png', 'b.png']);
    const folder = path.join(dir, 'in');
    const opts: BatchOptions = { files: [folder], recipe, output: { dir: folder, suffix: '-r' } };
    const first = await runBatch(fakeCore(), opts);
    expect(first.done).toBe(2);
    const core = fakeCore();
    const second = await runBatch(core, opts);
    expect(core.reads).toEqual([]);
    expect(second).toMatchObject({ total: 2, skipped: 2, failed: 0 });
    expect((await readdir(folder)).filter((f) => f.endsWith('.png')).sort()).toEqual(['a-r.png', 'a.png', 'b-r.png', 'b.png']);
  });

  it('removes stale temps of ours and redoes a claimed file whose output was renamed in before the crash', async () => {
    const [a, b] = await photos(['a.png', 'b.png']);
    const out = path.join(dir, 'out');
    const opts: BatchOptions = { files: [a, b], recipe, output: { dir: out } };
    await runBatch(fakeCore(), opts);
    const jFile = (await readdir(out)).find((f) => f.startsWith('.restora-batch-'))!;
    const j = JSON.parse(await readFile(path.join(out, jFile), 'utf8'));
    // as if killed: b was claimed (queued), its bytes recorded and published, but not recorded as done
    j.entries[1].status = 'queued';
    await writeFile(path.join(out, jFile), JSON.stringify(j));
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.on('exit', r));
    const stale = `.restora-${dead.pid}-0123456789ab.tmp`;
    const live = `.restora-${process.ppid}-0123456789ab.tmp`; // a running process's temp: not ours to remove
    await writeFile(path.join(out, stale), 'half written');
    await writeFile(path.join(out, live), 'being written');
    await writeFile(path.join(out, '.unrelated.tmp'), 'not ours');
    const core = fakeCore();
    const r = await runBatch(core, opts);
    expect(core.reads).toEqual([b]);
    expect(r.files.map((f) => path.basename(f.output!))).toEqual(['a.png', 'b.png']); // no b-1.png duplicate
    const listed = await readdir(out);
    expect(listed).not.toContain(stale);
    expect(listed).toContain(live);
    expect(listed).toContain('.unrelated.tmp');
  });

  it('a file that takes a claimed name while the batch runs is never replaced: the output gets the next number', async () => {
    const [a, b] = await photos(['a.png', 'b.png']);
    const out = path.join(dir, 'out');
    // someone saves a photo under a's output name after the batch claimed it, before a is written
    const core = fakeCore({ onRead: (f) => f === a && void writeFileSync(path.join(out, 'a.png'), 'not ours') });
    const events: EventPayload<'file.progress'>[] = [];
    const r = await runBatch(core, { files: [a, b], recipe, output: { dir: out }, onEvent: (n, e) => n === 'file.progress' && void events.push(e as EventPayload<'file.progress'>) });
    expect(r.done).toBe(2);
    expect(await readFile(path.join(out, 'a.png'), 'utf8')).toBe('not ours');
    expect(r.files.map((f) => path.basename(f.output!))).toEqual(['a-1.png', 'b.png']);
    expect(r.files.map((f) => f.renamed ?? false)).toEqual([true, false]);
    expect(events.find((e) => e.status === 'done' && e.input === a)).toMatchObject({ output: path.join(out, 'a-1.png'), renamed: true });
    expect(await maxDiffInverted(a, path.join(out, 'a-1.png'))).toBeLessThanOrEqual(1);
    // the journal names the file written, so the rerun verifies and skips it
    const j = JSON.parse(await readFile(r.journal!, 'utf8')) as { entries: { output: string }[] };
    expect(j.entries.map((e) => path.basename(e.output))).toEqual(['a-1.png', 'b.png']);
    expect(await runBatch(fakeCore(), { files: [a, b], recipe, output: { dir: out } })).toMatchObject({ done: 0, skipped: 2 });
    expect((await readdir(out)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('two batches writing into one folder at once keep every output (numbered), none replaced', async () => {
    const one = await photos(['a.png', 'b.png', 'c.png'], 'in1');
    const two = await photos(['a.png', 'b.png', 'c.png'], 'in2');
    const out = path.join(dir, 'out');
    // both claim their names before either writes (as two commands started together do)
    let planned = 0;
    let release!: () => void;
    const bothPlanned = new Promise<void>((r) => (release = r));
    const gated = () => {
      const core = fakeCore({ tileDelayMs: 2 });
      let first = true;
      return {
        ...core,
        readImage: async (f: string) => {
          if (first) {
            first = false;
            if (++planned === 2) release();
            await bothPlanned;
          }
          return core.readImage(f);
        },
      };
    };
    const [r1, r2] = await Promise.all([runBatch(gated(), { files: one, recipe, output: { dir: out } }), runBatch(gated(), { files: two, recipe, output: { dir: out } })]);
    expect(r1.done + r2.done).toBe(6);
    const outputs = [...r1.files, ...r2.files].map((f) => f.output!);
    expect(new Set(outputs).size).toBe(6);
    const photosOut = (await readdir(out)).filter((f) => f.endsWith('.png')).sort();
    expect(photosOut).toEqual(['a-1.png', 'a.png', 'b-1.png', 'b.png', 'c-1.png', 'c.png']);
    // each output holds its own input's result
    for (const [inputs, r] of [[one, r1], [two, r2]] as const) {
      for (const [i, f] of r.files.entries()) expect(await maxDiffInverted(inputs[i], f.output!), f.output).toBeLessThanOrEqual(1);
    }
  });

  it('a queued file whose claimed name now holds bytes it did not record is not replaced on the rerun', async () => {
    const [a, b] = await photos(['a.png', 'b.png']);
    const out = path.join(dir, 'out');
    const opts: BatchOptions = { files: [a, b], recipe, output: { dir: out } };
    const first = await runBatch(fakeCore(), opts);
    const jPath = first.journal!;
    const j = JSON.parse(await readFile(jPath, 'utf8'));
    // stopped with b claimed, and meanwhile someone else's file took b's name
    j.entries[1].status = 'queued';
    delete j.entries[1].outputHash;
    delete j.entries[1].outputSize;
    await writeFile(jPath, JSON.stringify(j));
    await writeFile(path.join(out, 'b.png'), 'not ours');
    const r = await runBatch(fakeCore(), opts);
    expect(r.files.map((f) => path.basename(f.output!))).toEqual(['a.png', 'b-1.png']);
    expect(await readFile(path.join(out, 'b.png'), 'utf8')).toBe('not ours');
  });

  if (process.platform === 'linux' && !procShowsOurPids()) {
    console.warn(`/proc here does not number processes as this process sees them (pid ${process.pid}): zombie test skipped, pidAlive uses signal 0 only`);
  }

  it.runIf(process.platform === 'linux' && procShowsOurPids())('a killed writer that is still a zombie counts as gone: its temp is stale', async () => {
    // after `kill -9` of the process group the worker waits for init to reap it, and signal 0 still
    // reaches a zombie: a resumed batch left its temp file (the reliability suite's kill-9-resume flaked).
    // The zombie's parent must be `sleep`, which never reaps: a shell reaps a background child that exits
    // before the shell has exec'd (the official CI, loaded, found no /proc entry that way). So the child
    // (`cat` on fd 3) may only exit after the exec: it waits for EOF on a pipe this test closes once
    // /proc says the shell has become `sleep`. The sleep outlasts the test and is killed at the end.
    const sh = spawn('sh', ['-c', 'cat <&3 >/dev/null & echo $!; exec sleep 60 3<&-'], { stdio: ['ignore', 'pipe', 'ignore', 'pipe'] });
    try {
      const zombie = Number(await new Promise<string>((r) => sh.stdout!.once('data', (d: Buffer) => r(String(d).trim()))));
      const comm = async () => (await readFile(`/proc/${sh.pid}/comm`, 'latin1').catch(() => '')).trim();
      for (let k = 0; k < 500 && (await comm()) !== 'sleep'; k++) await new Promise((r) => setTimeout(r, 20));
      expect(await comm()).toBe('sleep');
      (sh.stdio[3] as NodeJS.WritableStream).end(); // now the child may exit, under a parent that never reaps
      let state = '';
      for (let k = 0; k < 500 && state !== 'Z'; k++) {
        await new Promise((r) => setTimeout(r, 20));
        const st = await readFile(`/proc/${zombie}/stat`, 'latin1');
        state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
      }
      expect(state).toBe('Z');
      expect(() => process.kill(zombie, 0)).not.toThrow(); // what the old check relied on
      expect(pidAlive(zombie)).toBe(false);
      expect(isStaleTemp(`.restora-${zombie}-0123456789ab.tmp`)).toBe(true);
      expect(pidAlive(process.pid)).toBe(true);
    } finally {
      sh.kill('SIGKILL');
    }
  });

  it('cancels between tiles: the running and the remaining files are cancelled, and a rerun finishes them', async () => {
    await photos(['a.png', 'b.png', 'c.png']);
    const ac = new AbortController();
    const opts: BatchOptions = {
      files: [path.join(dir, 'in')],
      recipe,
      output: {},
      signal: ac.signal,
      onEvent: (name, p) => {
        if (name === 'file.progress' && (p as EventPayload<'file.progress'>).status === 'done') ac.abort();
      },
    };
    const r = await runBatch(fakeCore({ tileDelayMs: 5 }), opts);
    expect(r.cancelled).toBe(true);
    expect(r.files.map((f) => f.status)).toEqual(['done', 'cancelled', 'cancelled']);
    const core = fakeCore();
    const again = await runBatch(core, { ...opts, signal: undefined, onEvent: undefined });
    expect(core.reads.map((f) => path.basename(f))).toEqual(['b.png', 'c.png']);
    expect(again).toMatchObject({ done: 2, skipped: 1, cancelled: false });
  });

  it('--overwrite on a finished batch renders every file again, in place; on an interrupted one it resumes', async () => {
    await photos(['a.png', 'b.png', 'c.png']);
    const out = path.join(dir, 'out');
    const opts: BatchOptions = { files: [path.join(dir, 'in')], recipe, output: { dir: out, overwrite: true } };
    expect(await runBatch(fakeCore(), opts)).toMatchObject({ done: 3, skipped: 0 });
    const before = (await stat(path.join(out, 'a.png'))).ino;
    const core = fakeCore();
    const again = await runBatch(core, opts);
    expect(again).toMatchObject({ done: 3, skipped: 0 });
    expect(core.reads).toHaveLength(3);
    expect(again.files.map((f) => path.basename(f.output!)).sort()).toEqual(['a.png', 'b.png', 'c.png']);
    expect((await stat(path.join(out, 'a.png'))).ino).not.toBe(before); // written anew (temp, then rename)
    // without --overwrite, the finished batch is verified and skipped
    expect(await runBatch(fakeCore(), { ...opts, output: { dir: out } })).toMatchObject({ done: 0, skipped: 3 });

    // interrupted after its first file: the rerun with --overwrite does only the rest
    const ac = new AbortController();
    const out2 = path.join(dir, 'out2');
    const cut: BatchOptions = {
      ...opts,
      output: { dir: out2, overwrite: true },
      signal: ac.signal,
      onEvent: (name, p) => {
        if (name === 'file.progress' && (p as EventPayload<'file.progress'>).status === 'done') ac.abort();
      },
    };
    expect((await runBatch(fakeCore({ tileDelayMs: 5 }), cut)).cancelled).toBe(true);
    const resumed = fakeCore();
    expect(await runBatch(resumed, { ...cut, signal: undefined, onEvent: undefined })).toMatchObject({ done: 2, skipped: 1 });
    expect(resumed.reads.map((f) => path.basename(f))).toEqual(['b.png', 'c.png']);
  });

  it('reports progress and an ETA once a file is done', async () => {
    await photos(['a.png', 'b.png', 'c.png']);
    const batch: EventPayload<'batch.progress'>[] = [];
    const running: number[] = [];
    await runBatch(fakeCore({ tileDelayMs: 2 }), {
      files: [path.join(dir, 'in')],
      recipe,
      output: {},
      onEvent: (name, p) => {
        if (name === 'batch.progress') batch.push(p as EventPayload<'batch.progress'>);
        if (name === 'file.progress' && (p as EventPayload<'file.progress'>).status === 'running') running.push((p as EventPayload<'file.progress'>).progress);
      },
    });
    expect(batch[0].etaSeconds).toBeNull();
    const last = batch[batch.length - 1];
    expect(last).toMatchObject({ total: 3, done: 3, failed: 0, progress: 1, etaSeconds: 0 });
    expect(batch.some((b) => b.etaSeconds !== null && b.etaSeconds > 0)).toBe(true);
    for (let i = 1; i < batch.length; i++) expect(batch[i].progress).toBeGreaterThanOrEqual(batch[i - 1].progress - 1e-9);
    expect(Math.max(...running)).toBe(1);
  });

  it('stops after a full disk: the rest are reported, not attempted', async () => {
    await photos(['a.png', 'b.png', 'c.png']);
    const core = fakeCore({ failWrite: { match: /^b/, code: 'E_NO_SPACE' } });
    const r = await runBatch(core, { files: [path.join(dir, 'in')], recipe, output: {} });
    expect(r.files.map((f) => f.status)).toEqual(['done', 'failed', 'failed']);
    expect(r.files[2].error).toMatchObject({ code: 'E_NO_SPACE' });
    expect(r.files[2].error!.message).toMatch(/c\.png was not processed: the output disk is full/);
    expect(core.reads.map((f) => path.basename(f))).toEqual(['a.png', 'b.png']);
  });

  it('an output folder that cannot be created fails its files before any work', async () => {
    const [a] = await photos(['a.png']);
    await writeFile(path.join(dir, 'file'), 'x');
    const core = fakeCore();
    const r = await runBatch(core, { files: [a], recipe, output: { dir: path.join(dir, 'file', 'out') } });
    expect(r.failed).toBe(1);
    expect(r.files[0].error!.code).toMatch(/^E_(WRITE|READ_ONLY)$/);
    expect(r.files[0].error!.message).toContain('a.png was not processed');
    expect(core.reads).toEqual([]);
  });

  it('a missing output folder on a read-only mount is E_READ_ONLY naming the folder, not E_WRITE (ENOENT)', async () => {
    // Node's recursive mkdir says ENOENT there (plain mkdir and access say EROFS). Simulated: as
    // root a chmod 0o555 folder stays writable, and mounting one read-only needs privileges.
    const isRoot = process.getuid?.() === 0;
    const mount = path.resolve('/media/card');
    const err = (code: string, p: string) => Object.assign(new Error(`${code}: ${p}`), { code, path: p });
    const fakeFs = (o: { access: string | null; plain: string | null; recursiveOnce?: boolean; probe?: string }): DirFs & { calls: string[] } => {
      const dirs = new Set([path.parse(mount).root, path.dirname(mount), mount]);
      const calls: string[] = [];
      let recursiveFails = true;
      return {
        calls,
        async mkdir(p, opt) {
          calls.push(`mkdir${opt?.recursive ? ' -p' : ''} ${p}`);
          if (dirs.has(p)) {
            if (opt?.recursive) return;
            throw err('EEXIST', p);
          }
          if (opt?.recursive) {
            if (recursiveFails) throw err('ENOENT', p);
            for (let q = p; !dirs.has(q); q = path.dirname(q)) dirs.add(q);
            return;
          }
          if (o.plain) throw err(o.plain, p);
          dirs.add(p);
          if (o.recursiveOnce) recursiveFails = false;
        },
        async stat(p) {
          if (dirs.has(p)) return { isDirectory: () => true };
          throw err('ENOENT', p);
        },
        async access(p) {
          calls.push(`access ${p}`);
          if (o.access) throw err(o.access, p);
        },
        async probe(p) {
          calls.push(`probe ${p}`);
          if (o.probe) throw err(o.probe, p);
        },
      };
    };
    const out = path.join(mount, 'restored', 'sub');
    // a read-only mount: access W_OK says EROFS (for root too)
    const ro = fakeFs({ access: 'EROFS', plain: 'EROFS' });
    const e1 = await makeOutputDir(out, ro).catch((e: unknown) => e);
    expect(e1).toMatchObject({ code: 'EROFS', readOnly: mount });
    expect(outputDirProblem(out, e1)).toEqual({ code: 'E_READ_ONLY', message: `the output folder ${out} cannot be created: ${mount} is read-only`, file: out });
    // access passes (ACLs, a network file system) but a plain mkdir of the next level is refused
    const denied = fakeFs({ access: null, plain: isRoot ? 'EPERM' : 'EACCES' });
    const e2 = await makeOutputDir(out, denied).catch((e: unknown) => e);
    expect(outputDirProblem(out, e2)).toMatchObject({ code: 'E_READ_ONLY', file: out });
    expect(denied.calls).toEqual([`mkdir -p ${out}`, `access ${mount}`, `mkdir ${path.join(mount, 'restored')}`]);
    // the folder itself refused (EROFS from mkdir -p, as on macOS): said as before
    expect(outputDirProblem(out, err('EROFS', out))).toEqual({ code: 'E_READ_ONLY', message: `the output folder ${out} is read-only`, file: out });
    // a writable place where the first mkdir -p said ENOENT (a folder removed meanwhile): made after all
    const writable = fakeFs({ access: null, plain: null, recursiveOnce: true });
    await expect(makeOutputDir(out, writable)).resolves.toBeUndefined();
    expect(await writable.stat(out)).toBeTruthy();
    // nothing above it exists (a drive that is gone): the original ENOENT, E_WRITE
    const gone = path.resolve('/nowhere-restora-test/a/b');
    const e3 = await makeOutputDir(gone, { ...fakeFs({ access: null, plain: null }), stat: async (p) => { throw err('ENOENT', p); } }).catch((e: unknown) => e);
    expect(outputDirProblem(gone, e3)).toMatchObject({ code: 'E_WRITE', message: `the output folder ${gone} cannot be created (ENOENT)` });
    // a folder that is there but refuses files (mode 555 for a user who is not root): read-only before any work
    const existing = fakeFs({ access: null, plain: null, recursiveOnce: true, probe: 'EACCES' });
    await makeOutputDir(out, existing);
    const e4 = await probeOutputDir(out, existing).catch((e: unknown) => e);
    expect(existing.calls.at(-1)).toBe(`probe ${out}`);
    expect(outputDirProblem(out, e4)).toEqual({ code: 'E_READ_ONLY', message: `the output folder ${out} is read-only`, file: out });
  });

  it('resumes after kill -9 mid-batch: no half-written file under a final name, only the missing files redone', async () => {
    const inputs = await photos(['1.png', '2.png', '3.png', '4.png', '5.png', '6.png']);
    const before = await snapshot(inputs);
    const out = path.join(dir, 'out');
    const arg = JSON.stringify({ files: [path.join(dir, 'in')], out, tileDelayMs: 60 });
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'testing', 'batch-child.ts'), arg], { stdio: ['ignore', 'pipe', 'inherit'] });
    let doneLines = 0;
    const killed = await new Promise<boolean>((resolve) => {
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (s: string) => {
        doneLines += s.split('\n').filter((l) => l.startsWith('done ')).length;
        if (doneLines >= 2 && child.exitCode === null) child.kill('SIGKILL');
      });
      child.on('exit', (_code, signal) => resolve(signal === 'SIGKILL'));
    });
    expect(killed).toBe(true);
    // whatever is under a final name is a complete image
    const finals = (await readdir(out)).filter((f) => f.endsWith('.png') && !f.startsWith('.'));
    expect(finals.length).toBeGreaterThanOrEqual(2);
    expect(finals.length).toBeLessThan(6);
    for (const f of finals) await expect(sharp(path.join(out, f)).raw().toBuffer()).resolves.toBeDefined();
    const core = fakeCore();
    const r = await runBatch(core, { files: [path.join(dir, 'in')], recipe, output: { dir: out, suffix: '' } });
    expect(r.failed).toBe(0);
    expect(r.done + r.skipped).toBe(6);
    expect(r.skipped).toBeGreaterThanOrEqual(2);
    expect(core.reads.length).toBe(6 - r.skipped);
    const after = (await readdir(out)).filter((f) => !f.startsWith('.') && !f.startsWith('restora-report'));
    expect(after.sort()).toEqual(['1.png', '2.png', '3.png', '4.png', '5.png', '6.png']); // no duplicates
    expect((await readdir(out)).some((f) => f.endsWith('.tmp'))).toBe(false);
    for (const [i, f] of inputs.entries()) expect(await maxDiffInverted(f, path.join(out, `${i + 1}.png`))).toBeLessThanOrEqual(1);
    expect(await snapshot(inputs)).toEqual(before);
  });
});
