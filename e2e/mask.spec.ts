// A painted mask is inpainted, and the output changes only in and near the mask.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { addPath, expect, row, shot, test } from './support/fixtures.ts';
import { maskCoverage, openMaskOn, strokeAcross } from './support/mask.ts';
import { listFiles, makePhoto, makePhotos, rawRgb, snapshot } from './support/photos.ts';

const coverage = maskCoverage;

test('a painted mask inpainted, with the output changed only in and near the mask', async ({ app: page, work, served }) => {
  const file = path.join(work, 'wall.png');
  await makePhoto(file, { seed: 3, width: 400, height: 300 });
  const before = snapshot([file]);
  await addPath(page, file);
  await expect(row(page, file)).toBeVisible();
  await page.getByRole('button', { name: 'Paint a mask on wall.png' }).click();
  await expect(page.getByRole('tab', { name: 'Mask' })).toHaveAttribute('aria-selected', 'true');

  const pane = page.getByTestId('mask-pane');
  await expect(page.getByTestId('mask-canvas')).toHaveAttribute('width', '400');
  await page.getByLabel('Brush size in pixels').fill('24');
  const b = (await pane.boundingBox())!;
  const cx = b.x + b.width / 2;
  const cy = b.y + b.height / 2;
  // one stroke across the middle of the photo
  await page.mouse.move(cx - 90, cy - 10);
  await page.mouse.down();
  await page.mouse.move(cx + 90, cy + 10, { steps: 15 });
  await page.mouse.up();
  await expect.poll(() => coverage(page)).toBeGreaterThan(0);
  const painted = await coverage(page);

  // undo / redo with the keyboard
  await page.keyboard.press('Control+z');
  await expect.poll(() => coverage(page)).toBe(0);
  await page.keyboard.press('Control+Shift+z');
  await expect.poll(() => coverage(page)).toBe(painted);
  // with the Size slider just moved by the keyboard, Ctrl+Z and Ctrl+Y still undo and redo the painting
  await page.getByLabel('Brush size in pixels').focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByLabel('Brush size in pixels')).toHaveValue('25');
  await page.keyboard.press('Control+z');
  await expect.poll(() => coverage(page)).toBe(0);
  await page.keyboard.press('Control+y');
  await expect.poll(() => coverage(page)).toBe(painted);

  // invert and back, clear and undo, the eraser
  await page.getByRole('button', { name: 'Invert the mask' }).click();
  await expect.poll(() => coverage(page)).toBeGreaterThan(90);
  await page.getByRole('button', { name: 'Undo (Ctrl+Z)' }).click();
  await expect.poll(() => coverage(page)).toBe(painted);
  await page.getByRole('button', { name: 'Clear the mask' }).click();
  await expect.poll(() => coverage(page)).toBe(0);
  await page.getByRole('button', { name: 'Undo (Ctrl+Z)' }).click();
  await expect.poll(() => coverage(page)).toBe(painted);
  await page.getByRole('button', { name: 'Eraser', exact: true }).click();
  await page.mouse.move(cx + 40, cy - 30);
  await page.mouse.down();
  await page.mouse.move(cx + 40, cy + 30, { steps: 6 });
  await page.mouse.up();
  await expect.poll(() => coverage(page)).toBeLessThan(painted);
  await page.getByRole('button', { name: 'Brush', exact: true }).click();

  // overlay off and on
  await page.getByRole('button', { name: 'Show the mask overlay (O)' }).click();
  await expect(page.getByTestId('mask-canvas')).toBeHidden();
  await page.getByRole('button', { name: 'Show the mask overlay (O)' }).click();
  await expect(page.getByTestId('mask-canvas')).toBeVisible();
  await shot(page, 'mask-painter', 'mask');

  // inpaint: the result opens in compare
  await page.getByRole('button', { name: 'Inpaint this photo with the mask' }).click();
  await expect(row(page, file).getByTestId('status')).toHaveText('Done', { timeout: 60_000 });
  await expect(page.getByRole('tab', { name: 'Compare' })).toHaveAttribute('aria-selected', 'true');
  // the label says the result was made by Inpaint, not by the recipe being edited (Denoise)
  await expect(page.getByTestId('compare-pane').getByText('After (made with Inpaint)', { exact: true })).toBeVisible();
  // the after side is the inpainted file itself, not a preview of the recipe being edited (denoise)
  await page.waitForTimeout(1500);
  await expect(page.getByTestId('after-layer').locator('img.tile')).toHaveCount(0);
  await expect(page.getByTestId('after-layer').locator('img.base')).toHaveAttribute('alt', 'Result: wall.png');
  await shot(page, 'inpaint-result', 'inpaint-result');
  const shownFile = async () => new URL((await page.getByTestId('after-layer').locator('img.base').getAttribute('src'))!, 'http://x').searchParams.get('path');
  const plainShown = await shownFile();

  // the saved mask (the one Inpaint used; a draft of the strokes may lie beside it): white where painted, at the photo's size
  const masks = listFiles(path.join(served.dataDir, 'masks')).filter((f) => f.endsWith('.png') && !f.endsWith('.draft.png') && f.includes('wall'));
  expect(masks).toHaveLength(1);
  const mask = await sharp(masks[0]).greyscale().raw().toBuffer({ resolveWithObject: true });
  expect([mask.info.width, mask.info.height]).toEqual([400, 300]);

  const outputs = listFiles(path.join(work, 'restored')).filter((f) => /\.png$/.test(f));
  expect(outputs).toHaveLength(1);
  const inp = await rawRgb(file);
  const out = await rawRgb(outputs[0]);
  expect([out.width, out.height]).toEqual([400, 300]);

  // "near": within 12 px of a painted pixel (feathered edge and blending margin)
  const W = 400;
  const H = 300;
  const NEAR = 12;
  const near = new Uint8Array(W * H);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      if (mask.data[y * W + x] < 8) continue;
      for (let dy = -NEAR; dy <= NEAR; dy++)
        for (let dx = -NEAR; dx <= NEAR; dx++) {
          const xx = x + dx;
          const yy = y + dy;
          if (xx >= 0 && yy >= 0 && xx < W && yy < H) near[yy * W + xx] = 1;
        }
    }
  let outsideMax = 0;
  let insideSum = 0;
  let insideN = 0;
  for (let i = 0; i < W * H; i++) {
    const d = Math.max(Math.abs(inp.data[i * 3] - out.data[i * 3]), Math.abs(inp.data[i * 3 + 1] - out.data[i * 3 + 1]), Math.abs(inp.data[i * 3 + 2] - out.data[i * 3 + 2]));
    if (!near[i]) outsideMax = Math.max(outsideMax, d);
    if (mask.data[i] >= 128) {
      insideSum += d;
      insideN++;
    }
  }
  console.log(`inpaint: max change outside the mask (+${NEAR} px) ${outsideMax}/255, mean change inside ${(insideSum / insideN).toFixed(1)}/255 over ${insideN} px`);
  expect(insideN).toBeGreaterThan(500);
  expect(outsideMax).toBeLessThanOrEqual(2);
  expect(insideSum / insideN).toBeGreaterThan(2);

  // Match grain: the mask view's Inpaint runs again with the photo's grain in the fill, as a new output,
  // and the setting is the recipe's Inpaint step's once the mask is used there
  await page.getByRole('tab', { name: 'Mask' }).click();
  await page.getByRole('checkbox', { name: 'Match grain' }).check();
  await page.getByRole('button', { name: 'Inpaint this photo with the mask' }).click();
  await expect(row(page, file).getByTestId('used')).toContainText('inpaint, grain matched', { timeout: 60_000 });
  await expect(page.getByTestId('compare-pane').getByText('After (made with Inpaint, grain matched)', { exact: true })).toBeVisible();
  expect(listFiles(path.join(work, 'restored')).filter((f) => /\.png$/.test(f))).toHaveLength(2);
  expect(await shownFile()).not.toBe(plainShown);
  // grain off again: that result exists, and it is the one shown, named by the settings that made it
  await page.getByRole('tab', { name: 'Mask' }).click();
  await page.getByRole('checkbox', { name: 'Match grain' }).uncheck();
  await page.getByRole('button', { name: 'Inpaint this photo with the mask' }).click();
  await expect(row(page, file).getByTestId('status')).toHaveText('Already done', { timeout: 60_000 });
  await expect(page.getByText('Already done with these settings: the earlier result is shown.')).toBeVisible();
  await expect(page.getByText(/^0 photos restored/)).toHaveCount(0);
  await expect(page.getByRole('tab', { name: 'Compare' })).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByTestId('compare-pane').getByText('After (made with Inpaint)', { exact: true })).toBeVisible();
  await expect.poll(shownFile).toBe(plainShown);
  await expect(row(page, file).getByTestId('used')).toHaveCount(0); // nothing of the grain run is said of it
  await page.getByRole('tab', { name: 'Mask' }).click();
  await page.getByRole('checkbox', { name: 'Match grain' }).check();
  await page.getByRole('button', { name: "Use this mask in the recipe's Inpaint step" }).click();
  const stepGrain = page.locator('li.step[data-task="inpaint"]').getByRole('checkbox', { name: /Match grain/ });
  await expect(stepGrain).toBeChecked();
  await stepGrain.uncheck();
  await expect(page.getByRole('checkbox', { name: 'Match grain', exact: true })).not.toBeChecked();

  expect(snapshot([file]).get(file)).toEqual(before.get(file));
  expect(fs.readdirSync(work).sort()).toEqual(['restored', 'wall.png']);
});

test("at 100 % the mask is painted over the photo's true pixels, not its enlarged display copy", async ({ app: page, work }) => {
  const file = path.join(work, 'scan.jpg');
  await makePhoto(file, { seed: 21, sigma: 5, width: 3000, height: 2000 });
  await addPath(page, file);
  await expect(row(page, file).locator('img')).toHaveJSProperty('complete', true, { timeout: 60_000 });
  await page.getByRole('button', { name: 'Paint a mask on scan.jpg' }).click();
  await expect(page.getByTestId('mask-canvas')).toHaveAttribute('width', '3000');
  const zoom = page.getByTestId('mask-zoom');
  await expect(zoom).not.toContainText('·'); // at fit the display copy is enough
  await page.getByTestId('mask-pane').focus();
  await page.keyboard.press('1');
  await expect(zoom).toHaveText('100 % · true pixels', { timeout: 30_000 });
  const detail = page.getByTestId('mask-detail');
  await expect(detail).toBeVisible();
  const base = await page.getByTestId('mask-pane').locator('img.base').evaluate((i: HTMLImageElement) => i.naturalWidth);
  expect(base).toBeLessThan(3000); // the display copy
  // the crop is drawn at one image pixel per CSS pixel: its own pixel size on screen at 100 %
  const d = await detail.evaluate((i: HTMLImageElement) => ({ natural: i.naturalWidth, shown: i.getBoundingClientRect().width }));
  expect(d.natural).toBeGreaterThan(500);
  expect(Math.abs(d.shown - d.natural)).toBeLessThan(2);
});

test('an Inpaint step on a grainy photo says the fill would be smooth without Match grain', async ({ app: page, work }) => {
  const grainy = path.join(work, 'grainy.png');
  const clean = path.join(work, 'clean.png');
  await makePhoto(grainy, { seed: 33, sigma: 14, width: 320, height: 240 });
  await makePhoto(clean, { seed: 34, sigma: 0, width: 320, height: 240 });
  await addPath(page, grainy);
  await addPath(page, clean);
  await page.getByRole('button', { name: '+ Inpaint' }).click();
  // painting a mask on it: that is where a fill is being made (photos only browsed past are not read)
  await row(page, grainy).getByRole('button').first().click();
  await row(page, grainy).getByRole('button', { name: 'Paint a mask on grainy.png' }).click();
  const hint = page.getByTestId('grain-hint');
  await expect(hint).toHaveText(/^This photo has grain \(Auto reads σ \d+\.\d\): without Match grain the fill is a smooth patch in it\.$/, { timeout: 30_000 });
  await page.locator('li.step[data-task="inpaint"]').getByRole('checkbox', { name: /Match grain/ }).check();
  await expect(hint).toHaveCount(0);
  await page.locator('li.step[data-task="inpaint"]').getByRole('checkbox', { name: /Match grain/ }).uncheck();
  await expect(hint).toBeVisible();
  // a clean photo: nothing to say
  await row(page, clean).getByRole('button').first().click();
  await row(page, clean).getByRole('button', { name: 'Paint a mask on clean.png' }).click();
  await page.waitForTimeout(1500); // its reading is asked for 0.6 s after it is shown
  await expect(hint).toHaveCount(0);
});

test('with the keyboard alone the crosshair reaches the edge of a photo that fits the pane, and paints there', async ({ app: page, work }) => {
  await openMaskOn(page, path.join(work, 'edge.png'), { seed: 41, width: 400, height: 300 });
  await page.getByLabel('Brush size in pixels').fill('20');
  const pane = page.getByTestId('mask-pane');
  await pane.focus();
  // the left edge to the crosshair (the photo stayed centred: one blob in its middle was all it could paint)
  for (let i = 0; i < 12; i++) await page.keyboard.press('Shift+ArrowLeft');
  await page.keyboard.down('Enter');
  await page.keyboard.up('Enter');
  const alphaAt = (x: number, y: number) => page.getByTestId('mask-canvas').evaluate((c: HTMLCanvasElement, [px, py]) => c.getContext('2d')!.getImageData(px, py, 1, 1).data[3], [x, y]);
  await expect.poll(() => alphaAt(2, 150)).toBeGreaterThan(0); // painted at the left edge
  expect(await alphaAt(200, 150)).toBe(0); // not in the middle
});

test('the very same mask used again, or Run on selected after a Run, makes nothing twice', async ({ app: page, work }) => {
  const dir = path.join(work, 'spots');
  const [a] = await makePhotos(dir, ['a.png', 'b.png'], { seed: 81, width: 320, height: 240 });
  await addPath(page, dir);
  await expect(page.locator('li[data-path]')).toHaveCount(2);
  await page.getByRole('button', { name: 'Paint a mask on a.png' }).click();
  await expect(page.getByTestId('mask-canvas')).toHaveAttribute('width', '320');
  const stroke = (dy: number) => strokeAcross(page, { half: 40, dy, steps: 8 });
  await stroke(0);
  await page.getByRole('button', { name: "Use this mask in the recipe's Inpaint step" }).click();
  await expect(page.locator('li.step[data-task="inpaint"]')).toBeVisible();
  await page.getByRole('button', { name: /^Run on 2 photos/ }).click();
  await expect(page.getByText(/^Finished · 2 done/)).toBeVisible({ timeout: 60_000 });
  const run = page.getByRole('button', { name: /^(Run on \d+ photos?|All photos done)$/ });
  await expect(run).toHaveText('All photos done');

  // a stroke painted and undone: the mask used again is the very same, so what was done stands
  await page.getByRole('tab', { name: 'Mask' }).click();
  await stroke(40);
  // strokes painted since the mask was used: the Inpaint step says they count once it is used again
  const changed = page.locator('li.step[data-task="inpaint"]').getByTestId('mask-changed');
  await expect(changed).toBeVisible();
  await page.keyboard.press('Control+z');
  await page.getByRole('button', { name: "Use this mask in the recipe's Inpaint step" }).click();
  await expect(page.getByText('The mask is now used by the Inpaint step of the recipe.')).toBeVisible();
  await expect(run).toHaveText('All photos done');
  await expect(changed).toHaveCount(0);

  // Run on selected, on a photo that whole Run made with these settings: said, not made again
  await row(page, a).getByRole('button', { name: /^a\.png, Done/ }).click();
  await page.getByRole('button', { name: 'Run on selected' }).click();
  await expect(page.getByText('Already done with these settings: the earlier result is shown.')).toBeVisible();
  const outputs = listFiles(path.join(dir, 'restored')).filter((f) => f.endsWith('.png')).map((f) => path.basename(f)).sort();
  expect(outputs).toEqual(['a-restored.png', 'b-restored.png']);
});

test('the lasso fills what it outlines (and with the eraser clears it), as one undoable edit', async ({ app: page, work }) => {
  await openMaskOn(page, path.join(work, 'wall.png'), { seed: 44, width: 400, height: 300 });
  await page.getByRole('button', { name: /^Lasso \(L\)/ }).click();
  await expect(page.getByRole('button', { name: /^Lasso \(L\)/ })).toHaveAttribute('aria-pressed', 'true');
  const pane = (await page.getByTestId('mask-pane').boundingBox())!;
  const zoom = Number(/([\d.]+) %/.exec((await page.getByTestId('mask-zoom').textContent()) ?? '')?.[1]) / 100; // the painter's zoom
  expect(zoom).toBeGreaterThan(0);
  // a square outline of 100 x 100 photo pixels around the pane's centre (the photo is fitted in the pane)
  const cx = pane.x + pane.width / 2;
  const cy = pane.y + pane.height / 2;
  const h = 50 * zoom;
  const outline = async () => {
    await page.mouse.move(cx - h, cy - h);
    await page.mouse.down();
    for (const [x, y] of [[cx + h, cy - h], [cx + h, cy + h], [cx - h, cy + h]]) await page.mouse.move(x, y, { steps: 6 });
    await expect(page.getByTestId('lasso-outline')).toBeVisible(); // drawn while the outline is made
    await page.mouse.up();
  };
  await outline();
  await expect(page.getByTestId('lasso-outline')).toHaveCount(0);
  // 100 x 100 of 400 x 300: 8.3 % (give or take the pixels along the outline's edge)
  await expect.poll(() => maskCoverage(page)).toBeGreaterThan(7.8);
  expect(await maskCoverage(page)).toBeLessThan(8.9);
  // the same outline with the eraser clears it again
  await page.getByRole('button', { name: 'Eraser', exact: true }).click();
  await outline();
  await expect.poll(() => maskCoverage(page)).toBe(0);
  // each outline was one edit
  await page.getByRole('button', { name: 'Undo (Ctrl+Z)' }).click();
  await expect.poll(() => maskCoverage(page)).toBeGreaterThan(7.8);
  await page.getByRole('button', { name: 'Undo (Ctrl+Z)' }).click();
  await expect.poll(() => maskCoverage(page)).toBe(0);
  await expect(page.getByRole('button', { name: 'Undo (Ctrl+Z)' })).toBeDisabled();
});
