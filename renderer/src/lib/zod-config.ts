// Imported first by main.ts, before any schema is used: zod would otherwise probe for eval
// (new Function) to compile fast parsers, which the strict CSP forbids and reports as a violation.
import { z } from 'zod';

z.config({ jitless: true });
