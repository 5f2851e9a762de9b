#!/usr/bin/env node
// The `caliper` command run from the TypeScript sources of a checkout (tsx compiles them as they
// load): what the tests and development use, never stale, where dist/ (bin/caliper.js) may be.
// Not shipped in the package.
import { register } from 'tsx/esm/api';

register();
const [command, ...args] = process.argv.slice(2);
if (command === 'agent') await (await import('../agent/main.ts')).agentCommand(args);
else await import('../master/cli.ts');
