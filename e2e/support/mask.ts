// Painting in the mask view, as the e2e tests do it: one stroke across the pane, and the coverage it reports.
import path from 'node:path';
import type { Page } from '@playwright/test';
import { addPath, expect } from './fixtures.ts';
import { makePhoto, type PhotoOptions } from './photos.ts';

/** A new photo `file` (made by makePhoto), added to the queue and open in the mask view, its mask laid out. */
export async function openMaskOn(page: Page, file: string, photo: PhotoOptions & { width: number }): Promise<void> {
  await makePhoto(file, photo);
  await addPath(page, file);
  await page.getByRole('button', { name: `Paint a mask on ${path.basename(file)}` }).click();
  await expect(page.getByTestId('mask-canvas')).toHaveAttribute('width', String(photo.width));
}

/** The share of the photo the mask covers, in %, as the mask view says it. */
export async function maskCoverage(page: Page): Promise<number> {
  const t = (await page.getByTestId('mask-coverage').textContent()) ?? '';
  return Number(/covers ([\d.]+)/.exec(t)?.[1] ?? NaN);
}

/**
 * One stroke with the mouse across the mask pane: from `half` px left of its centre to `half` px right,
 * shifted by (dx, dy), rising `rise` px, in `steps` moves.
 */
export async function strokeAcross(page: Page, o: { half: number; dx?: number; dy?: number; rise?: number; steps: number }): Promise<void> {
  const box = (await page.getByTestId('mask-pane').boundingBox())!;
  const cx = box.x + box.width / 2 + (o.dx ?? 0);
  const cy = box.y + box.height / 2 + (o.dy ?? 0);
  await page.mouse.move(cx - o.half, cy);
  await page.mouse.down();
  await page.mouse.move(cx + o.half, cy + (o.rise ?? 0), { steps: o.steps });
  await page.mouse.up();
}
