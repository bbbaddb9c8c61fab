// The one tiler (aligned, overlapping, feathered tiles; reflect padding to the model's multiple).
export { axisWeights, effectiveTiling, planAxis, reflectIndex, runTiled, tileCount } from './tiler.ts';
export type { AxisPlan, PlaneSource, TileRunOptions, TileTensor } from './tiler.ts';
