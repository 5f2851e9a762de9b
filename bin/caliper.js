#!/usr/bin/env node
// Entry point of the `caliper` command: the library compiled to JavaScript in dist/ (npm run build).
// The agent command goes straight to the agent program (agent/main.ts bundled into one file), so an
// agent process loads neither the master's modules nor a TypeScript loader; the master loads tsx
// only to import master.config.ts.
// In a source checkout, bin/caliper-dev.js runs the TypeScript sources instead.
const [command, ...args] = process.argv.slice(2);
const entry = command === 'agent' ? '../dist/agent/caliper-agent.js' : '../dist/master/cli.js';
let loaded;
try {
  loaded = await import(entry);
} catch (e) {
  if (e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes(new URL(entry, import.meta.url).pathname)) {
    console.error(`caliper: ${new URL(entry, import.meta.url).pathname} is missing: this checkout is not built (run "npm run build")`);
    process.exit(1);
  }
  throw e;
}
if (command === 'agent') await loaded.agentCommand(args);
