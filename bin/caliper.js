#!/usr/bin/env node
// Entry point of the `caliper` command: registers tsx so the TypeScript sources and the user's
// master.config.ts load without a separate build step, then runs the CLI.
import { register } from 'tsx/esm/api';

register();
await import('../master/cli.ts');
