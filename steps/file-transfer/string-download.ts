/**
 * Downloads of content the master renders: StringDownload (a string), JSONStringDownload (a value
 * as JSON) and JSONPropertiesDownload (the build's properties and source, as Buildbot writes them).
 */
import { z } from 'zod';
import { render, type PropertyReader, type Renderable } from '../properties/interpolate.ts';
import type { Properties } from '../properties/properties.ts';
import { renderableString } from '../properties/renderable-schema.ts';
import { renderPropertyValue, renderableValue, type RenderableValue } from '../set-property.ts';
import type { StepContext } from '../step-context.ts';
import { commonStepShape, Step, type CommonStepOptions, type StepOutcome } from '../step.ts';
import { refuse, renderPath, TRANSFER_FLAGS, transferOutcome, transferPath, transferShape } from './transfer-options.ts';

interface ContentDownloadOptions extends CommonStepOptions {
  /** Where on the agent, relative to the step's workdir. */
  workerdest: Renderable<string>;
  workdir?: string;
  /** Permission bits of the file, e.g. 0o755. */
  mode?: number | null;
}

const contentShape = { ...commonStepShape, workdir: transferShape.workdir, mode: transferShape.mode, workerdest: transferPath };

/** The steps that send content the master makes: `content()` renders it, the rest is the same. */
abstract class ContentDownload<O extends ContentDownloadOptions> extends Step<O> {
  protected override readonly defaultFlags = TRANSFER_FLAGS;

  protected abstract content(props: Properties): Promise<string>;

  async run(ctx: StepContext): Promise<StepOutcome> {
    const workerdest = await renderPath(this.options.workerdest, ctx.properties, 'workerdest');
    if (typeof workerdest !== 'string') return refuse(ctx, 'download', workerdest.error);
    const content = Buffer.from(await this.content(ctx.properties));
    const result = await ctx.downloadToAgent({
      workdir: this.options.workdir ?? 'build',
      workerdest,
      source: { content },
      mode: this.options.mode ?? null,
      maxsize: null,
    });
    return transferOutcome(result, `downloaded ${workerdest}`);
  }
}

export interface StringDownloadOptions extends ContentDownloadOptions {
  /** The file's content: a string, interpolate(...) or a function of the properties. */
  s: Renderable<string>;
}

/** Writes a (rendered) string into a file on the agent (Buildbot's StringDownload). */
export class StringDownload extends ContentDownload<StringDownloadOptions> {
  readonly schema: z.ZodType = z.strictObject({ ...contentShape, s: renderableString });

  protected async content(props: PropertyReader): Promise<string> {
    return String(await render(this.options.s, props));
  }
}

export interface JSONStringDownloadOptions extends ContentDownloadOptions {
  /** The value written as JSON; renderables inside it are rendered first. */
  o: RenderableValue;
}

/** Writes a (rendered) value as JSON into a file on the agent (Buildbot's JSONStringDownload). */
export class JSONStringDownload extends ContentDownload<JSONStringDownloadOptions> {
  readonly schema: z.ZodType = z.strictObject({ ...contentShape, o: renderableValue });

  protected async content(props: PropertyReader): Promise<string> {
    return JSON.stringify(await renderPropertyValue(this.options.o, props));
  }
}

export type JSONPropertiesDownloadOptions = ContentDownloadOptions;

const SOURCE_ATTRIBUTES = ['codebase', 'repository', 'branch', 'revision', 'project'] as const;

/**
 * Writes `{"properties": {...}, "sourcestamps": [...]}` into a file on the agent, as Buildbot's
 * JSONPropertiesDownload: every build property's value, and the build's source (a Caliper build has
 * one: the properties codebase, repository, branch, revision and project), or none.
 */
export class JSONPropertiesDownload extends ContentDownload<JSONPropertiesDownloadOptions> {
  readonly schema: z.ZodType = z.strictObject(contentShape);

  protected async content(props: Properties): Promise<string> {
    const properties = Object.fromEntries(Object.entries(props.toJSON()).map(([name, [value]]) => [name, value]));
    const hasSource = props.has('repository') || props.has('revision');
    const sourcestamp = Object.fromEntries(SOURCE_ATTRIBUTES.map((a) => [a, props.has(a) ? props.get(a) : a === 'codebase' ? '' : null]));
    return JSON.stringify({ properties, sourcestamps: hasSource ? [sourcestamp] : [] });
  }
}
