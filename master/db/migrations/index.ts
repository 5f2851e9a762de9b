import { Initial1764000000001 } from './0001-initial.ts';

/** Every migration, oldest first. Add new ones at the end; never edit one that has shipped. */
export const migrations = [Initial1764000000001];
