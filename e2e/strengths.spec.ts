// Compare strengths: the centre of the view at four denoise levels around Auto's reading, beside the
// original, each at 100 %; "Use" sets the recipe's Denoise step to the level picked.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { addPath, expect, row, shot, test } from './support/fixtures.ts';
import { strokeAcross } from './support/mask.ts';
import { makePhoto, psnr } from './support/photos.ts';

/** Fine detail left in a crop: the mean absolute difference between horizontal neighbours (0-255). */
async function roughness(png: Buffer): Promise<number> {
  const { data, info } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
  let sum = 0;
  let n = 0;
  for (let y = 0; y < info.height; y++)
    for (let x = 1; x < info.width; x++) {
      sum += Math.abs(data[y * info.width + x] - data[y * info.width + x - 1]);
      n++;
    }
  return sum / n;
}

test('compare strengths shows four levels around Auto beside the original, and Use sets the step', async ({ app: page, work, served }) => {
  const file = path.join(work, 'iso.png');
  const clean = await makePhoto(file, { seed: 8, sigma: 14, width: 480, height: 360 });
  await addPath(page, file);
  await expect(row(page, file)).toBeVisible();
  await page.getByRole('button', { name: 'Run on selected' }).click();
  await expect(row(page, file).getByTestId('used')).toHaveText(/^denoise σ \d+\.\d, estimated$/, { timeout: 60_000 });
  const ranAt = /σ (\d+\.\d)/.exec((await row(page, file).getByTestId('used').textContent()) ?? '')![1];
  await expect(page.getByTestId('compare-pane')).toBeVisible();

  await page.getByRole('button', { name: 'Compare denoise strengths on the centre of the view' }).click();
  const dlg = page.getByRole('dialog', { name: 'Compare strengths' });
  await expect(dlg).toBeVisible();
  await expect(dlg.getByTestId('strengths-about')).toContainText(/Denoise: Auto reads σ \d+\.\d for this photo/);
  const cells = dlg.getByTestId('strength-cell');
  await expect(cells).toHaveCount(4);
  // Auto's level is the one the run used (the same reading of the whole photo)
  await expect(cells.nth(1).locator('figcaption span')).toHaveText(`Auto, σ ${ranAt}`);
  const imgs = dlg.locator('img');
  await expect(imgs).toHaveCount(5, { timeout: 60_000 }); // the original and the four levels
  await expect(dlg.getByTestId('strengths-about')).not.toContainText('Processing');
  // the levels past 1.25x Auto's reading say that the denoiser's second model makes them
  if (served.shipped) for (const [i, second] of [false, false, true, true].entries()) await expect(cells.nth(i).getByTestId('second-model')).toHaveCount(second ? 1 : 0);
  await shot(page, 'strengths', 'strengths');

  // each crop is the same place at 100 %. Below Auto's level noise is left; Auto's crop is the closest
  // to the clean scene of the four; above 1.25x it the denoiser's second model keeps the result close to
  // Auto's (the model itself would leave grain there)
  const [rx, ry, rw, rh] = ((await dlg.getByTestId('strengths-about').getAttribute('data-region')) ?? '').split(',').map(Number);
  // the five crops fit in one row of this 1360 px window: (1360 x 0.96 - 110) / 5 = 239 px each
  expect([rw, rh]).toEqual([239, 239]);
  const boxes = await Promise.all([0, 1, 2, 3, 4].map(async (i) => (await imgs.nth(i).boundingBox())!));
  expect(new Set(boxes.map((b) => Math.round(b.y))).size).toBe(1);
  const cleanCrop = await sharp(clean, { raw: { width: 480, height: 360, channels: 3 } }).extract({ left: rx, top: ry, width: rw, height: rh }).raw().toBuffer();
  const rough: number[] = [];
  const quality: number[] = [];
  for (let i = 0; i < 5; i++) {
    const src = (await imgs.nth(i).getAttribute('src'))!;
    const res = await page.request.get(new URL(src, served.origin).toString());
    expect(res.ok()).toBe(true);
    const png = await res.body();
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height]).toEqual([rw, rh]);
    rough.push(await roughness(png));
    quality.push(psnr(await sharp(png).removeAlpha().raw().toBuffer(), cleanCrop));
  }
  console.log(`strengths: original and the four levels, roughness ${rough.map((r) => r.toFixed(2)).join(' / ')}, PSNR ${quality.map((q) => q.toFixed(2)).join(' / ')} dB`);
  expect(rough[1]).toBeLessThan(rough[0]); // half of Auto's level already removes some noise
  expect(rough[2]).toBeLessThan(rough[1]); // Auto's removes more
  // twice Auto's: about as smooth as Auto's, not grainier (the shipped card's second model; the model
  // alone left 2-3x Auto's roughness there)
  if (served.shipped) expect(rough[4]).toBeLessThan(rough[2] * 1.2);
  for (const i of [0, 1, 3, 4]) expect(quality[2], `Auto's crop beats crop ${i}`).toBeGreaterThan(quality[i]);

  // Use the strongest: the Denoise step leaves Auto and its slider shows that level
  const strongest = ((await cells.nth(3).locator('figcaption span').textContent()) ?? '').trim();
  expect(strongest).toMatch(/^σ \d+(\.5)?$/);
  await cells.nth(3).getByRole('button', { name: `Use ${strongest} in the recipe` }).click();
  await expect(dlg).toBeHidden();
  const step = page.locator('li.step[data-task="denoise"]');
  await expect(step.getByRole('checkbox', { name: /Auto/ })).not.toBeChecked();
  await expect(step.locator('output')).toHaveText(strongest);
  // well above Auto's reading: the step says what runs there
  await expect(step.getByTestId('over-auto')).toContainText(
    served.shipped ? new RegExp(`Above σ \\d+\\.\\d \\(1\\.25× what Auto reads for this photo, σ ${ranAt.replace('.', '\\.')}\\) a second model runs: the result stays close to Auto's instead of smoothing further`) : `Above what Auto reads for this photo (σ ${ranAt}) this model leaves more grain, not less.`,
  );

  // and again from a set level: the levels centre on it, and Use on it keeps it
  await page.getByRole('button', { name: 'Compare denoise strengths on the centre of the view' }).click();
  await expect(dlg.getByTestId('strengths-about')).toContainText(`Denoise: ${strongest}.`);
  await expect(cells.nth(1)).toContainText(`${strongest} (set now)`);
  await page.keyboard.press('Escape');
  await expect(dlg).toBeHidden();
  await expect(step.locator('output')).toHaveText(strongest);
  // focus goes back to the button that opened it
  await expect(page.getByRole('button', { name: 'Compare denoise strengths on the centre of the view' })).toBeFocused();

  // a photo never run: the step learns what Auto reads for it, and warns the same way
  const other = path.join(work, 'iso2.png');
  await makePhoto(other, { seed: 9, sigma: 12, width: 480, height: 360 });
  await addPath(page, other);
  await row(page, other).getByRole('button', { name: /^iso2\.png, Ready/ }).click();
  await expect(step.getByTestId('over-auto')).toContainText(/what Auto reads for this photo,? \(?σ \d+\.\d\)/);
});

test('closing Compare strengths stops the crop the engine is making, so the next preview does not wait for it', async ({ app: page, work, served }) => {
  const file = path.join(work, 'iso3.png');
  await makePhoto(file, { seed: 11, sigma: 14, width: 1200, height: 900 });
  await page.locator('li.step[data-task="denoise"]').getByRole('checkbox', { name: /^Best quality: 8 passes/ }).check();
  await addPath(page, file);
  await expect(row(page, file)).toBeVisible();
  await expect(page.getByTestId('compare-pane')).toBeVisible();
  await page.getByRole('checkbox', { name: 'Auto preview' }).uncheck(); // only the comparison's crops are made
  const afters = () => {
    try {
      return fs.readdirSync(path.join(served.dataDir, 'cache', 'preview')).filter((f) => f.endsWith('-after.png')).length;
    } catch {
      return 0;
    }
  };
  const before = afters();
  const cancelled = page.waitForResponse((r) => r.url().includes('/api/call/preview.cancel'));
  await page.getByRole('button', { name: 'Compare denoise strengths on the centre of the view' }).click();
  const dlg = page.getByRole('dialog', { name: 'Compare strengths' });
  await expect(dlg.locator('img')).toHaveCount(2, { timeout: 60_000 }); // the original and the first level
  await page.keyboard.press('Escape'); // while the second level is being made
  await expect(dlg).toBeHidden();
  // the engine says it was making that crop, and stops it: no file for it, then or later
  expect(await (await cancelled).json()).toEqual({ result: { ok: true } });
  await page.waitForTimeout(3000);
  expect(afters()).toBe(before + 1);
  // the compare view's Auto preview checkbox is a setting: kept after a reload (and set back for the next tests)
  await page.reload();
  const autoPreview = page.getByRole('checkbox', { name: 'Auto preview' });
  await row(page, file).getByRole('button', { name: /^iso3\.png, / }).click();
  await expect(autoPreview).not.toBeChecked();
  await autoPreview.check();
  await expect.poll(() => page.evaluate(async () => {
    const r = await fetch('/api/call/settings.get', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Restora-Token': sessionStorage.getItem('restora.token') ?? '' }, body: '{}' });
    return (await r.json()).result.autoPreview;
  })).toBe(true);
});

test("Compare strengths leaves out the recipe's Inpaint step (its mask was painted on another photo)", async ({ app: page, work }) => {
  const dir = path.join(work, 'two');
  const small = path.join(dir, 'small.png');
  const big = path.join(dir, 'big.png');
  await makePhoto(small, { seed: 21, sigma: 12, width: 320, height: 240 });
  await makePhoto(big, { seed: 22, sigma: 12, width: 480, height: 360 });
  await addPath(page, dir);
  await expect(page.locator('li[data-path]')).toHaveCount(2);
  await row(page, small).getByRole('button', { name: /^small\.png, / }).click();
  await page.getByRole('button', { name: 'Paint a mask on small.png' }).click();
  await expect(page.getByTestId('mask-canvas')).toHaveAttribute('width', '320');
  await strokeAcross(page, { half: 30, steps: 6 });
  await page.getByRole('button', { name: "Use this mask in the recipe's Inpaint step" }).click();
  await expect(page.locator('li.step[data-task="inpaint"]')).toBeVisible();
  // the other photo, of another size: its strengths are compared without that mask
  await row(page, big).getByRole('button', { name: /^big\.png, / }).click();
  await page.getByRole('tab', { name: 'Compare' }).click();
  await page.getByRole('button', { name: 'Compare denoise strengths on the centre of the view' }).click();
  const dlg = page.getByRole('dialog', { name: 'Compare strengths' });
  await expect(dlg.getByTestId('strengths-about')).toContainText('(the recipe without its Inpaint step)');
  await expect(dlg.locator('img')).toHaveCount(5, { timeout: 60_000 });
  await expect(dlg.getByText(/E_MASK|E_[A-Z]+:/)).toHaveCount(0);
});
