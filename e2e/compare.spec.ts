// A denoise opened in compare: slider by mouse and keyboard, hold-to-toggle, side by side with
// synchronised zoom/pan, 1:1 (and an upscale's Result 1:1), and region previews that process only the visible crop.
import os from 'node:os';
import path from 'node:path';
import { addPath, expect, row, shot, test } from './support/fixtures.ts';
import { makePhoto, psnr, rawRgb } from './support/photos.ts';

test('a denoise opened in compare, with the slider moved', async ({ app: page, work, served }) => {
  const file = path.join(work, 'street.png');
  const clean = await makePhoto(file, { seed: 5, sigma: 25, width: 480, height: 360 });
  await addPath(page, file);
  await expect(row(page, file)).toBeVisible();
  await page.getByRole('button', { name: 'Run on selected' }).click();
  await expect(row(page, file).getByTestId('status')).toHaveText('Done', { timeout: 60_000 });

  // the result is on the after side: the output's display copy, loaded over /files
  const pane = page.getByTestId('compare-pane');
  await expect(pane.getByText('After', { exact: true })).toBeVisible();
  const afterImg = page.getByTestId('after-layer').locator('img.base');
  await expect(afterImg).toHaveAttribute('alt', 'Result: street.png');
  await expect(afterImg).toHaveAttribute('src', /^\/files\?path=/);
  const beforeSrc = await pane.locator('img.base').first().getAttribute('src');
  expect(await afterImg.getAttribute('src')).not.toBe(beforeSrc);
  await expect.poll(() => afterImg.evaluate((i: HTMLImageElement) => i.naturalWidth)).toBeGreaterThan(0);

  // the divider, by mouse
  const slider = page.getByRole('slider', { name: 'Before/after divider' });
  await expect(slider).toHaveAttribute('aria-valuenow', '50');
  const box = (await slider.boundingBox())!;
  const paneBox = (await pane.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(paneBox.x + paneBox.width * 0.3, box.y + box.height / 2, { steps: 8 });
  await page.mouse.up();
  await expect(slider).toHaveAttribute('aria-valuenow', '30');
  await expect(page.getByTestId('after-layer')).toHaveAttribute('style', /inset\(0px 0px 0px 30(\.\d+)?%\)/);

  // ... and by keyboard
  await slider.focus();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await expect(slider).toHaveAttribute('aria-valuenow', '34');
  await page.keyboard.press('Shift+ArrowRight');
  await expect(slider).toHaveAttribute('aria-valuenow', '44');
  await page.keyboard.press('End');
  await expect(slider).toHaveAttribute('aria-valuenow', '100');
  await page.keyboard.press('Home');
  await page.keyboard.press('Shift+ArrowRight');
  await page.keyboard.press('Shift+ArrowRight');
  await page.keyboard.press('Shift+ArrowRight');
  await page.keyboard.press('Shift+ArrowRight');
  await page.keyboard.press('Shift+ArrowRight');
  await expect(slider).toHaveAttribute('aria-valuenow', '50');
  await shot(page, 'compare-slider', 'compare');

  // hold B: the original alone, until released
  await pane.focus();
  await page.keyboard.down('b');
  await expect(page.getByTestId('after-layer')).toHaveCount(0);
  await expect(pane.getByText('Before (held)')).toBeVisible();
  await page.keyboard.up('b');
  await expect(page.getByTestId('after-layer')).toHaveCount(1);

  // side by side, zoom and pan shared by both panes
  await page.getByRole('button', { name: 'Side by side' }).click();
  const left = page.getByTestId('compare-pane');
  const right = page.getByTestId('compare-pane-after');
  await expect(right).toBeVisible();
  await page.getByRole('button', { name: 'Zoom in' }).click();
  await page.getByRole('button', { name: 'Zoom in' }).click();
  const lb = (await left.boundingBox())!;
  await page.mouse.move(lb.x + lb.width / 2, lb.y + lb.height / 2);
  await page.mouse.down();
  await page.mouse.move(lb.x + lb.width / 2 - 60, lb.y + lb.height / 2 - 40, { steps: 5 });
  await page.mouse.up();
  const transforms = async () => [await left.locator('.stage').getAttribute('style'), await right.locator('.stage').getAttribute('style')];
  const [lt, rt] = await transforms();
  expect(lt).toContain('transform');
  expect(lt).toBe(rt);
  // wheel over the right pane moves both
  const rb = (await right.boundingBox())!;
  await page.mouse.move(rb.x + rb.width / 3, rb.y + rb.height / 3);
  await page.mouse.wheel(0, -300);
  const [lt2, rt2] = await transforms();
  expect(lt2).not.toBe(lt);
  expect(lt2).toBe(rt2);

  // zoom is capped at 400 %, 1:1 is 100 %
  for (let i = 0; i < 12; i++) await page.mouse.wheel(0, -400);
  await expect(page.getByTestId('zoom')).toHaveText('400 %');
  await page.getByRole('button', { name: 'Zoom to 100 % (1:1)' }).click();
  await expect(page.getByTestId('zoom')).toHaveText('100 %');

  // zoomed past the display copy: only the visible crop is processed, before and after
  await page.getByRole('button', { name: 'Slider' }).click();
  await page.getByRole('button', { name: 'Preview the visible area (P)' }).click();
  await expect(page.getByTestId('preview-status')).toHaveText(/Preview \d+×\d+ in [\d.]+ s/, { timeout: 30_000 });
  const tile = page.getByTestId('after-layer').locator('img.tile');
  await expect(tile.first()).toHaveAttribute('src', /^\/files\?path=/);
  await expect.poll(() => tile.first().evaluate((i: HTMLImageElement) => i.naturalWidth)).toBeGreaterThan(0);
  const status = await page.getByTestId('preview-status').textContent();
  const [, w, h] = /Preview (\d+)×(\d+)/.exec(status ?? '') ?? [];
  const paneNow = (await page.getByTestId('compare-pane').boundingBox())!;
  // never more than what the pane shows (the photo is 480x360)
  expect(Number(w)).toBeLessThanOrEqual(Math.min(480, Math.ceil(paneNow.width) + 1));
  expect(Number(h)).toBeLessThanOrEqual(Math.min(360, Math.ceil(paneNow.height) + 1));

  // the denoiser makes the photo closer to the clean scene (only meaningful with the shipped models)
  const out = (await rawRgb(path.join(work, 'restored', 'street-restored.png'))).data;
  const noisy = (await rawRgb(file)).data;
  const gain = psnr(out, clean) - psnr(noisy, clean);
  console.log(`denoise: PSNR noisy ${psnr(noisy, clean).toFixed(2)} dB -> output ${psnr(out, clean).toFixed(2)} dB (${served.shipped ? 'shipped' : 'fixture'} models)`);
  if (served.shipped) expect(gain).toBeGreaterThan(2);
});

test('a 24 MP photo: display copy only, smooth zoom and pan, 512x512 region previews in about a second', async ({ app: page, work }) => {
  const file = path.join(work, 'large.jpg');
  const t0 = Date.now();
  await makePhoto(file, { seed: 8, sigma: 20, width: 6000, height: 4000 });
  console.log(`24 MP test photo made in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  await addPath(page, file);
  await expect(row(page, file).locator('img')).toHaveJSProperty('complete', true, { timeout: 60_000 });
  // the compare shows the downsized display copy, never the full 24 MP photo
  const base = page.getByTestId('compare-pane').locator('img.base').first();
  await expect.poll(() => base.evaluate((i: HTMLImageElement) => i.naturalWidth)).toBeGreaterThan(0);
  const natural = await base.evaluate((i: HTMLImageElement) => i.naturalWidth);
  console.log(`display copy: ${natural} px wide for a 6000 px photo`);
  expect(natural).toBeLessThan(6000 / 2);

  // zoom and pan: frames keep coming while the view moves (software rendering, no GPU)
  const pane = page.getByTestId('compare-pane');
  const pb = (await pane.boundingBox())!;
  await page.evaluate(() => {
    const w = window as unknown as { frames_: number[] };
    w.frames_ = [];
    const tick = (t: number) => {
      w.frames_.push(t);
      if (w.frames_.length < 2000) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await page.mouse.move(pb.x + pb.width / 2, pb.y + pb.height / 2);
  for (let i = 0; i < 6; i++) await page.mouse.wheel(0, -200);
  await page.mouse.down();
  for (let i = 0; i < 20; i++) await page.mouse.move(pb.x + pb.width / 2 - i * 12, pb.y + pb.height / 2 - i * 6);
  await page.mouse.up();
  const gaps = await page.evaluate(() => {
    const f = (window as unknown as { frames_: number[] }).frames_;
    return f.slice(1).map((t, i) => t - f[i]).sort((a, b) => a - b);
  });
  const p90 = gaps[Math.floor(gaps.length * 0.9)];
  // under 100 ms on a quiet machine; when other work keeps every core busy (load average above the core
  // count: a CI runner doing something else, a training run) the bound grows with the load, and says so
  const frameLoad = Math.max(1, os.loadavg()[0] / os.cpus().length);
  console.log(`zoom/pan frames: ${gaps.length}, median ${gaps[gaps.length >> 1].toFixed(1)} ms, p90 ${p90.toFixed(1)} ms (bound ${(100 * frameLoad).toFixed(0)} ms at load ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`);
  expect(p90).toBeLessThan(100 * frameLoad);

  // time preview.region for 512x512 crops exactly as the UI calls it (warm once: model load)
  const times = await page.evaluate(async (p) => {
    const token = sessionStorage.getItem('restora.token') ?? '';
    const call = async (x: number, y: number) => {
      const t0 = performance.now();
      const r = await fetch('/api/call/preview.region', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Restora-Token': token },
        body: JSON.stringify({ path: p, region: { x, y, width: 512, height: 512 }, recipe: [{ task: 'denoise', sigma: 'auto' }] }),
      });
      const body = await r.json();
      if (!r.ok) throw new Error(JSON.stringify(body));
      return { wall: (performance.now() - t0) / 1000, engine: body.result.seconds as number, region: body.result.region };
    };
    await call(0, 0);
    return [await call(1500, 1000), await call(3000, 2000), await call(4500, 3000), await call(800, 2600)];
  }, file);
  for (const t of times) expect(t.region).toMatchObject({ width: 512, height: 512 });
  const best = Math.min(...times.map((t) => t.wall));
  console.log(`region preview 512x512: ${times.map((t) => `${t.wall.toFixed(2)} s (engine ${t.engine.toFixed(2)} s)`).join(', ')}`);
  // "about a second" on a 2-core CPU: 2.5 s on a quiet machine; when other work already keeps every
  // core busy (load average above the core count) the bound grows with the load, and says so
  const contention = Math.max(1, os.loadavg()[0] / os.cpus().length);
  const bound = 2.5 * contention;
  console.log(`region preview bound ${bound.toFixed(1)} s (load ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`);
  expect(best).toBeLessThan(bound);

  // and through the UI: zoom to 1:1 on the photo, the visible crop is previewed automatically
  await page.getByRole('button', { name: 'Zoom to 100 % (1:1)' }).click();
  await expect(page.getByTestId('preview-status')).toHaveText(/Preview \d+×\d+ in [\d.]+ s/, { timeout: 30_000 });
  await expect(page.getByTestId('after-layer').locator('img.tile').first()).toBeVisible();
  await shot(page, 'region-preview', 'region-preview');
});

test.describe('on a HiDPI screen (2 device pixels per CSS pixel)', () => {
  test.use({ deviceScaleFactor: 2, viewport: { width: 1400, height: 900 } });

  test('100 % previews the centre by itself, and the original says where it is only the reduced copy', async ({ app: page, work }) => {
    const file = path.join(work, 'hidpi.jpg');
    await makePhoto(file, { seed: 12, sigma: 15, width: 3000, height: 2000 });
    await addPath(page, file);
    await expect(row(page, file).locator('img')).toHaveJSProperty('complete', true, { timeout: 60_000 });
    const label = page.getByTestId('before-label');
    await expect(label).toHaveText('Before'); // at fit the display copy is enough
    // 100 % here shows 4x the image pixels of a normal screen: too many for an automatic preview of all of it
    await page.getByRole('button', { name: 'Zoom to 100 % (1:1)' }).click();
    await expect(page.getByTestId('zoom')).toHaveText('100 %');
    await expect(page.getByTestId('preview-status')).toHaveText(/Preview 1024×1024 in [\d.]+ s \(centre of the view\)/, { timeout: 30_000 });
    await expect(page.getByTestId('after-layer').locator('img.tile').first()).toBeVisible();
    await expect(label).toHaveText('Before · full detail in the previewed centre only');
    // P previews all of the visible area: then the original is in full detail wherever it is seen
    await page.getByTestId('compare-pane').focus();
    await page.keyboard.press('p');
    await expect(page.getByTestId('preview-status')).toHaveText(/Preview \d+×\d+ in [\d.]+ s$/, { timeout: 30_000 });
    await expect(label).toHaveText('Before');
  });
});

test("an upscale's result can be seen at its own pixels: Result 1:1, and the zoom says what the result's pixels are shown at", async ({ app: page, work }) => {
  const file = path.join(work, 'crop.png');
  await makePhoto(file, { seed: 17, width: 160, height: 120 });
  await page.getByRole('button', { name: 'Remove Denoise (step 1)' }).click();
  await page.getByRole('button', { name: '+ Upscale' }).click();
  await page.locator('li.step[data-task="upscale"]').getByRole('radio', { name: '×4' }).check();
  await addPath(page, file);
  await page.getByRole('button', { name: 'Run on 1 photo' }).click();
  await expect(row(page, file).getByTestId('status')).toHaveText('Done', { timeout: 60_000 });
  await row(page, file).getByRole('button', { name: 'Compare crop.png' }).click();
  await page.getByRole('button', { name: "Zoom to the result's own pixels (400 %)" }).click();
  await expect(page.getByTestId('zoom')).toHaveText('400 %');
  await expect(page.getByTestId('result-zoom')).toHaveText('result 100 %');
  await page.getByRole('button', { name: 'Zoom to 100 % (1:1)' }).click();
  await expect(page.getByTestId('zoom')).toHaveText('100 %');
  await expect(page.getByTestId('result-zoom')).toHaveText('result 25 %');
});
