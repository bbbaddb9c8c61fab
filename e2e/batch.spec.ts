// A folder of five photos, one of them corrupt: four outputs, one clear error, originals untouched.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { addPath, expect, row, shot, test } from './support/fixtures.ts';
import { listFiles, makeBatchWithALargePhoto, makePhoto, makeTruncatedJpeg, snapshot } from './support/photos.ts';

const IMAGE = /\.(jpe?g|png|tiff?|webp)$/i;

test('a folder of five photos with one corrupt file gives four outputs and one clear error', async ({ app: page, work }) => {
  const shoot = path.join(work, 'shoot');
  const good = [path.join(shoot, 'beach.jpg'), path.join(shoot, 'dunes.jpg'), path.join(shoot, 'day2', 'harbour.jpg'), path.join(shoot, 'day2', 'pier.png')];
  for (const [i, f] of good.entries()) await makePhoto(f, { seed: i + 1, sigma: 12, width: 320, height: 240 });
  const broken = path.join(shoot, 'broken.jpg');
  await makeTruncatedJpeg(broken);
  const inputs = [...good, broken];
  const before = snapshot(inputs);

  await addPath(page, shoot);
  await expect(page.locator('li[data-path]')).toHaveCount(5);
  for (const f of inputs) await expect(row(page, f)).toBeVisible();
  // a photo in a sub-folder shows it in its row
  await expect(row(page, good[2]).getByRole('button', { name: /^day2\/harbour\.jpg, Ready/ })).toBeVisible();
  // thumbnails of the readable photos come from display copies over /files
  await expect(row(page, good[0]).locator('img')).toHaveJSProperty('complete', true);

  // the broken file is found as it is shown: "Can't read", with the reason, and left out of Run
  await expect(row(page, broken).getByTestId('status')).toHaveText('Can’t read');
  // a screen reader hears the reason with the row (the row's button is described by it)
  await expect(row(page, broken).getByRole('button').first()).toHaveAccessibleDescription(/E_DECODE.*broken\.jpg/);
  // the reason names the file and says what is wrong, with the contract's code
  const reason = row(page, broken).getByTestId('error');
  await expect(reason).toContainText('E_DECODE');
  await expect(reason).toContainText('broken.jpg');
  await page.getByRole('button', { name: /^Run on 4 photos/ }).click();
  await expect(page.getByLabel('Overall progress')).toBeVisible();
  await expect(page.getByText(/^Finished · 4 done/)).toBeVisible({ timeout: 120_000 });

  for (const f of good) await expect(row(page, f).getByTestId('status')).toHaveText('Done');
  // each done row says what noise level its denoise used (the default recipe's Auto or a strength)
  for (const f of good) await expect(row(page, f).getByTestId('used')).toHaveText(/^denoise σ \d+\.\d(, estimated)?$/);
  await expect(row(page, broken).getByTestId('status')).toHaveText('Can’t read');
  await expect(page.getByRole('button', { name: 'All photos done' })).toBeVisible();

  // the outputs land in one "restored" folder in the added folder, its tree kept (as the CLI does);
  // each is a whole image of the same size
  const outputs = listFiles(shoot).filter((f) => IMAGE.test(f) && f.includes(`${path.sep}restored${path.sep}`));
  expect(outputs, outputs.join('\n')).toHaveLength(4);
  for (const g of good) {
    const want = path.join(shoot, 'restored', path.relative(shoot, path.dirname(g)), path.parse(g).name);
    expect(outputs.some((o) => o.startsWith(want)), g).toBe(true);
  }
  for (const o of outputs) {
    const m = await sharp(o).metadata();
    expect([m.width, m.height]).toEqual([320, 240]);
  }
  expect(listFiles(shoot).filter((f) => /\.tmp$|\.part$/.test(f))).toEqual([]);

  // originals: same bytes, same mtime, same inode
  const after = snapshot(inputs);
  for (const f of inputs) expect(after.get(f), f).toEqual(before.get(f));
  expect(fs.readdirSync(shoot).sort()).toEqual(['beach.jpg', 'broken.jpg', 'day2', 'dunes.jpg', 'restored']);
  expect(fs.readdirSync(path.join(shoot, 'day2')).sort()).toEqual(['harbour.jpg', 'pier.png']);

  await row(page, good[0]).getByRole('button', { name: /^beach\.jpg, Done/ }).click();
  // web mode: a done photo's result can be downloaded (outputs of uploads live on the server)
  const download = page.waitForEvent('download');
  await row(page, good[0]).getByRole('link', { name: 'Download the result of beach.jpg' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe(path.basename(outputs.find((o) => path.basename(o).startsWith('beach'))!));
  expect(fs.readFileSync((await file.path())!).equals(fs.readFileSync(outputs.find((o) => path.basename(o).startsWith('beach'))!))).toBe(true);
  await shot(page, 'batch-done', 'queue');

  // "open output folder": in web mode the UI shows the folder's path
  await page.getByRole('button', { name: 'Open output folder' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Output folder' }).locator('code')).toContainText(path.join(shoot, 'restored'));
  // Run on selected still sends it (to see the engine's own word on it): it fails with the same reason, and the batch says so
  await row(page, broken).getByRole('button').first().click();
  await page.getByRole('button', { name: 'Run on selected' }).click();
  await expect(page.getByRole('status').filter({ hasText: /^Finished · 0 done · 1 failed/ })).toBeVisible({ timeout: 60_000 });
  await expect(reason).toContainText('E_DECODE');
  // and it is still not counted in Run on N
  await expect(row(page, broken).getByTestId('status')).toHaveText('Can’t read');
  await expect(page.getByRole('button', { name: 'All photos done' })).toBeVisible();
});

test('Skip leaves one photo of a running batch untouched, the running one or one still waiting, and the batch goes on', async ({ app: page, work, served }) => {
  const dir = path.join(work, 'skip');
  // the first is large: time enough to skip it while it runs
  const files = await makeBatchWithALargePhoto(dir, ['s1.png', 's2.png', 's3.png', 's4.png'], 's1.png', { seed: 89, shipped: served.shipped });
  await addPath(page, dir);
  await expect(page.locator('li[data-path]')).toHaveCount(4);
  await page.getByRole('button', { name: /^Run on 4 photos/ }).click();
  // the last one, still waiting
  await row(page, files[3]).locator('button.main').click();
  await row(page, files[3]).getByRole('button', { name: 'Skip s4.png in this batch' }).click();
  // until its turn it says it will be skipped
  await expect(row(page, files[3]).getByRole('button', { name: 'Skip s4.png in this batch' })).toHaveText('Skipping…');
  // the first, while it runs
  await expect(row(page, files[0]).getByTestId('status')).toHaveText('Processing', { timeout: 30_000 });
  await row(page, files[0]).locator('button.main').click();
  await row(page, files[0]).getByRole('button', { name: 'Skip s1.png in this batch' }).click();
  await expect(page.getByRole('status').filter({ hasText: /^Finished · 2 done/ })).toBeVisible({ timeout: 120_000 });
  for (const f of [files[0], files[3]]) await expect(row(page, f).getByTestId('status')).toHaveText('Cancelled');
  for (const f of [files[1], files[2]]) await expect(row(page, f).getByTestId('status')).toHaveText('Done');
  expect(listFiles(path.join(dir, 'restored')).filter((f) => f.endsWith('.png')).map((f) => path.basename(f)).sort()).toEqual(['s2-restored.png', 's3-restored.png']);
  // a later Run does the two
  await page.getByRole('button', { name: /^Run on 2 photos/ }).click();
  await expect(page.getByRole('status').filter({ hasText: /^Finished · 2 done/ })).toBeVisible({ timeout: 120_000 });
  for (const f of files) await expect(row(page, f).getByTestId('status')).toHaveText('Done');
});

test('a change of output format makes done photos to do again, in a file of the new format beside the first', async ({ app: page, work }) => {
  const dir = path.join(work, 'export');
  const a = path.join(dir, 'a.jpg');
  await makePhoto(a, { seed: 31, sigma: 10, width: 320, height: 240 });
  await addPath(page, dir);
  await page.getByRole('button', { name: 'Run on 1 photo' }).click();
  await expect(row(page, a).getByTestId('status')).toHaveText('Done', { timeout: 60_000 });
  await expect(page.getByRole('button', { name: 'All photos done' })).toBeDisabled();

  const settings = page.getByRole('dialog', { name: 'Settings' });
  const setFormat = async (label: string) => {
    await page.getByRole('button', { name: 'Settings' }).click();
    await settings.getByLabel('Format').selectOption({ label });
    await page.keyboard.press('Escape');
    await expect(settings).toBeHidden();
  };
  await setFormat('PNG');
  // the photo is done with the recipe, not with these output settings: Run offers it again
  await expect(page.getByRole('button', { name: 'Run on 1 photo' })).toBeEnabled();
  await expect(page.getByTestId('again')).toHaveText('1 of them was done with other settings: it gets a new output beside the old one.');
  await page.getByRole('button', { name: 'Run on 1 photo' }).click();
  await expect(page.getByRole('button', { name: 'All photos done' })).toBeVisible({ timeout: 60_000 });
  expect(listFiles(path.join(dir, 'restored')).filter((f) => IMAGE.test(f)).map((f) => path.basename(f)).sort()).toEqual(['a-restored.jpg', 'a-restored.png']);
  // back to the first format: that result is there already, so nothing is to do (and the setting is put back for the next tests)
  await setFormat('Same as the original');
  await expect(page.getByRole('button', { name: 'Run on 1 photo' })).toBeEnabled(); // the queue shows the PNG result
  await page.getByRole('button', { name: 'Run on 1 photo' }).click();
  await expect(page.getByText('Already done with these settings: the earlier result is shown.')).toBeVisible({ timeout: 60_000 });
  expect(listFiles(path.join(dir, 'restored')).filter((f) => IMAGE.test(f))).toHaveLength(2);
});

test('a recipe whose result would pass the size limit is said before Run, with the photo and the size', async ({ app: page, work }) => {
  const big = path.join(work, 'pano', 'big.png');
  fs.mkdirSync(path.dirname(big), { recursive: true });
  await sharp({ create: { width: 4000, height: 3200, channels: 3, background: { r: 90, g: 120, b: 150 } } }).png().toFile(big);
  await addPath(page, big);
  await expect(row(page, big)).toBeVisible();
  await page.getByRole('button', { name: 'Remove Denoise (step 1)' }).click();
  await page.getByRole('button', { name: '+ Upscale' }).click();
  const up = page.locator('li.step[data-task="upscale"]');
  await up.getByRole('radio', { name: '×4' }).check();
  await expect(page.getByTestId('too-large')).toHaveText('1 photo would come out over the 200 MP limit and fail (big.png: 16000 × 12800): upscale less, or crop first.');
  await up.getByRole('radio', { name: '×2' }).check();
  await expect(page.getByTestId('too-large')).toHaveCount(0);
});
