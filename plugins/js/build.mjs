// Builds each handler in this folder into a Wasm component for Roster's `handler` world.
//   node build.mjs OUT_DIR
// With every optional feature disabled the components import no WASI at all: only
// roster:coordination's own interfaces.
import { componentize } from '@bytecodealliance/componentize-js';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, 'out');
await mkdir(out, { recursive: true });

for (const name of ['hash-ring']) {
  const { component } = await componentize({
    sourcePath: join(here, `${name}.js`),
    witPath: join(here, '..', '..', 'wit'),
    worldName: 'roster:coordination/handler',
    disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
  });
  await writeFile(join(out, `js-${name}.wasm`), component);
}
