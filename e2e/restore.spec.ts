// Nothing is lost by a reload (or a restart of the app): the queue with its results, the recipe and a
// painted mask come back from the engine's data folder, and the work goes on from there.
import fs from 'node:fs';
import path from 'node:path';
import type { SavedWork } from '../app/contract/index.ts';
import { addPath, expect, row, test, type Served } from './support/fixtures.ts';
import { maskCoverage, strokeAcross } from './support/mask.ts';
import { listFiles, makePhoto, makePhotos, makeTruncatedJpeg } from './support/photos.ts';

/** What the window last saved for next time (work.json in the server's data folder). */
function saved(served: Served): { items: { path: string; status: string }[]; masks: unknown[]; selected?: string; recipeMask?: { path: string } } | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(served.dataDir, 'work.json'), 'utf8'));
  } catch {
    return null;
  }
}

const coverage = maskCoverage;

test('after a reload the queue, its results, the recipe and the painted mask are back, and Run goes on', async ({ app: page, work, served }) => {
  const shoot = path.join(work, 'shoot');
  const a = path.join(shoot, 'a.png');
  const b = path.join(shoot, 'day2', 'b.png'); // a subfolder: its tree is kept in the output, after the reload too
  const gone = path.join(shoot, 'gone.png');
  const broken = path.join(shoot, 'broken.jpg');
  await makePhoto(a, { seed: 1, sigma: 10, width: 320, height: 240 });
  await makePhoto(b, { seed: 2, sigma: 10, width: 320, height: 240 });
  await makePhoto(gone, { seed: 3, sigma: 10, width: 320, height: 240 });
  await makeTruncatedJpeg(broken);
  await page.getByRole('checkbox', { name: 'Include subfolders' }).check();
  await addPath(page, shoot);
  await expect(page.locator('li[data-path]')).toHaveCount(4);
  await expect(row(page, broken).getByTestId('status')).toHaveText('Can’t read'); // left out of Run
  await page.getByRole('button', { name: /^Run on 3 photos/ }).click();
  await expect(page.getByText(/^Finished · 3 done/)).toBeVisible({ timeout: 120_000 });

  // paint on a.png and make it the recipe's mask: the recipe becomes Denoise → Inpaint, grain matched
  await page.getByRole('button', { name: 'Paint a mask on a.png' }).click();
  await expect(page.getByTestId('mask-canvas')).toHaveAttribute('width', '320');
  await page.getByLabel('Brush size in pixels').fill('20');
  const box = (await page.getByTestId('mask-pane').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2 - 60, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 60, box.y + box.height / 2 + 20, { steps: 12 });
  await page.mouse.up();
  await expect.poll(() => coverage(page)).toBeGreaterThan(0);
  const painted = await coverage(page);
  await page.getByRole('checkbox', { name: 'Match grain' }).check();
  await page.getByRole('button', { name: "Use this mask in the recipe's Inpaint step" }).click();
  await expect(page.locator('li.step[data-task="inpaint"]')).toBeVisible();
  await row(page, b).getByRole('button', { name: /^day2\/b\.png, Done/ }).click();

  // the work is saved half a second after a change: the mask, and b.png shown
  await expect.poll(() => saved(served)?.selected).toBe(b);
  expect(saved(served)?.masks).toHaveLength(1);
  fs.rmSync(gone); // moved away while Restora was closed
  await page.reload();

  await expect(
    page.getByText(
      'Your queue from last time is back: 3 photos (2 done). 1 photo is no longer where it was (shoot/gone.png), so it was left out; it comes back when it is there again (a drive plugged in), and Clear all forgets it.',
    ),
  ).toBeVisible();
  await expect(page.locator('li[data-path]')).toHaveCount(3);
  await expect(row(page, a).getByTestId('status')).toHaveText('Done');
  await expect(row(page, b).getByTestId('status')).toHaveText('Done');
  await expect(row(page, b).getByTestId('used')).toHaveText(/^denoise σ \d+\.\d, estimated$/);
  // web mode: the result can still be downloaded
  await expect(row(page, b).getByRole('link', { name: /^Download the result of (day2\/)?b\.png$/ })).toHaveAttribute('href', /\/files\?/);
  await expect(row(page, broken).getByTestId('status')).toHaveText('Can’t read');
  await expect(row(page, broken).getByTestId('error')).toContainText('E_DECODE');
  // the photo shown before is shown again, with its result on the after side
  await expect(page.getByTestId('after-layer').locator('img.base')).toHaveAttribute('alt', 'Result: b.png');
  // the recipe as it was edited
  await expect(page.locator('li.step[data-task="denoise"]')).toBeVisible();
  await expect(page.locator('li.step[data-task="inpaint"]').getByRole('checkbox', { name: /Match grain/ })).toBeChecked();
  await expect(page.locator('li.step[data-task="inpaint"]').getByTestId('mask-source')).toHaveText('Mask: painted on a.png');

  // the painted mask is read back into the painter, as painted
  await row(page, a).getByRole('button', { name: /^a\.png, Done/ }).click();
  await page.getByRole('button', { name: 'Paint a mask on a.png' }).click();
  await expect.poll(() => coverage(page)).toBe(painted);

  // Run goes on with the restored recipe and mask: the new recipe is new work for both photos
  await page.getByRole('button', { name: /^Run on 2 photos/ }).click();
  await expect(page.getByText(/^Finished · 2 done/)).toBeVisible({ timeout: 120_000 });
  await expect(row(page, a).getByTestId('used')).toContainText('inpaint, grain matched');
  // the new results sit beside the first ones (gone.png's from the first run included)
  const outputs = listFiles(path.join(shoot, 'restored')).filter((f) => f.endsWith('.png')).map((f) => path.basename(f)).sort();
  expect(outputs).toEqual(['a-restored-1.png', 'a-restored.png', 'b-restored-1.png', 'b-restored.png', 'gone-restored.png']);

  // Clear all empties the queue for next time too
  await page.getByRole('button', { name: /^Clear all/ }).click();
  await expect.poll(() => saved(served)?.items.length).toBe(0); // saved at once, gone.png forgotten too
  await page.reload();
  await expect(page.getByRole('heading', { name: /^Queue/ })).toBeVisible();
  await expect(page.locator('li[data-path]')).toHaveCount(0);
  await expect(page.getByText(/from last time/)).toHaveCount(0);
});

test('a page reloaded while its batch runs shows that batch going on, and Run does not start it twice', async ({ app: page, work, served }) => {
  const dir = path.join(work, 'card');
  const n = 8;
  const side = served.shipped ? 800 : 1600;
  await makePhotos(dir, Array.from({ length: n }, (_, i) => `IMG_${2000 + i}.jpg`), { seed: 40, sigma: 15, width: side, height: Math.round(side * 0.75) });
  await addPath(page, dir);
  await expect(page.locator('li[data-path]')).toHaveCount(n);
  await page.getByRole('button', { name: `Run on ${n} photos` }).click();
  await expect(page.locator('li[data-status="done"]').first()).toBeVisible({ timeout: 90_000 });
  await page.reload();

  await expect(page.getByText(/Your queue from last time is back: 8 photos.*Its batch is still running\./)).toBeVisible();
  // the batch goes on in this page: progress, then its end, with every photo done once
  await expect(page.getByRole('button', { name: 'Cancel batch' }).first()).toBeVisible();
  await expect(page.getByText(/^Finished · 8 done/)).toBeVisible({ timeout: 120_000 });
  await expect(page.locator('li[data-status="done"]')).toHaveCount(n);
  const outputs = listFiles(path.join(dir, 'restored')).filter((f) => f.endsWith('.jpg'));
  expect(outputs).toHaveLength(n); // no second batch, no "-1" copies
  await expect(page.getByRole('button', { name: /^Run on \d+ photos?$/ })).toHaveCount(0);
});

test('a second tab takes the queue over: the first says so, and what it does after is not written over the queue', async ({ app: page, work, served }) => {
  const [a, b, c] = await makePhotos(work, ['a.png', 'b.png', 'c.png'], { seed: 60, sigma: 10 });
  const paths = () => (saved(served)?.items ?? []).map((i) => i.path).sort();
  await addPath(page, a);
  await expect.poll(paths).toEqual([a]);

  const second = await page.context().newPage();
  await second.goto(served.url);
  await expect(row(second, a)).toBeVisible();
  await addPath(second, b);
  await expect.poll(paths).toEqual([a, b]);

  // the first tab goes on: it says why its changes are not kept, and the second tab's queue stays
  await addPath(page, c);
  await expect(row(page, c)).toBeVisible();
  const banner = page.getByRole('alert').filter({ hasText: 'Restora was opened in another tab or window, which now keeps the queue' });
  await expect(banner).toBeVisible();
  await page.waitForTimeout(1500); // more than a save's delay
  expect(paths()).toEqual([a, b]);

  // reloading it takes the queue back, as the second tab left it
  await banner.getByRole('button', { name: 'Reload this tab' }).click();
  await expect(row(page, b)).toBeVisible();
  await expect(page.locator('li[data-path]')).toHaveCount(2);
  await expect(page.getByRole('alert').filter({ hasText: 'another tab' })).toHaveCount(0);
  await addPath(page, c);
  await expect.poll(paths).toEqual([a, b, c]);
  await second.close();
});

test('after a crash mid-batch, one Run finishes that batch and then the photos added since, each made once', async ({ app: page, work, served }) => {
  const dir = path.join(work, 'card');
  const n = 4;
  const side = served.shipped ? 1200 : 1600;
  const names = Array.from({ length: n }, (_, i) => `IMG_${3000 + i}.jpg`);
  await makePhotos(dir, names, { seed: 80, sigma: 15, width: side, height: Math.round(side * 0.75) });
  await addPath(page, dir);
  await expect(page.locator('li[data-path]')).toHaveCount(n);
  // what the window kept while its batch ran: the state a crash leaves in work.json
  let kept: (SavedWork & { forgetMissing?: boolean }) | null = null;
  await page.route('**/api/call/work.save', async (r) => {
    const body = r.request().postDataJSON() as SavedWork;
    if (body.batch && body.unfinished > 0) kept = body;
    await r.continue();
  });
  await page.getByRole('button', { name: `Run on ${n} photos` }).click();
  await expect(page.getByText(new RegExp(`^Finished · ${n} done`))).toBeVisible({ timeout: 120_000 });
  expect(kept, 'the window kept the running batch').not.toBeNull();
  const { forgetMissing: _, ...crashed } = kept!;
  // the window's save of the finished batch is in (half a second after it ends): else it could land after
  // the crash's state is written below and overwrite it (CI saw that once)
  await expect.poll(() => saved(served)?.items.every((i) => i.status === 'done') ?? false).toBe(true);
  await page.route('**/api/call/work.save', (r) => r.abort()); // the window is gone: nothing saved after this
  fs.writeFileSync(path.join(served.dataDir, 'work.json'), JSON.stringify(crashed));
  await page.reload();
  await expect(page.getByText(/A batch had not finished: Run goes on with what is left/)).toBeVisible();
  await page.unroute('**/api/call/work.save');

  // a photo of the same shoot added after the restart
  const late = path.join(dir, 'IMG_3999.jpg');
  await makePhoto(late, { seed: 99, sigma: 15, width: 320, height: 240 });
  await addPath(page, late);
  await expect(page.locator('li[data-path]')).toHaveCount(n + 1);
  await page.getByRole('button', { name: /^Run on \d+ photos?$/ }).click();
  await expect(row(page, late).getByTestId('status')).toHaveText('Done', { timeout: 120_000 });
  await expect(page.locator('li[data-status="done"], li[data-status="skipped"]')).toHaveCount(n + 1);
  await expect(page.getByRole('button', { name: 'All photos done' })).toBeVisible();
  // what the first batch had finished was not made again beside itself
  const outputs = listFiles(path.join(dir, 'restored')).filter((f) => f.endsWith('.jpg')).map((f) => path.basename(f)).sort();
  expect(outputs).toEqual([...names, 'IMG_3999.jpg'].map((f) => f.replace('.jpg', '-restored.jpg')).sort());
});

test('masks painted on more photos than the painter keeps in memory are not lost', async ({ app: page, work }) => {
  const dir = path.join(work, 'scans');
  const files: string[] = [];
  for (let i = 0; i < 6; i++) {
    const f = path.join(dir, `scan${i}.png`);
    await makePhoto(f, { seed: 60 + i, width: 240, height: 180 });
    files.push(f);
  }
  await addPath(page, dir);
  await expect(page.locator('li[data-path]')).toHaveCount(6);
  const painted: number[] = [];
  for (const [i, f] of files.entries()) {
    await row(page, f).getByRole('button', { name: new RegExp(`^scan${i}\\.png, `) }).click();
    await page.getByRole('button', { name: `Paint a mask on scan${i}.png` }).click();
    await expect(page.getByTestId('mask-canvas')).toHaveAttribute('width', '240');
    await expect.poll(() => coverage(page)).toBe(0);
    await page.getByLabel('Brush size in pixels').fill(String(10 + 4 * i));
    const box = (await page.getByTestId('mask-pane').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2 - 40, box.y + box.height / 2 - 10 + 4 * i);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 40, box.y + box.height / 2 + 4 * i, { steps: 8 });
    await page.mouse.up();
    await expect.poll(() => coverage(page)).toBeGreaterThan(0);
    painted.push(await coverage(page));
  }
  // back to the first ones, whose masks left memory: they are read back from the files they were saved to
  for (const i of [0, 1]) {
    await row(page, files[i]).getByRole('button', { name: new RegExp(`^scan${i}\\.png, `) }).click();
    await page.getByRole('button', { name: `Paint a mask on scan${i}.png` }).click();
    await expect.poll(() => coverage(page)).toBe(painted[i]);
  }
});

test('strokes are kept as a draft as they are painted: a reload brings them back, and the mask the recipe uses stays as used', async ({ app: page, work, served }) => {
  const dir = path.join(work, 'dust');
  const [a, b] = await makePhotos(dir, ['a.png', 'b.png'], { seed: 71, width: 320, height: 240 });
  await addPath(page, dir);
  await expect(page.locator('li[data-path]')).toHaveCount(2);
  const stroke = (dx: number, dy: number) => strokeAcross(page, { half: 50, dx, dy, rise: 10, steps: 10 });
  const masksSaved = () => (saved(served)?.masks ?? []) as { forPath: string; path: string; draft?: boolean }[];

  // a.png: painted and used in the recipe (its file is what a Run reads), then painted further
  await page.getByRole('button', { name: 'Paint a mask on a.png' }).click();
  await expect(page.getByTestId('mask-canvas')).toHaveAttribute('width', '320');
  await page.getByLabel('Brush size in pixels').fill('16');
  await stroke(0, -40);
  await expect.poll(() => coverage(page)).toBeGreaterThan(0);
  await page.getByRole('button', { name: "Use this mask in the recipe's Inpaint step" }).click();
  await expect(page.locator('li.step[data-task="inpaint"]')).toBeVisible();
  await expect.poll(() => saved(served)?.recipeMask?.path ?? '').toMatch(/[^t]\.png$/); // (not a .draft.png)
  const used = saved(served)!.recipeMask!.path;
  const usedBytes = fs.readFileSync(used);
  await stroke(0, 40);
  const paintedA = await coverage(page);
  // a moment later the strokes are in a draft of their own; the recipe's file is as it was used
  await expect.poll(() => masksSaved().find((m) => m.forPath === a)?.draft, { timeout: 10_000 }).toBe(true);
  expect(Buffer.compare(fs.readFileSync(used), usedBytes)).toBe(0);

  // b.png: painted, never saved by hand, and the window gone (a crash) before it could note the draft in
  // work.json: its saves are refused from here on
  await page.route('**/api/call/work.save', (r) => r.abort());
  await row(page, b).getByRole('button', { name: /^b\.png, / }).click();
  await page.getByRole('button', { name: 'Paint a mask on b.png' }).click();
  await expect.poll(() => coverage(page)).toBe(0);
  await stroke(20, 0);
  await expect.poll(() => coverage(page)).toBeGreaterThan(0);
  const paintedB = await coverage(page);
  const draftOnDisk = () => fs.readdirSync(path.join(served.dataDir, 'masks')).some((f) => f.startsWith('b-') && f.endsWith('.draft.png'));
  await expect.poll(draftOnDisk, { timeout: 10_000 }).toBe(true);
  expect(masksSaved().some((m) => m.forPath === b)).toBe(false);

  await page.reload(); // (the closing page's save is refused too: as after a crash)
  await expect(page.getByText(/Your queue from last time is back: 2 photos/)).toBeVisible();
  await page.unroute('**/api/call/work.save');
  await expect(page.locator('li.step[data-task="inpaint"]').getByTestId('mask-source')).toHaveText('Mask: painted on a.png');
  for (const [p, n, painted] of [[a, 'a.png', paintedA], [b, 'b.png', paintedB]] as const) {
    await row(page, p).getByRole('button', { name: new RegExp(`^${n.replace('.', '\\.')}, `) }).click();
    await page.getByRole('button', { name: `Paint a mask on ${n}` }).click();
    await expect.poll(() => coverage(page)).toBe(painted);
  }
  expect(Buffer.compare(fs.readFileSync(used), usedBytes)).toBe(0);
  // a draft read back is used as any mask: saved to the photo's own file, never the draft's
  await page.getByRole('button', { name: "Use this mask in the recipe's Inpaint step" }).click();
  await expect(page.locator('li.step[data-task="inpaint"]').getByTestId('mask-source')).toHaveText('Mask: painted on b.png');
  await expect.poll(() => saved(served)?.recipeMask?.path ?? '').toMatch(/b-[0-9a-f]{12}\.png$/);
});
