// A batch in its own process, for the kill -9 test: `node --import tsx batch-child.ts '<json>'`
// with { files, out, tileDelayMs }. Prints one line per finished file ("done <input>") on stdout.
import { runBatch } from '../run.ts';
import { fakeCore } from './fake-core.ts';

const args = JSON.parse(process.argv[2] ?? '{}') as { files: string[]; out?: string; tileDelayMs?: number; suffix?: string };
const core = fakeCore({ tileDelayMs: args.tileDelayMs ?? 0 });
const report = await runBatch(core, {
  files: args.files,
  recipe: [{ task: 'denoise', sigma: 10 }],
  output: { dir: args.out, suffix: args.suffix ?? '' },
  onEvent: (name, payload) => {
    if (name === 'file.progress') {
      const p = payload as { status: string; input: string };
      if (p.status === 'done') process.stdout.write(`done ${p.input}\n`);
    }
  },
});
process.stdout.write(`report ${JSON.stringify({ done: report.done, skipped: report.skipped, failed: report.failed })}\n`);
