/**
 * A change: something that happened in a repository (a commit, usually, or a pull request's new
 * head). Changes come from change sources (gitPoller), GitHub's hook or `POST /api/v2/changes`;
 * change schedulers turn them into build requests.
 */
import { z } from 'zod';

import { refName, revisionId } from '../../steps/git-refs.ts';
import { propertyValueSchema, type PropertyValue } from '../../steps/properties/properties.ts';
import type { ChangeRow } from '../db/entities.ts';

export const changeInputSchema = z.strictObject({
  repository: z.string().min(1).max(500),
  branch: refName.nullable().optional(),
  revision: revisionId,
  author: z.string().max(500).default(''),
  comments: z.string().max(100_000).default(''),
  files: z.array(z.string().max(1000)).max(10_000).default([]),
  project: z.string().max(200).default(''),
  category: z.string().max(200).nullable().optional(),
  /** When the change was made, epoch seconds (as the API shows times); default: when it was received. */
  when_timestamp: z.number().min(0).max(1e11).optional(),
  /**
   * Given to the builds of the change (a pull request's `pr_number`, `base_branch`, …) and read by
   * change filters (`baseBranch`). Not stored with the change yet: a change a tree-stable timer held
   * when its master was killed is offered again without them.
   */
  properties: z.record(z.string().min(1).max(100), propertyValueSchema).optional(),
});
export type ChangeInput = z.output<typeof changeInputSchema>;

/** A stored change as change schedulers see it: its row and the properties it came with. */
export type OfferedChange = Omit<ChangeRow, 'properties'> & { properties: Record<string, PropertyValue> };
