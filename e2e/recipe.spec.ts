// Recipes: denoise (8 passes) then upscale x2, saved as a named preset, applied to a whole batch in one pass.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { addPath, expect, shot, test } from './support/fixtures.ts';
import { listFiles, makePhoto, makePhotos } from './support/photos.ts';

test('a chained recipe saved as a preset and applied to a batch in one pass', async ({ app: page, work }) => {
  const dir = path.join(work, 'scans');
  await makePhotos(dir, ['a.png', 'b.png'], { seed: 11, sigma: 10, width: 160, height: 120 });

  // denoise at a fixed strength, then upscale x2
  const denoise = page.locator('li[data-task="denoise"]');
  await denoise.getByLabel('Auto: estimate the noise level of each photo').uncheck();
  await denoise.getByLabel('Strength').fill('30');
  await expect(denoise.locator('output')).toHaveText('σ 15');
  // best quality (8 passes) on the denoise step only
  await denoise.getByRole('checkbox', { name: /^Best quality: 8 passes/ }).check();
  await page.getByRole('button', { name: '+ Upscale' }).click();
  const up = page.locator('li[data-task="upscale"]');
  await expect(up.getByLabel('×2')).toBeChecked();
  await expect(up.getByRole('checkbox', { name: /^Best quality: 8 passes/ })).not.toBeChecked();
  await expect(page.getByTestId('recipe-summary')).toHaveText('Denoise σ 15, 8 passes → Upscale ×2');
  // every step shows its model card
  await up.getByText(/^Model card:/).click();
  await expect(up.getByText('Architecture')).toBeVisible();

  await page.getByLabel('Name for a new preset').fill('Scans: clean + 2x');
  await page.getByRole('button', { name: 'Save preset' }).click();
  await expect(page.getByText('Preset “Scans: clean + 2x” saved')).toBeVisible();

  // change the recipe, then get it back from the preset
  await page.getByRole('button', { name: 'Remove Upscale (step 2)' }).click();
  await page.getByRole('button', { name: 'Remove Denoise (step 1)' }).click();
  await expect(page.getByText('Add a step: denoise, upscale or inpaint.')).toBeVisible();
  await page.getByLabel('Preset', { exact: true }).selectOption('Scans: clean + 2x');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByTestId('recipe-summary')).toHaveText('Denoise σ 15, 8 passes → Upscale ×2');
  await shot(page, 'recipe', 'recipe');

  await addPath(page, dir);
  await expect(page.locator('li[data-path]')).toHaveCount(2);
  await page.getByRole('button', { name: 'Run on 2 photos' }).click();
  await expect(page.getByText(/^Finished · 2 done/)).toBeVisible({ timeout: 60_000 });

  // one output per photo, twice the size; no intermediate (denoised-only) files anywhere
  const images = listFiles(dir).filter((f) => /\.(png|jpe?g|tiff?|webp)$/i.test(f));
  const outputs = images.filter((f) => f.includes(`${path.sep}restored${path.sep}`));
  expect(outputs).toHaveLength(2);
  expect(images).toHaveLength(4);
  for (const o of outputs) {
    const m = await sharp(o).metadata();
    expect([m.width, m.height]).toEqual([320, 240]);
  }
  expect(fs.readdirSync(dir).sort()).toEqual(['a.png', 'b.png', 'restored']);

  // the preset survives a reload (it lives in the engine's data folder)
  await page.reload();
  await expect(page.getByLabel('Preset', { exact: true }).locator('option', { hasText: 'Scans: clean + 2x' })).toHaveCount(1);
  // a name already taken (in another case) says that saving replaces that preset, before anything is saved
  await page.getByLabel('Name for a new preset').fill('scans: CLEAN + 2x');
  await expect(page.getByText('Replaces the preset “Scans: clean + 2x” (Denoise σ 15, 8 passes → Upscale ×2).')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Replace', exact: true })).toBeEnabled();
  await page.getByLabel('Name for a new preset').fill('');
  await page.getByLabel('Preset', { exact: true }).selectOption('Scans: clean + 2x');
  await page.getByRole('button', { name: 'Delete preset Scans: clean + 2x' }).click();
  await expect(page.getByLabel('Preset', { exact: true }).locator('option', { hasText: 'Scans: clean + 2x' })).toHaveCount(0);
  // a delete can be taken back
  await expect(page.getByText('Deleted “Scans: clean + 2x”.')).toBeVisible();
  await page.getByRole('button', { name: 'Undo', exact: true }).click();
  await expect(page.getByLabel('Preset', { exact: true }).locator('option', { hasText: 'Scans: clean + 2x' })).toHaveCount(1);
  await expect(page.getByTestId('preset-recipe')).toHaveText('Denoise σ 15, 8 passes → Upscale ×2');
  await page.getByRole('button', { name: 'Delete preset Scans: clean + 2x' }).click();
  await expect(page.getByLabel('Preset', { exact: true }).locator('option', { hasText: 'Scans: clean + 2x' })).toHaveCount(0);
});

test('new settings after a run: the photos can run again, and the After side says which settings made it', async ({ app: page, work }) => {
  const dir = path.join(work, 'again');
  await makePhoto(path.join(dir, 'a.png'), { seed: 21, sigma: 10, width: 160, height: 120 });
  const denoise = page.locator('li[data-task="denoise"]');
  await denoise.getByLabel('Auto: estimate the noise level of each photo').uncheck();
  await denoise.getByLabel('Strength').fill('20');
  await addPath(page, dir);
  await page.getByRole('button', { name: 'Run on 1 photo' }).click();
  await expect(page.getByText(/^Finished · 1 done/)).toBeVisible({ timeout: 60_000 });
  await expect(page.getByRole('button', { name: 'All photos done' })).toBeDisabled();
  await expect(page.getByTestId('compare-pane').getByText('After', { exact: true })).toBeVisible();

  // another strength: the photo needs a run again, and the result on screen is named for what made it
  await denoise.getByLabel('Strength').fill('40');
  await expect(page.getByRole('button', { name: 'Run on 1 photo' })).toBeEnabled();
  await expect(page.getByTestId('again')).toHaveText('1 of them was done with other settings: it gets a new output beside the old one.');
  await expect(page.getByTestId('compare-pane').getByText('After (made with Denoise σ 10)', { exact: true })).toBeVisible();
  await page.getByRole('button', { name: 'Run on 1 photo' }).click();
  await expect(page.getByText(/^Finished · 1 done/)).toBeVisible({ timeout: 60_000 });
  expect(fs.readdirSync(path.join(dir, 'restored')).filter((f) => f.endsWith('.png')).sort()).toEqual(['a-restored-1.png', 'a-restored.png']);
  await expect(page.getByRole('button', { name: 'All photos done' })).toBeDisabled();
  // the row says the new result's name, since it is not the one the settings give
  await expect(page.getByTestId('saved-as')).toHaveText('saved as a-restored-1.png (the name was taken)');
});

test('a preset can keep the output settings: applying it sets them, and says so', async ({ app: page }) => {
  const setSettings = (patch: Record<string, unknown>) =>
    page.evaluate(async (p) => {
      const r = await fetch('/api/call/settings.set', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Restora-Token': sessionStorage.getItem('restora.token') ?? '' }, body: JSON.stringify(p) });
      return (await r.json()).result;
    }, patch);
  const settings = page.getByRole('dialog', { name: 'Settings' });
  try {
    await page.getByRole('button', { name: 'Settings' }).click();
    await settings.getByLabel('Format').selectOption('jpeg');
    await settings.getByLabel('Quality').fill('85');
    await settings.getByLabel('File name suffix').fill('-web');
    await page.keyboard.press('Escape');
    await page.getByLabel('Name for a new preset').fill('Web export');
    await page.getByRole('checkbox', { name: 'with the output settings (format, quality, suffix)' }).check();
    await page.getByRole('button', { name: 'Save preset' }).click();
    await expect(page.getByText('Preset “Web export” saved')).toBeVisible();
    // other output settings meanwhile
    await page.reload();
    await setSettings({ format: 'png', suffix: '-restored' });
    await page.reload();
    await page.getByLabel('Preset', { exact: true }).selectOption('Web export');
    await expect(page.getByTestId('preset-recipe')).toHaveText('Denoise (auto) · JPEG, quality 85, suffix “-web”');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect(page.getByText('Output settings from “Web export”: JPEG, quality 85, suffix “-web”.')).toBeVisible();
    await page.getByRole('button', { name: 'Settings' }).click();
    await expect(settings.getByLabel('Format')).toHaveValue('jpeg');
    await expect(settings.getByLabel('Quality')).toHaveValue('85');
    await expect(settings.getByLabel('File name suffix')).toHaveValue('-web');
    await page.keyboard.press('Escape');
  } finally {
    // settings last for the worker's other tests: back to the defaults
    await setSettings({ format: 'keep', quality: 92, suffix: '-restored' });
    await page.getByLabel('Preset', { exact: true }).selectOption('Web export').catch(() => {});
    await page.getByRole('button', { name: 'Delete preset Web export' }).click().catch(() => {});
  }
});
