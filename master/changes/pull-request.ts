/**
 * Builds of pull requests from forks get no secrets. Such a build runs code the fork's author wrote
 * (the steps run the checked-out tree's scripts, tests and build files), and anyone can open a pull
 * request: a secret handed to it is handed to them. A builder opts in with `secretsForForks: true`
 * (for secrets that are harmless to leak, or a repository whose forks are all trusted).
 *
 * The decision is made once, from the properties the build starts with, so nothing a step sets
 * later (from the fork's own output) can change it.
 */
import { CaliperError } from '../../core/errors/caliper-error.ts';
import { pullRequestNumber, pullRequestOfBranch } from '../../steps/git-refs.ts';
import type { PropertyValue, SecretSource } from '../../steps/properties/properties.ts';

/** `%(secret:NAME)s` in a build that gets no secrets: its step fails, saying why. */
export class SecretsWithheldError extends CaliperError {
  readonly code = 'SECRETS_WITHHELD';

  constructor(readonly builder: string) {
    super(`secrets are not given to builds of pull requests from forks; set secretsForForks: true on builder ${builder} to allow`, {
      builder,
    });
  }
}

/** A pull request's build: a `pr_number`, or a branch `refs/pull/N/head` (as GitHub's hook sets it). */
export function isPullRequest(properties: Readonly<Record<string, PropertyValue>>): boolean {
  const branch = properties.branch;
  return pullRequestNumber(properties.pr_number) !== null || (typeof branch === 'string' && pullRequestOfBranch(branch) !== null);
}

/**
 * A pull request whose head is not known to live in the base repository: `head_repository` differs
 * from `repository`, or is missing (a deleted fork, a build triggered without it), which counts as a
 * fork since nothing says otherwise.
 */
export function isFromFork(properties: Readonly<Record<string, PropertyValue>>): boolean {
  if (!isPullRequest(properties)) return false;
  const head = properties.head_repository;
  return typeof head !== 'string' || head === '' || head !== properties.repository;
}

/** The secrets a build with these starting properties may render. */
export function secretsForBuild(
  builder: { name: string; secretsForForks: boolean },
  properties: Readonly<Record<string, PropertyValue>>,
  secrets: Readonly<Record<string, string>>,
): SecretSource {
  if (builder.secretsForForks || !isFromFork(properties)) return secrets;
  return () => {
    throw new SecretsWithheldError(builder.name);
  };
}
