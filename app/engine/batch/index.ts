// Batch processing: expand dropped files/folders, run a recipe over them with a journal, resume.
// `createEngine` (app/engine/index.ts) delegates Engine.expand / Engine.runBatch to these.
export { expand, isImagePath, rootOf, IMAGE_EXTENSIONS, OUTPUT_DIR_NAME, JOURNAL_PREFIX, type ExpandOptions } from './expand.ts';
export { runBatch, isStaleTemp } from './run.ts';
export { journalKey, journalPath, reportPath, readJournal, hashFile, type JournalData, type JournalEntry } from './journal.ts';
export { EtaEstimator, median } from './eta.ts';
export { naturalOutput, numbered, outputExtension } from './naming.ts';
