// Image I/O: the only place pixels enter (decode) or leave (writer) the engine.
export { decode, decodeMask, displayCopy, probeImage, DEFAULT_MAX_PIXELS } from './decode.ts';
export type { DecodeOptions, ImageHeader } from './decode.ts';
export { writeImage, writeFileAtomic, encodeImage, resolveFormat, EXTENSION } from './writer.ts';
export type { WriteFormat, WriteImageOptions } from './writer.ts';
export { isInput, markInput } from './inputs.ts';
export { cropPlanes, interleavedToPlanar, planarToInterleaved, resizePlaneBilinear } from './pixels.ts';
export { sniff, RAW_EXTENSIONS } from './sniff.ts';
