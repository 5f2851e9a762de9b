/**
 * Where something is in a YAML file, for error messages: `projects/app.yml:12:7: runs[0].timeout`.
 * Positions come from the yaml library's node ranges (character offsets) turned into lines and
 * columns by its LineCounter; a path that does not exist in the file (a key that is missing) points at
 * the deepest part of it that does.
 */
import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { ConfigIssue } from '../../core/errors/index.ts';
import { formatPath } from '../../core/format-path.ts';

export type YamlPath = (string | number)[];

/** One parsed YAML file: what a message names it by, its document, and its line counter. */
export interface YamlSource {
  /** The file as the user knows it (relative to the working directory when it is under it). */
  name: string;
  doc: Document;
  lines: LineCounter;
}

/** The node at `path`, or the deepest ancestor that exists; `key` set when the path ends at a map's key. */
function nodeAt(doc: Document, path: YamlPath): Node | null {
  let node: unknown = doc.contents;
  let found: Node | null = isNode(node) ? node : null;
  for (const part of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(part));
      if (!pair) break;
      // A key without a value (`timeout:`) has no value node: point at its key.
      node = pair.value ?? pair.key;
      if (pair.value === null) {
        found = isNode(pair.key) ? pair.key : found;
        break;
      }
    } else if (isSeq(node) && typeof part === 'number') {
      const item: unknown = node.items[part];
      if (item === undefined) break;
      node = item;
    } else break;
    if (isNode(node)) found = node;
  }
  return found;
}

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && 'range' in v && Array.isArray(v.range);
}

/** The key `key` of the map at `path` (an unknown key is reported where it is written). */
function keyNode(doc: Document, path: YamlPath, key: string): Node | null {
  const map = nodeAt(doc, path);
  if (!isMap(map)) return null;
  const pair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
  return pair && isNode(pair.key) ? pair.key : null;
}

/** `file:line:column` of `path` (or of `key` in the map at `path`). */
export function positionOf(src: YamlSource, path: YamlPath, key?: string): string {
  const node = (key !== undefined ? keyNode(src.doc, path, key) : null) ?? nodeAt(src.doc, path);
  const { line, col } = src.lines.linePos(node?.range?.[0] ?? 0);
  return `${src.name}:${line}:${col}`;
}

/** A config issue placed in a YAML file: `file:line:column: path` and the message. */
export function yamlIssue(src: YamlSource, path: YamlPath, message: string, key?: string): ConfigIssue {
  const where = key !== undefined ? [...path, key] : path;
  const named = formatPath(where);
  return { path: `${positionOf(src, path, key)}${named ? `: ${named}` : ''}`, message };
}
