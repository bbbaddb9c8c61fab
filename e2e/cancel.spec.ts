// A batch cancelled midway: finished outputs stay whole, the rest is left untouched, no temp files.
import path from 'node:path';
import { addPath, expect, test } from './support/fixtures.ts';
import { listFiles, makePhoto, snapshot } from './support/photos.ts';

const IMAGE = /\.(jpe?g|png|tiff?|webp)$/i;

test('a batch cancelled midway', async ({ app: page, work, served }) => {
  const dir = path.join(work, 'card');
  // enough work that the batch is still running when the first file is done
  const n = 10;
  const side = served.shipped ? 800 : 1600;
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = path.join(dir, `IMG_${1000 + i}.jpg`);
    await makePhoto(f, { seed: 20 + i, sigma: 15, width: side, height: Math.round(side * 0.75) });
    files.push(f);
  }
  const before = snapshot(files);
  await addPath(page, dir);
  await expect(page.locator('li[data-path]')).toHaveCount(n);

  await page.getByRole('button', { name: `Run on ${n} photos` }).click();
  // overall progress with an estimate of the time left
  await expect(page.getByTestId('eta')).toHaveText(/left|estimating/);
  // wait for the first finished file, then cancel
  await expect(page.locator('li[data-status="done"]').first()).toBeVisible({ timeout: 90_000 });
  await page.getByRole('button', { name: 'Cancel batch' }).first().click();
  await expect(page.getByText(/^Cancelled · \d+ done/)).toBeVisible({ timeout: 60_000 });
  await expect(page.getByText(/Batch cancelled: \d+ of 10 finished/)).toBeVisible();
  // the bar shows how far the batch got, not a full 100 %
  await expect(page.getByLabel('Batch progress')).not.toContainText('100 %');

  const done = await page.locator('li[data-status="done"]').count();
  const cancelled = await page.locator('li[data-status="cancelled"]').count();
  console.log(`cancel: ${done} done, ${cancelled} cancelled of ${n}`);
  expect(done).toBeGreaterThanOrEqual(1);
  expect(cancelled).toBeGreaterThanOrEqual(1);
  expect(done + cancelled).toBe(n);
  await expect(page.locator('li[data-status="running"], li[data-status="queued"]')).toHaveCount(0);
  // nothing is left running: the Run button is back
  await expect(page.getByRole('button', { name: /^Run on \d+ photos?$/ })).toBeEnabled();

  const outDir = path.join(dir, 'restored');
  const outputs = listFiles(outDir).filter((f) => IMAGE.test(f));
  expect(outputs).toHaveLength(done);
  expect(listFiles(dir).filter((f) => /\.tmp$|\.part$/.test(f))).toEqual([]);
  const after = snapshot(files);
  for (const f of files) expect(after.get(f), f).toEqual(before.get(f));
});
